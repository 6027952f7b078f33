//! `-j SNAT --to-source [ADDR[-ADDR]][:PORT[-PORT]]`, plus the NAT range
//! parser and printer that DNAT, MASQUERADE and REDIRECT share.
//!
//! The range syntax follows iptables' `libxt_NAT.c`: IPv6 addresses go in
//! brackets when a port follows (`[dead::beef]:80`); without brackets a
//! single `:` introduces the ports, two or more make an IPv6 address.
//! Ports are numbers (`strtoul` base 0) or a service name for a single
//! port; a range is `A-B`; DNAT also takes `A-B/BASE` (shifted mapping).
//! Ports need `-p tcp`, `udp`, `sctp`, `dccp` (or `icmp`, whose id is
//! mapped), as iptables requires.

use crate::iptables::ext::*;
use rampart_model::targets::snat::{AddrRange, NatRange, Snat};
use std::fmt::Write;
use std::net::IpAddr;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "SNAT",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["to-source"], Arity::One),
        OptSpec::new(&["random"], Arity::None),
        OptSpec::new(&["random-fully"], Arity::None),
        OptSpec::new(&["persistent"], Arity::None),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    cx.require_table(&[TableKind::Nat])?;
    cx.require_hook(&[Hook::Postrouting, Hook::Input])?;
    let mut s = Snat::default();
    let mut to = None;
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "to-source" => to = Some(parse_nat_range(&o.arg(), cx, false)?),
            "random" => s.random = true,
            "random-fully" => s.random_fully = true,
            "persistent" => s.persistent = true,
            _ => {}
        }
    }
    s.to = to.ok_or_else(|| missing(cx, "to-source"))?;
    Ok(Target::Snat(s))
}

/// Error for a NAT target without its mandatory option.
pub(crate) fn missing(cx: &RuleCtx, opt: &str) -> RuleError {
    cx.error(format!("`{}` needs `--{opt}`", cx.name))
        .with_help(format!("add `--{opt} ADDRESS[:PORT]`"))
}

/// Reads an unsigned number at the start of `s` the way `strtoul(s, &end,
/// 0)` does (leading blanks, a sign, `0x` hex, `0` octal) and returns it
/// with the rest of `s` when it lies in `min..=max` (`xtables_strtoui`).
pub(crate) fn strtoui_prefix(s: &str, min: u64, max: u64) -> Option<(u64, &str)> {
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let hex = t.len() > 2
        && (t.starts_with("0x") || t.starts_with("0X"))
        && t.as_bytes().get(2).is_some_and(u8::is_ascii_hexdigit);
    let (radix, digits) = if hex {
        (16, &t[2..])
    } else if t.starts_with('0') {
        (8, t)
    } else {
        (10, t)
    };
    let len = digits
        .bytes()
        .take_while(|b| (*b as char).is_digit(radix))
        .count();
    if len == 0 {
        return None;
    }
    let (num, rest) = digits.split_at(len);
    // Overflow is ERANGE in strtoul: out of range either way.
    let v = u64::from_str_radix(num, radix).unwrap_or(u64::MAX);
    // strtoul negates in unsigned arithmetic: "-0" is 0, "-1" is huge.
    let v = if neg && v != 0 { u64::MAX } else { v };
    (min <= v && v <= max).then_some((v, rest))
}

/// Is a port mapping allowed with the rule's protocol? iptables looks at
/// the `-p` value only (also when inverted).
fn ports_allowed(cx: &RuleCtx) -> bool {
    cx.protocol.is_some_and(|p| {
        matches!(
            p.value,
            Protocol::TCP | Protocol::UDP | Protocol::SCTP | Protocol::DCCP | Protocol::ICMP
        )
    })
}

/// `PORT[-PORT[/BASE]]` of a NAT target (`allow_base`: the `/BASE` of a
/// DNAT shifted port mapping).
pub(crate) fn parse_nat_ports(
    text: &str,
    tok: &Token,
    cx: &RuleCtx,
    allow_base: bool,
) -> Result<(PortRange, Option<u16>), RuleError> {
    let err = |m: String| RuleError::new(tok.span, m);
    if !ports_allowed(cx) {
        return Err(err(format!(
            "a port mapping in `{}` needs `-p tcp`, `udp`, `sctp` or `dccp`",
            cx.name
        ))
        .with_help("add `-p tcp` (or udp, sctp, dccp) to the rule, or map addresses only"));
    }
    let (first, rest) = match strtoui_prefix(text, 0, 65535) {
        Some((p, rest)) => (p as u16, rest),
        None => (parse_port(&Token::new(text, tok.span))?, ""),
    };
    let arg = match rest.as_bytes().first() {
        None => return Ok((PortRange::single(first), None)),
        Some(b'-') => &rest[1..],
        Some(b':') => {
            return Err(err(format!("invalid port range `{text}`"))
                .with_help("NAT port ranges are written with a dash: `1024-65535`"))
        }
        Some(_) => {
            return Err(err(format!(
                "unexpected `{rest}` after the port in `{text}`"
            )))
        }
    };
    let (last, rest) = strtoui_prefix(arg, 0, 65535).ok_or_else(|| {
        err(format!("invalid port `{arg}` in `{text}`"))
            .with_help("the end of a port range is a number 0-65535 (no service names)")
    })?;
    let range = PortRange::new(first, last as u16).ok_or_else(|| {
        err(format!(
            "invalid port range `{text}`: start is greater than end"
        ))
    })?;
    let base = match rest.as_bytes().first() {
        None => return Ok((range, None)),
        Some(b'/') => &rest[1..],
        Some(_) => {
            return Err(err(format!(
                "unexpected `{rest}` after the port range in `{text}`"
            )))
        }
    };
    if !allow_base {
        return Err(err(format!(
            "`{}` does not support a shifted port mapping (`/{base}`)",
            cx.name
        ))
        .with_help("only DNAT maps a port range with `/BASE`"));
    }
    let base = match strtoui_prefix(base, 1, 65535) {
        Some((b, "")) => b as u16,
        Some((_, extra)) => {
            return Err(err(format!(
                "unexpected `{extra}` after the base port in `{text}`"
            )))
        }
        None => {
            let p = parse_port(&Token::new(base, tok.span))?;
            if p == 0 {
                return Err(err(
                    "the base port of a shifted mapping must be 1-65535".into()
                ));
            }
            p
        }
    };
    Ok((range, Some(base)))
}

/// `[ADDR[-ADDR]][:PORT[-PORT[/BASE]]]`, IPv6 addresses in brackets when
/// ports follow.
pub(crate) fn parse_nat_range(
    tok: &Token,
    cx: &RuleCtx,
    allow_base: bool,
) -> Result<NatRange, RuleError> {
    let text = tok.text.as_str();
    let err = |m: String| RuleError::new(tok.span, m);
    let (addr_part, port_part) = if let Some(inner) = text.strip_prefix('[') {
        if cx.family == Family::Ipv4 {
            return Err(err(format!("invalid address format `{text}`"))
                .with_help("brackets are for IPv6 addresses; write `1.2.3.4:80`"));
        }
        let (inner, after) = inner
            .split_once(']')
            .ok_or_else(|| err(format!("invalid address format `{text}`: missing `]`")))?;
        match after.strip_prefix(':') {
            Some(ports) => (inner, Some(ports)),
            None if after.is_empty() => (inner, None),
            None => return Err(err(format!("unexpected `{after}` after `]` in `{text}`"))),
        }
    } else if text.contains('[') || text.contains(']') {
        return Err(err(format!("invalid address format `{text}`")));
    } else {
        match text.split_once(':') {
            // One colon: ports follow. More: an IPv6 address.
            Some((a, p)) if !p.contains(':') => (a, Some(p)),
            _ => (text, None),
        }
    };
    let mut range = NatRange::default();
    if let Some(p) = port_part {
        let (ports, base) = parse_nat_ports(p, tok, cx, allow_base)?;
        range.ports = Some(ports);
        range.base_port = base;
        if addr_part.is_empty() {
            return Ok(range);
        }
    }
    let (a, b) = match addr_part.split_once('-') {
        Some((a, b)) => (a, Some(b)),
        None => (addr_part, None),
    };
    let first = parse_addr(a, tok, cx.family)?;
    let last = match b {
        Some(b) => parse_addr(b, tok, cx.family)?,
        None => first,
    };
    if !addr_le(first, last) {
        return Err(err(format!(
            "invalid address range `{addr_part}`: start is greater than end"
        ))
        .with_help("write the lower address first"));
    }
    range.addrs = Some(AddrRange { first, last });
    Ok(range)
}

fn addr_le(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a <= b,
        (IpAddr::V6(a), IpAddr::V6(b)) => a <= b,
        _ => false,
    }
}

/// One host address of the rule's family (no names, no masks).
pub(crate) fn parse_addr(s: &str, tok: &Token, family: Family) -> Result<IpAddr, RuleError> {
    let addr: IpAddr = s.parse().map_err(|_| {
        let e = RuleError::new(tok.span, format!("invalid address `{s}`"));
        if s.bytes().any(|b| b.is_ascii_alphabetic()) && !s.contains(':') {
            e.with_help("rampart does not resolve host names; give the address")
        } else if s.contains('/') {
            e.with_help("give a single address, without a prefix length")
        } else {
            e
        }
    })?;
    match (family, addr) {
        (Family::Ipv4, IpAddr::V4(_)) | (Family::Ipv6, IpAddr::V6(_)) => Ok(addr),
        _ => Err(RuleError::new(
            tok.span,
            format!(
                "`{s}` is not an {} address",
                if family == Family::Ipv4 {
                    "IPv4"
                } else {
                    "IPv6"
                }
            ),
        )
        .with_help(format!("this is an {} rule", family.tool()))),
    }
}

/// The range as iptables-save prints it (`sprint_range`); empty when the
/// range maps nothing.
pub(crate) fn nat_range_string(r: &NatRange, family: Family) -> String {
    let mut s = String::new();
    let brackets = family == Family::Ipv6 && r.ports.is_some();
    if let Some(a) = r.addrs {
        if brackets {
            s.push('[');
        }
        let _ = write!(s, "{}", rampart_model::IpText(a.first));
        if a.first != a.last {
            let _ = write!(s, "-{}", rampart_model::IpText(a.last));
        }
        if brackets {
            s.push(']');
        }
    }
    if let Some(p) = r.ports {
        let _ = write!(s, ":{}", p.first);
        if p.last != p.first {
            let _ = write!(s, "-{}", p.last);
        }
        if let Some(b) = r.base_port {
            let _ = write!(s, "/{b}");
        }
    }
    s
}

/// ` --OPT RANGE` (nothing for an empty range).
pub(crate) fn save_nat_range(out: &mut String, opt: &str, r: &NatRange, family: Family) {
    let s = nat_range_string(r, family);
    if !s.is_empty() {
        save_opt_val(out, false, opt, s);
    }
}

/// ` --to-ports P[-P]` of MASQUERADE and REDIRECT.
pub(crate) fn save_to_ports(out: &mut String, p: Option<PortRange>) {
    if let Some(p) = p {
        let range = NatRange {
            ports: Some(p),
            ..NatRange::default()
        };
        let s = nat_range_string(&range, Family::Ipv4);
        save_opt_val(out, false, "to-ports", s.trim_start_matches(':'));
    }
}

/// Prints the NAT flags in iptables' order.
pub(crate) fn save_flags(out: &mut String, random: bool, random_fully: bool, persistent: bool) {
    for (on, name) in [
        (random, "random"),
        (random_fully, "random-fully"),
        (persistent, "persistent"),
    ] {
        if on {
            save_opt(out, false, name);
        }
    }
}

pub(crate) fn save(s: &Snat, cx: &SaveCtx, out: &mut String) {
    save_nat_range(out, "to-source", &s.to, cx.family);
    save_flags(out, s.random, s.random_fully, s.persistent);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::diag::Span;

    fn cx(family: Family, proto: Option<Protocol>) -> RuleCtx<'static> {
        RuleCtx {
            family,
            table: TableKind::Nat,
            chain: "PREROUTING",
            hook: Some(Hook::Prerouting),
            protocol: proto.map(Neg::new),
            name: "DNAT",
            name_span: Span::new(0, 0),
        }
    }

    fn range(s: &str, family: Family, proto: Option<Protocol>) -> Result<String, String> {
        let tok = Token::new(s, Span::new(0, s.len()));
        parse_nat_range(&tok, &cx(family, proto), true)
            .map(|r| nat_range_string(&r, family))
            .map_err(|e| e.message)
    }

    #[test]
    fn strtoui_reads_like_strtoul_base_0() {
        assert_eq!(strtoui_prefix("0x10-", 0, 65535), Some((16, "-")));
        assert_eq!(strtoui_prefix("010", 0, 65535), Some((8, "")));
        assert_eq!(strtoui_prefix(" 7x", 0, 65535), Some((7, "x")));
        assert_eq!(strtoui_prefix("0xg", 0, 65535), Some((0, "xg")));
        assert_eq!(strtoui_prefix("-1", 0, 65535), None);
        assert_eq!(strtoui_prefix("65536", 0, 65535), None);
        assert_eq!(strtoui_prefix("99999999999999999999999", 0, 65535), None);
        assert_eq!(strtoui_prefix("ssh", 0, 65535), None);
        assert_eq!(strtoui_prefix("", 0, 65535), None);
    }

    #[test]
    fn ranges_print_back_as_iptables_does() {
        let tcp = Some(Protocol::TCP);
        let v4 = Family::Ipv4;
        let v6 = Family::Ipv6;
        assert_eq!(range("1.2.3.4:0x10", v4, tcp).as_deref(), Ok("1.2.3.4:16"));
        assert_eq!(
            range("1.2.3.4:010-20/21", v4, tcp).as_deref(),
            Ok("1.2.3.4:8-20/21")
        );
        assert_eq!(
            range("1.2.3.4-1.2.3.5:80-80", v4, tcp).as_deref(),
            Ok("1.2.3.4-1.2.3.5:80")
        );
        assert_eq!(range(":80", v4, tcp).as_deref(), Ok(":80"));
        assert_eq!(range("[]:80", v6, tcp).as_deref(), Ok(":80"));
        assert_eq!(range("[::1]", v6, None).as_deref(), Ok("::1"));
        // iptables prints IPv4-compatible addresses as inet_ntop does.
        assert_eq!(range("::1:80", v6, tcp).as_deref(), Ok("::0.1.0.128"));
        assert_eq!(range("[::1]:http", v6, tcp).as_deref(), Ok("[::1]:80"));
        assert_eq!(
            range("1.2.3.4:10-20/http", v4, tcp).as_deref(),
            Ok("1.2.3.4:10-20/80")
        );
        assert_eq!(
            range("1.2.3.4:80", v4, Some(Protocol::ICMP)).as_deref(),
            Ok("1.2.3.4:80")
        );
    }

    #[test]
    fn bad_ranges_are_refused() {
        let tcp = Some(Protocol::TCP);
        let v4 = Family::Ipv4;
        let v6 = Family::Ipv6;
        for (s, fam, proto) in [
            ("1.2.3.4:80", v4, None),
            ("1.2.3.4:20:30", v4, tcp),
            ("1.2.3.4:30-20", v4, tcp),
            ("1.2.3.4:", v4, tcp),
            ("1.2.3.4-", v4, None),
            ("[1.2.3.4]", v4, None),
            ("1.2.3.5-1.2.3.4", v4, None),
            ("1.2.3.4:10-20/0", v4, tcp),
            ("1.2.3.4:10-ssh", v4, tcp),
            ("1.2.3.4:10-20/5x", v4, tcp),
            ("1.2.3.4", v6, None),
            ("[::1", v6, None),
            ("[::1]x:80", v6, tcp),
            ("[::1]:80", v6, Some(Protocol::ICMPV6)),
            ("host.example", v4, None),
            ("", v4, None),
        ] {
            assert!(range(s, fam, proto).is_err(), "{s} should fail");
        }
    }

    /// Lines checked against iptables 1.8.9 (nf_tables) in a network
    /// namespace: `Some(printed)` when it accepts them, `None` when not.
    #[test]
    fn nat_rules_as_iptables_handles_them() {
        let v4 = Family::Ipv4;
        let v6 = Family::Ipv6;
        let cases: &[(Family, &str, &str, Option<&str>)] = &[
            (
                v4,
                "nat",
                "-A POSTROUTING -p tcp -j SNAT --to-source :80",
                Some("-p tcp -j SNAT --to-source :80"),
            ),
            (
                v4,
                "nat",
                "-A POSTROUTING ! -p tcp -j SNAT --to-source 1.2.3.4:80",
                Some("! -p tcp -j SNAT --to-source 1.2.3.4:80"),
            ),
            (
                v4,
                "nat",
                "-A INPUT -j SNAT --to-source 1.2.3.4",
                Some("-j SNAT --to-source 1.2.3.4"),
            ),
            (v4, "nat", "-A OUTPUT -j SNAT --to-source 1.2.3.4", None),
            (v4, "filter", "-A INPUT -j SNAT --to-source 1.2.3.4", None),
            (
                v4,
                "nat",
                "-A POSTROUTING -j SNAT --to 1.2.3.4 --random-fully --random-fully",
                None,
            ),
            (
                v4,
                "nat",
                "-A PREROUTING -j DNAT --to 1.2.3.4 --persistent --random",
                Some("-j DNAT --to-destination 1.2.3.4 --random --persistent"),
            ),
            (v4, "nat", "-A INPUT -j DNAT --to-destination 1.2.3.4", None),
            (
                v4,
                "nat",
                "-A PREROUTING -j DNAT --to-destination 0.0.0.0",
                Some("-j DNAT --to-destination 0.0.0.0"),
            ),
            (
                v4,
                "nat",
                "-A PREROUTING -j DNAT --to-destination 1.2.3.4:80",
                None,
            ),
            (
                v6,
                "nat",
                "-A PREROUTING -p tcp -j DNAT --to-destination dead::1:80",
                Some("-p tcp -j DNAT --to-destination dead::1:80"),
            ),
            (
                v6,
                "nat",
                "-A PREROUTING -p tcp -j DNAT --to-destination []:80",
                Some("-p tcp -j DNAT --to-destination :80"),
            ),
            (
                v6,
                "nat",
                "-A PREROUTING -j DNAT --to-destination [::1]",
                Some("-j DNAT --to-destination ::1"),
            ),
            (v4, "nat", "-A PREROUTING -j REDIRECT", Some("-j REDIRECT")),
            (
                v4,
                "nat",
                "-A OUTPUT -p tcp -j REDIRECT --to-ports 80-80/2",
                None,
            ),
            (v4, "nat", "-A INPUT -p tcp -j REDIRECT --to-ports 80", None),
            (v4, "nat", "-A OUTPUT -j MASQUERADE", None),
            (
                v4,
                "nat",
                "-A POSTROUTING -p tcp -j MASQUERADE --to-ports :80",
                None,
            ),
            (
                v4,
                "nat",
                "-A POSTROUTING -j MASQUERADE --random --random-fully",
                Some("-j MASQUERADE --random --random-fully"),
            ),
            (
                v4,
                "nat",
                "-A POSTROUTING -p tcp -j MASQUERADE --to-ports 0x10-020",
                Some("-p tcp -j MASQUERADE --to-ports 16"),
            ),
            (
                v4,
                "nat",
                "-A PREROUTING -j NETMAP --to 1.2.3.4/255.255.0.0",
                Some("-j NETMAP --to 1.2.0.0/16"),
            ),
            (
                v4,
                "nat",
                "-A PREROUTING -j NETMAP --to 1.2.3.4/0",
                Some("-j NETMAP --to 0.0.0.0/0"),
            ),
            (v4, "nat", "-A PREROUTING -j NETMAP", None),
            (v4, "mangle", "-A PREROUTING -j NETMAP --to 1.2.3.4/8", None),
            (
                v6,
                "nat",
                "-A PREROUTING -j NETMAP --to dead::/ffff::",
                Some("-j NETMAP --to dead::/16"),
            ),
        ];
        crate::iptables::testutil::check_cases(cases);
    }
}
