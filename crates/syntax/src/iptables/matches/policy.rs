//! `-m policy`: `--dir in|out`, `--pol none|ipsec`, `--strict`, and policy
//! elements made of `[!] --reqid`, `[!] --spi`, `[!] --proto`, `[!] --mode`,
//! `[!] --tunnel-src`, `[!] --tunnel-dst`, separated by `--next`.

use crate::diag::Span;
use crate::iptables::ext::*;
use rampart_model::matches::policy::{
    HostMask, IpsecMode, IpsecPolicy, IpsecProto, PolicyDir, PolicyElem, PolicyKind,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "policy",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["dir"], Arity::One),
        OptSpec::new(&["pol"], Arity::One),
        OptSpec::new(&["strict"], Arity::None),
        OptSpec::new(&["reqid"], Arity::One),
        OptSpec::new(&["spi"], Arity::One),
        OptSpec::new(&["proto"], Arity::One),
        OptSpec::new(&["mode"], Arity::One),
        OptSpec::new(&["tunnel-src"], Arity::One),
        OptSpec::new(&["tunnel-dst"], Arity::One),
        OptSpec::new(&["next"], Arity::None),
    ],
    build,
};

/// `XT_POLICY_MAX_ELEM`.
const MAX_ELEMS: usize = 4;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    let mut m = IpsecPolicy::default();
    let mut dir = None;
    let mut pol_seen = None;
    let mut strict_seen = None;
    let mut next_seen: Option<&OptOcc> = None;
    let mut elems = vec![PolicyElem::default()];
    for o in opts {
        let once = |seen: &mut Option<Span>| -> Result<(), RuleError> {
            if seen.replace(o.span).is_some() {
                return Err(RuleError::new(
                    o.span,
                    format!("option `--{}` given more than once", o.name),
                ));
            }
            Ok(())
        };
        match o.name {
            "dir" | "pol" | "strict" | "next" => o.check_invert(false)?,
            _ => {}
        }
        // `elems` always has at least one element; `last_mut` cannot fail.
        let Some(e) = elems.last_mut() else { break };
        let dup = match o.name {
            "dir" => {
                let tok = o.arg();
                let d = match tok.text.as_str() {
                    "in" => PolicyDir::In,
                    "out" => PolicyDir::Out,
                    t => {
                        return Err(RuleError::new(tok.span, format!("invalid direction `{t}`"))
                            .with_help("use `--dir in` or `--dir out`"))
                    }
                };
                dir.replace((d, o.span)).is_some()
            }
            "pol" => {
                let tok = o.arg();
                m.pol = match tok.text.as_str() {
                    "none" => PolicyKind::None,
                    "ipsec" => PolicyKind::Ipsec,
                    t => {
                        return Err(RuleError::new(tok.span, format!("invalid policy `{t}`"))
                            .with_help("use `--pol none` or `--pol ipsec`"))
                    }
                };
                once(&mut pol_seen).map(|_| false)?
            }
            "strict" => {
                m.strict = true;
                once(&mut strict_seen).map(|_| false)?
            }
            "reqid" => {
                let v = parse_u32(&o.arg(), "reqid")?;
                e.reqid.replace(Neg::inverted(v, o.invert)).is_some()
            }
            "spi" => {
                let v = parse_u32(&o.arg(), "SPI")?;
                e.spi.replace(Neg::inverted(v, o.invert)).is_some()
            }
            "proto" => {
                let p = parse_proto(&o.arg())?;
                e.proto.replace(Neg::inverted(p, o.invert)).is_some()
            }
            "mode" => {
                let tok = o.arg();
                let mode = match tok.text.as_str() {
                    "transport" => IpsecMode::Transport,
                    "tunnel" => IpsecMode::Tunnel,
                    t => {
                        return Err(RuleError::new(tok.span, format!("invalid mode `{t}`"))
                            .with_help("use `--mode transport` or `--mode tunnel`"))
                    }
                };
                e.mode.replace(Neg::inverted(mode, o.invert)).is_some()
            }
            "tunnel-src" => {
                let a = parse_hostmask(&o.arg(), cx.family)?;
                e.tunnel_src.replace(Neg::inverted(a, o.invert)).is_some()
            }
            "tunnel-dst" => {
                let a = parse_hostmask(&o.arg(), cx.family)?;
                e.tunnel_dst.replace(Neg::inverted(a, o.invert)).is_some()
            }
            "next" => {
                if elems.len() == MAX_ELEMS {
                    return Err(RuleError::new(
                        o.span,
                        format!("a policy has at most {MAX_ELEMS} elements"),
                    ));
                }
                next_seen = Some(o);
                elems.push(PolicyElem::default());
                false
            }
            _ => false,
        };
        if dup {
            return Err(RuleError::new(
                o.span,
                format!(
                    "option `--{}` given more than once{}",
                    o.name,
                    if o.name == "dir" {
                        ""
                    } else {
                        " in one policy element"
                    }
                ),
            )
            .with_help(if o.name == "dir" {
                "give `--dir` once"
            } else {
                "separate policy elements with `--next` (needs `--strict`)"
            }));
        }
    }
    let Some((d, dir_span)) = dir else {
        return Err(cx
            .error("`-m policy` needs `--dir in` or `--dir out`")
            .with_help("for example `-m policy --dir in --pol ipsec`"));
    };
    m.dir = d;
    if let Some(n) = next_seen.filter(|_| !m.strict) {
        return Err(RuleError::new(n.span, "`--next` needs `--strict`")
            .with_help("add `--strict`: several elements must match the policy in order"));
    }
    if m.pol == PolicyKind::None {
        if let Some(s) = strict_seen {
            return Err(RuleError::new(
                s,
                "`--strict` cannot be used with `--pol none`",
            ));
        }
        if let Some(n) = next_seen {
            return Err(RuleError::new(
                n.span,
                "policy elements cannot be used with `--pol none`",
            ));
        }
        // iptables keeps no element for `--pol none`: element options given
        // with it are dropped, as iptables drops them.
        elems.clear();
    }
    for (i, e) in elems.iter().enumerate() {
        let empty = e.reqid.is_none()
            && e.spi.is_none()
            && e.proto.is_none()
            && e.mode.is_none()
            && e.tunnel_src.is_none()
            && e.tunnel_dst.is_none();
        if m.strict && empty {
            return Err(cx
                .error(format!("policy element {i} is empty, but `--strict` is in effect"))
                .with_help("give at least one of --reqid, --spi, --proto, --mode, --tunnel-src, --tunnel-dst"));
        }
        // Without --mode the kernel reads the element as transport mode.
        let tunnel = match e.mode {
            Some(Neg {
                value: IpsecMode::Tunnel,
                invert,
            }) => !invert,
            Some(Neg {
                value: IpsecMode::Transport,
                invert,
            }) => invert,
            None => false,
        };
        if (e.tunnel_src.is_some() || e.tunnel_dst.is_some()) && !tunnel {
            let span = opts
                .iter()
                .find(|o| o.name.starts_with("tunnel-"))
                .map_or(cx.name_span, |o| o.span);
            return Err(RuleError::new(
                span,
                "`--tunnel-src`/`--tunnel-dst` are only valid in tunnel mode",
            )
            .with_help("add `--mode tunnel` to the same policy element"));
        }
    }
    m.elements = elems;
    // Decapsulation policies exist on the way in, encapsulation ones on
    // the way out.
    let bad: &[Hook] = match m.dir {
        PolicyDir::In => &[Hook::Output, Hook::Postrouting],
        PolicyDir::Out => &[Hook::Prerouting, Hook::Input],
    };
    if let Some(h) = cx.hook.filter(|h| bad.contains(h)) {
        return Err(RuleError::new(
            dir_span,
            format!(
                "`--dir {}` cannot be used in {}",
                if m.dir == PolicyDir::In { "in" } else { "out" },
                h.name()
            ),
        )
        .with_help(if m.dir == PolicyDir::In {
            "`--dir in` is for PREROUTING, INPUT and FORWARD"
        } else {
            "`--dir out` is for FORWARD, OUTPUT and POSTROUTING"
        }));
    }
    Ok(Match::IpsecPolicy(m))
}

fn parse_proto(tok: &Token) -> Result<IpsecProto, RuleError> {
    match Protocol::parse(&tok.text).map(|p| p.0) {
        Some(51) => Ok(IpsecProto::Ah),
        Some(50) => Ok(IpsecProto::Esp),
        Some(108) => Ok(IpsecProto::Ipcomp),
        _ => Err(
            RuleError::new(tok.span, format!("invalid IPsec protocol `{}`", tok.text))
                .with_help("the protocol must be ah, esp or ipcomp"),
        ),
    }
}

/// `ADDR[/LEN|/MASK]`, the address kept unmasked (as iptables keeps it).
pub(crate) fn parse_hostmask(tok: &Token, family: Family) -> Result<HostMask, RuleError> {
    let (a, m) = match tok.text.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (tok.text.as_str(), None),
    };
    let v4 = family == Family::Ipv4;
    let addr: IpAddr = a
        .parse()
        .ok()
        .filter(|x: &IpAddr| x.is_ipv4() == v4)
        .ok_or_else(|| {
            RuleError::new(
                tok.span,
                format!("invalid {} address `{a}`", if v4 { "IPv4" } else { "IPv6" }),
            )
            .with_help(format!(
                "this is an {} rule; host names are not resolved",
                family.tool()
            ))
        })?;
    let width: u32 = if v4 { 32 } else { 128 };
    let from_len = |len: u32| -> IpAddr {
        if v4 {
            IpAddr::V4(Ipv4Addr::from(u32::MAX.checked_shl(32 - len).unwrap_or(0)))
        } else {
            IpAddr::V6(Ipv6Addr::from(
                u128::MAX.checked_shl(128 - len).unwrap_or(0),
            ))
        }
    };
    let mask = match m {
        None => from_len(width),
        Some(m) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => {
            match m.parse::<u32>() {
                Ok(len) if len <= width => from_len(len),
                _ => {
                    return Err(RuleError::new(
                        tok.span,
                        format!("invalid prefix length `/{m}` (0-{width})"),
                    ))
                }
            }
        }
        Some(m) => m
            .parse::<IpAddr>()
            .ok()
            .filter(|x| x.is_ipv4() == v4)
            .ok_or_else(|| RuleError::new(tok.span, format!("invalid mask `{m}`")))?,
    };
    Ok(HostMask { addr, mask })
}

fn save_elem(out: &mut String, e: &PolicyElem) {
    if let Some(r) = e.reqid {
        save_opt_val(out, r.invert, "reqid", r.value);
    }
    if let Some(s) = e.spi {
        save_opt_val(out, s.invert, "spi", format!("0x{:x}", s.value));
    }
    if let Some(p) = e.proto {
        save_opt_val(out, p.invert, "proto", p.value.name());
    }
    if let Some(m) = e.mode {
        save_opt_val(out, m.invert, "mode", m.value.name());
    }
    if let Some(a) = e.tunnel_dst {
        save_opt_val(out, a.invert, "tunnel-dst", a.value);
    }
    if let Some(a) = e.tunnel_src {
        save_opt_val(out, a.invert, "tunnel-src", a.value);
    }
}

pub(crate) fn save(m: &IpsecPolicy, _: &SaveCtx, out: &mut String) {
    save_opt_val(
        out,
        false,
        "dir",
        if m.dir == PolicyDir::In { "in" } else { "out" },
    );
    save_opt_val(
        out,
        false,
        "pol",
        if m.pol == PolicyKind::None {
            "none"
        } else {
            "ipsec"
        },
    );
    if m.strict {
        save_opt(out, false, "strict");
    }
    for (i, e) in m.elements.iter().enumerate() {
        if i > 0 {
            save_opt(out, false, "next");
        }
        save_elem(out, e);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses `iptables -t TABLE -A ...` and prints the rule's matches back
    /// as iptables-save would (without `-m NAME`), or returns the error.
    pub(crate) fn roundtrip(family: Family, line: &str) -> Result<String, String> {
        use crate::iptables::cmd::{parse_command, CmdContext, Command};
        use crate::iptables::lex::split_line;
        let toks = split_line(line, 0).map_err(|e| e.message)?;
        let cx = CmdContext {
            family,
            table: TableKind::Filter,
            allow_table_option: true,
        };
        let inv = parse_command(&toks, &cx).map_err(|e| e.message)?;
        let Command::Append { rules, .. } = inv.command else {
            return Err("not an append".into());
        };
        let mut out = String::new();
        for m in rules.iter().flat_map(|r| &r.matches) {
            crate::iptables::registry::save_match(m, &SaveCtx { family }, &mut out);
        }
        Ok(out)
    }

    fn hm(s: &str, f: Family) -> Result<String, RuleError> {
        parse_hostmask(&Token::new(s, Span::new(0, s.len())), f).map(|h| h.to_string())
    }

    #[test]
    fn hostmask_keeps_host_bits() {
        assert_eq!(
            hm("1.2.3.4/16", Family::Ipv4).expect("must parse"),
            "1.2.3.4/16"
        );
        assert_eq!(
            hm("1.2.3.4/255.255.255.0", Family::Ipv4).expect("must parse"),
            "1.2.3.4/24"
        );
        assert_eq!(
            hm("1.2.3.4/255.0.255.0", Family::Ipv4).expect("must parse"),
            "1.2.3.4/255.0.255.0"
        );
        assert_eq!(hm("1.2.3.4", Family::Ipv4).expect("must parse"), "1.2.3.4");
        assert_eq!(
            hm("2001:db8::/64", Family::Ipv6).expect("must parse"),
            "2001:db8::/64"
        );
        assert_eq!(
            hm("2001:db8::1", Family::Ipv6).expect("must parse"),
            "2001:db8::1"
        );
        for s in ["1.2.3.4/33", "host", "2001::1", "1.2.3.4/", "1.2.3.4/x"] {
            assert!(hm(s, Family::Ipv4).is_err(), "{s}");
        }
    }

    #[test]
    fn elements_and_their_rules() {
        let v4 = |l: &str| roundtrip(Family::Ipv4, l);
        assert_eq!(
            v4("-A OUTPUT -m policy --dir out --pol ipsec ! --mode transport --tunnel-src 1.2.3.4/8 --proto 50 ! --spi 10").as_deref(),
            Ok(" --dir out --pol ipsec ! --spi 0xa --proto esp ! --mode transport --tunnel-src 1.2.3.4/8")
        );
        assert_eq!(
            v4("-A INPUT -m policy --dir in").as_deref(),
            Ok(" --dir in --pol ipsec")
        );
        for bad in [
            "-A INPUT -m policy --pol ipsec",
            "-A INPUT -m policy --dir out --pol ipsec",
            "-A INPUT -m policy ! --dir in",
            "-A INPUT -m policy --dir in --reqid 1 --next --reqid 2",
            "-A INPUT -m policy --dir in --strict --reqid 1 --next",
            "-A INPUT -m policy --dir in --reqid 1 --reqid 2",
            "-A INPUT -m policy --dir in --proto tcp",
            "-A INPUT -m policy --dir in --pol IPSEC",
            "-A INPUT -m policy --dir in --pol none --strict",
            "-A INPUT -m policy --dir in --strict --spi 1 --next --spi 2 --next --spi 3 --next --spi 4 --next --spi 5",
        ] {
            assert!(v4(bad).is_err(), "{bad}");
        }
        assert!(v4("-A INPUT -m policy --dir in --strict --spi 1 --next --spi 2 --next --spi 3 --next --spi 4").is_ok());
    }
}
