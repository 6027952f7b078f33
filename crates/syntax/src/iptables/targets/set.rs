//! `-j SET`: `--add-set NAME DIRS [--exist] [--timeout N]`,
//! `--del-set NAME DIRS`, `--map-set NAME DIRS [--map-mark] [--map-prio]
//! [--map-queue]` (revision 3).
//!
//! iptables also asks the kernel whether each set exists; that is kernel
//! state, which rampart checks against the policy's sets elsewhere.

use crate::iptables::ext::*;
use rampart_model::targets::set::{SetDir, SetRef, SetTarget};

pub(crate) static EXT: TargetExt = TargetExt {
    name: "SET",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["add-set"], Arity::Two),
        OptSpec::new(&["del-set"], Arity::Two),
        OptSpec::new(&["exist"], Arity::None),
        OptSpec::new(&["timeout"], Arity::One),
        OptSpec::new(&["map-set"], Arity::Two),
        OptSpec::new(&["map-mark"], Arity::None),
        OptSpec::new(&["map-prio"], Arity::None),
        OptSpec::new(&["map-queue"], Arity::None),
    ],
    build,
};

/// Longest set name (`IPSET_MAXNAMELEN - 1`).
const NAME_MAX: usize = 31;
/// Most dimensions of a set element (`IPSET_DIM_MAX`).
const DIM_MAX: usize = 6;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    let mut t = SetTarget::default();
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "add-set" => t.add_set = Some(set_ref(o)?),
            "del-set" => t.del_set = Some(set_ref(o)?),
            "map-set" => t.map_set = Some(set_ref(o)?),
            "exist" => t.exist = true,
            "timeout" => {
                t.timeout =
                    Some(parse_uint(&o.arg(), "timeout", 0, u64::from(u32::MAX) - 1)? as u32)
            }
            "map-mark" => t.map_mark = true,
            "map-prio" => t.map_prio = true,
            _ => t.map_queue = true,
        }
    }
    if t.add_set.is_none() && t.del_set.is_none() && t.map_set.is_none() {
        return Err(cx
            .error("`SET` needs --add-set, --del-set or --map-set")
            .with_help("e.g. `-j SET --add-set blocklist src`"));
    }
    let misplaced = |name: &str, needs: &str| {
        let o = find(opts, name);
        o.map(|o| {
            RuleError::new(
                o.span,
                format!("`--{name}` can only be used with `--{needs}`"),
            )
        })
    };
    if t.add_set.is_none() {
        if let Some(e) = misplaced("exist", "add-set").or_else(|| misplaced("timeout", "add-set")) {
            return Err(e);
        }
    }
    if t.map_set.is_none() {
        for flag in ["map-mark", "map-prio", "map-queue"] {
            if let Some(e) = misplaced(flag, "map-set") {
                return Err(e);
            }
        }
    } else {
        if !(t.map_mark || t.map_prio || t.map_queue) {
            let o = find(opts, "map-set").map_or(cx.name_span, |o| o.span);
            return Err(RuleError::new(
                o,
                "`--map-set` needs --map-mark, --map-prio or --map-queue",
            ));
        }
        // Kernel checks of revision 3.
        if cx.table != TableKind::Mangle {
            return Err(cx.error(format!(
                "`--map-set` is only valid in the mangle table, not in `{}`",
                cx.table.name()
            )));
        }
        if t.map_prio || t.map_queue {
            cx.require_hook(&[Hook::Forward, Hook::Output, Hook::Postrouting])?;
        }
    }
    Ok(Target::SetTarget(t))
}

/// `NAME src,dst,...`.
fn set_ref(o: &OptOcc) -> Result<SetRef, RuleError> {
    let name = o.arg();
    let flags = o.arg2();
    if name.text.is_empty() || name.text.starts_with('-') || name.text == "!" {
        return Err(RuleError::new(
            o.span,
            format!("`--{}` needs a set name and a list of src/dst", o.name),
        ));
    }
    if name.text.len() > NAME_MAX {
        return Err(RuleError::new(
            name.span,
            format!(
                "set name `{}` is longer than {NAME_MAX} characters",
                name.text
            ),
        ));
    }
    if flags.text.starts_with('-') || flags.text == "!" || flags.text.is_empty() {
        return Err(RuleError::new(
            flags.span,
            format!(
                "`--{}` needs a comma list of src/dst after the set name",
                o.name
            ),
        )
        .with_help(format!("e.g. `--{} {} src`", o.name, name.text)));
    }
    let mut dirs = Vec::new();
    for word in flags.text.split(',') {
        dirs.push(match word {
            "src" => SetDir::Src,
            "dst" => SetDir::Dst,
            _ => {
                return Err(RuleError::new(
                    flags.span,
                    format!("`{word}` is neither `src` nor `dst`"),
                )
                .with_help("give a comma list of src and dst, one per set dimension"))
            }
        });
    }
    if dirs.len() > DIM_MAX {
        return Err(RuleError::new(
            flags.span,
            format!("a set element has at most {DIM_MAX} src/dst dimensions"),
        ));
    }
    Ok(SetRef {
        name: name.text.clone(),
        dirs,
    })
}

fn save_ref(out: &mut String, opt: &str, r: &Option<SetRef>) {
    if let Some(r) = r {
        let dirs: Vec<&str> = r
            .dirs
            .iter()
            .map(|d| match d {
                SetDir::Src => "src",
                SetDir::Dst => "dst",
            })
            .collect();
        save_opt_val(out, false, opt, &r.name);
        out.push(' ');
        out.push_str(&dirs.join(","));
    }
}

pub(crate) fn save(t: &SetTarget, _: &SaveCtx, out: &mut String) {
    save_ref(out, "add-set", &t.add_set);
    if t.exist {
        save_opt(out, false, "exist");
    }
    if let Some(n) = t.timeout {
        save_opt_val(out, false, "timeout", n);
    }
    save_ref(out, "del-set", &t.del_set);
    save_ref(out, "map-set", &t.map_set);
    for (on, name) in [
        (t.map_mark, "map-mark"),
        (t.map_prio, "map-prio"),
        (t.map_queue, "map-queue"),
    ] {
        if on {
            save_opt(out, false, name);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    use crate::diag::Span;

    fn occ(name: &'static str, args: &[&str]) -> OptOcc {
        OptOcc {
            name,
            invert: false,
            args: args
                .iter()
                .map(|a| Token::new(*a, Span::new(0, 0)))
                .collect(),
            span: Span::new(0, 0),
        }
    }

    fn cx(table: TableKind) -> RuleCtx<'static> {
        RuleCtx {
            family: Family::Ipv4,
            table,
            chain: "FORWARD",
            hook: Some(Hook::Forward),
            protocol: None,
            name: "SET",
            name_span: Span::new(0, 0),
        }
    }

    #[test]
    fn round_trip_order() {
        let t = build(
            &[
                occ("timeout", &["10"]),
                occ("del-set", &["b", "dst"]),
                occ("add-set", &["a", "src,dst"]),
                occ("exist", &[]),
            ],
            &cx(TableKind::Filter),
        )
        .unwrap();
        let Target::SetTarget(t) = t else {
            unreachable!("SET builds a SetTarget")
        };
        let mut s = String::new();
        save(
            &t,
            &SaveCtx {
                family: Family::Ipv4,
            },
            &mut s,
        );
        assert_eq!(
            s,
            " --add-set a src,dst --exist --timeout 10 --del-set b dst"
        );
    }

    #[test]
    fn flags_need_their_set() {
        let f = cx(TableKind::Filter);
        assert!(build(&[occ("del-set", &["b", "dst"]), occ("exist", &[])], &f).is_err());
        assert!(build(&[occ("add-set", &["b", "src,dport"])], &f).is_err());
        assert!(build(&[occ("add-set", &["b", "src,src,src,src,src,src,src"])], &f).is_err());
        assert!(build(&[occ("map-set", &["m", "src"])], &cx(TableKind::Mangle)).is_err());
        assert!(build(&[occ("map-set", &["m", "src"]), occ("map-mark", &[])], &f).is_err());
        assert!(build(
            &[occ("map-set", &["m", "src"]), occ("map-mark", &[])],
            &cx(TableKind::Mangle)
        )
        .is_ok());
    }
}
