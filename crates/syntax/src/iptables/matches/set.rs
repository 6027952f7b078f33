//! `-m set` (revision 4): `[!] --match-set NAME src,dst,...`,
//! `--return-nomatch`, `! --update-counters`, `! --update-subcounters`,
//! `[!] --packets-eq N`, `--packets-lt N`, `--packets-gt N` and the same for
//! bytes.
//!
//! Whether the set exists (and has as many dimensions as flags) is kernel
//! state: iptables asks the kernel while parsing. rampart checks it later,
//! against the sets of the policy.

use crate::iptables::ext::*;
use rampart_model::matches::set::{CounterCond, CounterOp, SetDir, SetMatch};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "set",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["match-set", "set"], Arity::Two),
        OptSpec::new(&["return-nomatch"], Arity::None),
        OptSpec::new(&["update-counters"], Arity::None),
        OptSpec::new(&["update-subcounters"], Arity::None),
        OptSpec::new(&["packets-eq"], Arity::One),
        OptSpec::new(&["packets-lt"], Arity::One),
        OptSpec::new(&["packets-gt"], Arity::One),
        OptSpec::new(&["bytes-eq"], Arity::One),
        OptSpec::new(&["bytes-lt"], Arity::One),
        OptSpec::new(&["bytes-gt"], Arity::One),
    ],
    build,
};

/// `IPSET_MAXNAMELEN - 1`.
const MAX_NAME: usize = 31;
/// `IPSET_DIM_MAX`.
const DIM_MAX: usize = 6;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    let mut set: Option<(bool, String, Vec<SetDir>)> = None;
    let mut m = SetMatch {
        invert: false,
        set: String::new(),
        dirs: Vec::new(),
        return_nomatch: false,
        update_counters: true,
        update_subcounters: true,
        packets: None,
        bytes: None,
    };
    for o in opts {
        match o.name {
            "match-set" => {
                if set.is_some() {
                    return Err(RuleError::new(o.span, "`--match-set` given more than once")
                        .with_help("use a second `-m set` to match another set"));
                }
                let name = o.arg();
                let flags = o.arg2();
                if flags.text.starts_with('-') || flags.text.starts_with('!') {
                    return Err(RuleError::new(
                        flags.span,
                        "`--match-set` needs a set name and its flags",
                    )
                    .with_help("e.g. `--match-set blocklist src`"));
                }
                if name.text.is_empty() || name.text.len() > MAX_NAME {
                    return Err(RuleError::new(
                        name.span,
                        format!("set name must be 1 to {MAX_NAME} bytes"),
                    ));
                }
                set = Some((o.invert, name.text, parse_dirs(&flags)?));
            }
            "return-nomatch" => {
                o.check_invert(false)?;
                m.return_nomatch = true;
            }
            // Without `!` these only restate the default.
            "update-counters" => m.update_counters &= !o.invert,
            "update-subcounters" => m.update_subcounters &= !o.invert,
            _ => {
                let Some((what, op)) = o.name.split_once('-') else {
                    continue;
                };
                let op = match (op, o.invert) {
                    ("eq", false) => CounterOp::Eq,
                    ("eq", true) => CounterOp::Ne,
                    ("lt", false) => CounterOp::Lt,
                    ("gt", false) => CounterOp::Gt,
                    _ => {
                        return Err(RuleError::new(
                            o.span,
                            format!("option `--{}` cannot be inverted with `!`", o.name),
                        ))
                    }
                };
                let slot = if what == "packets" {
                    &mut m.packets
                } else {
                    &mut m.bytes
                };
                if slot.is_some() {
                    return Err(RuleError::new(
                        o.span,
                        format!(
                            "only one of `--{what}-eq`, `--{what}-lt`, `--{what}-gt` is allowed"
                        ),
                    ));
                }
                let value = parse_uint(&o.arg(), "counter value", 0, u64::MAX)?;
                *slot = Some(CounterCond { op, value });
            }
        }
    }
    let Some((invert, name, dirs)) = set else {
        return Err(cx
            .error("`-m set` needs `--match-set NAME FLAGS`")
            .with_help("e.g. `-m set --match-set blocklist src`"));
    };
    m.invert = invert;
    m.set = name;
    m.dirs = dirs;
    Ok(Match::SetMatch(m))
}

/// `src,dst,...`: 1 to 6 directions.
pub(crate) fn parse_dirs(tok: &Token) -> Result<Vec<SetDir>, RuleError> {
    let mut dirs = Vec::new();
    for part in tok.text.split(',') {
        let d = match part {
            "src" => SetDir::Src,
            "dst" => SetDir::Dst,
            _ => {
                return Err(
                    RuleError::new(tok.span, format!("invalid set flag `{part}`"))
                        .with_help("flags are a comma-separated list of `src` and `dst`"),
                )
            }
        };
        if dirs.len() == DIM_MAX {
            return Err(RuleError::new(
                tok.span,
                format!("more than {DIM_MAX} src/dst flags"),
            ));
        }
        dirs.push(d);
    }
    Ok(dirs)
}

/// ` src,dst,...`.
pub(crate) fn save_dirs(out: &mut String, dirs: &[SetDir]) {
    for (i, d) in dirs.iter().enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        out.push_str(d.name());
    }
}

fn save_counter(out: &mut String, what: &str, c: Option<CounterCond>) {
    let Some(c) = c else { return };
    let (invert, op) = match c.op {
        CounterOp::Eq => (false, "eq"),
        CounterOp::Ne => (true, "eq"),
        CounterOp::Lt => (false, "lt"),
        CounterOp::Gt => (false, "gt"),
    };
    save_opt_val(out, invert, &format!("{what}-{op}"), c.value);
}

pub(crate) fn save(m: &SetMatch, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, m.invert, "match-set", &m.set);
    save_dirs(out, &m.dirs);
    if m.return_nomatch {
        save_opt(out, false, "return-nomatch");
    }
    if !m.update_counters {
        save_opt(out, true, "update-counters");
    }
    if !m.update_subcounters {
        save_opt(out, true, "update-subcounters");
    }
    save_counter(out, "packets", m.packets);
    save_counter(out, "bytes", m.bytes);
}

#[cfg(test)]
mod tests {
    use super::super::limit::roundtrip;
    use super::*;

    fn v4(rule: &str) -> String {
        roundtrip(rule, Family::Ipv4).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn options_print_in_iptables_order() {
        assert_eq!(
            v4("-m set ! --packets-eq 3 --bytes-gt 10 ! --update-subcounters ! --match-set bl src,dst,src --return-nomatch ! --update-counters"),
            "-m set ! --match-set bl src,dst,src --return-nomatch ! --update-counters ! --update-subcounters ! --packets-eq 3 --bytes-gt 10"
        );
        assert_eq!(
            v4("-m set --set bl dst --update-counters"),
            "-m set --match-set bl dst"
        );
    }

    #[test]
    fn bad_lines() {
        for bad in [
            "-m set --match-set foo",
            "-m set --match-set foo src,dst,src,dst,src,dst,src",
            "-m set --match-set foo srcx",
            "-m set --match-set foo src ! --packets-lt 3",
            "-m set --match-set foo src --packets-lt 3 --packets-gt 1",
            "-m set --match-set foo src ! --return-nomatch",
            "-m set --match-set foo src --match-set bar dst",
            "-m set --return-nomatch",
            "-m set --match-set abcdefghijabcdefghijabcdefghij123 src",
        ] {
            assert!(v4(bad).starts_with("ERR"), "{bad}");
        }
    }
}
