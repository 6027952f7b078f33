//! `-m conntrack` (revision 3): `--ctstate`, `--ctproto`, `--ctorigsrc`,
//! `--ctorigdst`, `--ctreplsrc`, `--ctrepldst`, `--ctorigsrcport`,
//! `--ctorigdstport`, `--ctreplsrcport`, `--ctrepldstport`, `--ctstatus`,
//! `--ctexpire`, `--ctdir`.
//!
//! Addresses are kept masked (`10.1.2.3/8` is `10.0.0.0/8`), as everywhere
//! in the model; the kernel compares them under the mask, so the meaning is
//! the same, but iptables-save would print the host bits back.

use super::esp::parse_u32_range;
use super::state::{parse_states, save_states};
use crate::iptables::cmd::parse_net;
use crate::iptables::ext::*;
use rampart_model::matches::conntrack::{Conntrack, CtDir, CtStates, CtStatus};
use rampart_model::IpNet;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "conntrack",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["ctstate"], Arity::One),
        OptSpec::new(&["ctproto"], Arity::One),
        OptSpec::new(&["ctorigsrc"], Arity::One),
        OptSpec::new(&["ctorigdst"], Arity::One),
        OptSpec::new(&["ctreplsrc"], Arity::One),
        OptSpec::new(&["ctrepldst"], Arity::One),
        OptSpec::new(&["ctorigsrcport"], Arity::One),
        OptSpec::new(&["ctorigdstport"], Arity::One),
        OptSpec::new(&["ctreplsrcport"], Arity::One),
        OptSpec::new(&["ctrepldstport"], Arity::One),
        OptSpec::new(&["ctstatus"], Arity::One),
        OptSpec::new(&["ctexpire"], Arity::One),
        OptSpec::new(&["ctdir"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    if opts.is_empty() {
        return Err(cx
            .error("`conntrack` needs at least one option")
            .with_help("e.g. `-m conntrack --ctstate ESTABLISHED,RELATED`"));
    }
    let mut m = Conntrack::default();
    for o in opts {
        let arg = o.arg();
        match o.name {
            "ctstate" => {
                m.state = Some(neg(o, parse_states(&arg, "ctstate", &CtStates::NAMES)?));
            }
            "ctproto" => {
                let p = Protocol::parse(&arg.text).ok_or_else(|| {
                    RuleError::new(arg.span, format!("unknown protocol `{}`", arg.text))
                })?;
                if p.0 == 0 {
                    let msg = if o.invert {
                        "`! --ctproto 0` would always match"
                    } else {
                        "`--ctproto 0` would never match"
                    };
                    return Err(RuleError::new(arg.span, msg)
                        .with_help("leave `--ctproto` out to match every protocol"));
                }
                m.proto = Some(neg(o, p));
            }
            "ctorigsrc" => m.orig_src = Some(neg(o, parse_addr(&arg, cx.family)?)),
            "ctorigdst" => m.orig_dst = Some(neg(o, parse_addr(&arg, cx.family)?)),
            "ctreplsrc" => m.repl_src = Some(neg(o, parse_addr(&arg, cx.family)?)),
            "ctrepldst" => m.repl_dst = Some(neg(o, parse_addr(&arg, cx.family)?)),
            "ctorigsrcport" => m.orig_src_port = Some(neg(o, parse_port_range(&arg)?)),
            "ctorigdstport" => m.orig_dst_port = Some(neg(o, parse_port_range(&arg)?)),
            "ctreplsrcport" => m.repl_src_port = Some(neg(o, parse_port_range(&arg)?)),
            "ctrepldstport" => m.repl_dst_port = Some(neg(o, parse_port_range(&arg)?)),
            "ctstatus" => m.status = Some(neg(o, parse_status(&arg)?)),
            "ctexpire" => m.expire = Some(neg(o, parse_u32_range(&arg, "expiry")?)),
            "ctdir" => {
                o.check_invert(false).map_err(|e| {
                    e.with_help("write `--ctdir REPLY` instead of `! --ctdir ORIGINAL`")
                })?;
                m.dir = Some(match arg.text.to_ascii_uppercase().as_str() {
                    "ORIGINAL" => CtDir::Original,
                    "REPLY" => CtDir::Reply,
                    _ => {
                        return Err(RuleError::new(
                            arg.span,
                            format!("bad `--ctdir` value `{}`", arg.text),
                        )
                        .with_help("use ORIGINAL or REPLY"))
                    }
                });
            }
            _ => {}
        }
    }
    Ok(Match::Conntrack(m))
}

fn neg<T>(o: &OptOcc, v: T) -> Neg<T> {
    Neg::inverted(v, o.invert)
}

/// One address with an optional prefix length or mask; no lists.
fn parse_addr(tok: &Token, family: Family) -> Result<IpNet, RuleError> {
    if tok.text.contains(',') {
        return Err(RuleError::new(tok.span, "only one address is allowed here"));
    }
    parse_net(&tok.text, tok.span, family)
}

/// `NONE|EXPECTED|SEEN_REPLY|ASSURED|CONFIRMED[,...]`, case-insensitive
/// prefixes as iptables accepts them.
fn parse_status(tok: &Token) -> Result<CtStatus, RuleError> {
    const NAMES: [&str; 5] = ["NONE", "EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED"];
    let mut s = CtStatus::default();
    for part in tok.text.split(',') {
        let upper = part.to_ascii_uppercase();
        let name = NAMES
            .iter()
            .find(|n| !upper.is_empty() && n.starts_with(upper.as_str()))
            .ok_or_else(|| {
                RuleError::new(tok.span, format!("bad ctstatus `{part}`"))
                    .with_help(format!("statuses are {}", NAMES.join(", ")))
            })?;
        if let Some(flag) = s.flag_mut(name) {
            *flag = true;
        }
    }
    Ok(s)
}

/// An address as conntrack prints it: the prefix is left out for a host.
fn addr_text(n: &IpNet) -> String {
    if n.is_host() {
        n.addr().to_string()
    } else {
        n.to_string()
    }
}

pub(crate) fn save(m: &Conntrack, _: &SaveCtx, out: &mut String) {
    if let Some(s) = &m.state {
        save_opt(out, s.invert, "ctstate");
        save_states(out, &s.value);
    }
    if let Some(p) = m.proto {
        save_opt_val(out, p.invert, "ctproto", p.value.0);
    }
    for (name, a) in [
        ("ctorigsrc", &m.orig_src),
        ("ctorigdst", &m.orig_dst),
        ("ctreplsrc", &m.repl_src),
        ("ctrepldst", &m.repl_dst),
    ] {
        if let Some(a) = a {
            save_opt_val(out, a.invert, name, addr_text(&a.value));
        }
    }
    for (name, p) in [
        ("ctorigsrcport", &m.orig_src_port),
        ("ctorigdstport", &m.orig_dst_port),
        ("ctreplsrcport", &m.repl_src_port),
        ("ctrepldstport", &m.repl_dst_port),
    ] {
        if let Some(p) = p {
            save_opt_val(out, p.invert, name, p.value);
        }
    }
    if let Some(s) = &m.status {
        save_opt(out, s.invert, "ctstatus");
        let names = s.value.names();
        out.push(' ');
        out.push_str(&if names.is_empty() {
            "NONE".to_string()
        } else {
            names.join(",")
        });
    }
    if let Some(e) = m.expire {
        save_opt_val(out, e.invert, "ctexpire", e.value);
    }
    if let Some(d) = m.dir {
        save_opt_val(out, false, "ctdir", d.name());
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::{roundtrip, roundtrip6};

    #[test]
    fn prints_in_iptables_order() {
        assert_eq!(
            roundtrip(
                "-m conntrack --ctdir reply --ctexpire 5:9 --ctstatus none,assured \
                 ! --ctproto udp --ctorigsrc 10.0.0.0/8 --ctstate est,n --ctrepldstport ssh"
            ),
            Ok(
                "-m conntrack --ctstate NEW,ESTABLISHED ! --ctproto 17 --ctorigsrc 10.0.0.0/8 \
                --ctrepldstport 22 --ctstatus ASSURED --ctexpire 5:9 --ctdir REPLY"
                    .into()
            )
        );
        assert_eq!(
            roundtrip("-m conntrack --ctstatus NONE"),
            Ok("-m conntrack --ctstatus NONE".into())
        );
        assert_eq!(
            roundtrip6("-m conntrack ! --ctorigdst 2001:db8::/32"),
            Ok("-m conntrack ! --ctorigdst 2001:db8::/32".into())
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            roundtrip("-m conntrack --ctexpire 010"),
            Ok("-m conntrack --ctexpire 8".into())
        );
        assert_eq!(
            roundtrip("-m conntrack --ctorigsrcport :"),
            Ok("-m conntrack --ctorigsrcport 0:65535".into())
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "--ctproto 0",
            "! --ctproto 0",
            "! --ctdir REPLY",
            "--ctdir up",
            "--ctstate NEW,",
            "--ctstate wrong",
            "--ctstatus ''",
            "--ctexpire 4:3",
            "--ctorigsrc 1.1.1.1,2.2.2.2",
            "--ctorigsrc 2001:db8::1",
            "--ctstate NEW --ctstate INVALID",
        ] {
            assert!(roundtrip(&format!("-m conntrack {bad}")).is_err(), "{bad}");
        }
    }
}
