//! `-j REJECT [--reject-with TYPE]`.
//!
//! iptables matches TYPE case-insensitively against a prefix of each name
//! and alias of its family's table, in table order (`--reject-with port`
//! is `icmp6-port-unreachable` in ip6tables); rampart does the same.
//! `tcp-reset` needs `-p tcp` (the kernel refuses it otherwise). REJECT
//! lives in the filter table's INPUT, FORWARD and OUTPUT chains.

use crate::iptables::ext::*;
use rampart_model::targets::reject::{Reject, RejectWith};

pub(crate) static EXT: TargetExt = TargetExt {
    name: "REJECT",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["reject-with"], Arity::One)],
    build,
};

/// `(name, alias, type)` in iptables' table order (libipt_REJECT.c).
const TYPES_V4: &[(&str, &str, RejectWith)] = &[
    (
        "icmp-net-unreachable",
        "net-unreach",
        RejectWith::IcmpNetUnreachable,
    ),
    (
        "icmp-host-unreachable",
        "host-unreach",
        RejectWith::IcmpHostUnreachable,
    ),
    (
        "icmp-proto-unreachable",
        "proto-unreach",
        RejectWith::IcmpProtoUnreachable,
    ),
    (
        "icmp-port-unreachable",
        "port-unreach",
        RejectWith::IcmpPortUnreachable,
    ),
    (
        "icmp-net-prohibited",
        "net-prohib",
        RejectWith::IcmpNetProhibited,
    ),
    (
        "icmp-host-prohibited",
        "host-prohib",
        RejectWith::IcmpHostProhibited,
    ),
    ("tcp-reset", "tcp-rst", RejectWith::TcpReset),
    (
        "icmp-admin-prohibited",
        "admin-prohib",
        RejectWith::IcmpAdminProhibited,
    ),
];

/// `(name, alias, type)` in ip6tables' table order (libip6t_REJECT.c).
const TYPES_V6: &[(&str, &str, RejectWith)] = &[
    ("icmp6-no-route", "no-route", RejectWith::Icmp6NoRoute),
    (
        "icmp6-adm-prohibited",
        "adm-prohibited",
        RejectWith::Icmp6AdmProhibited,
    ),
    (
        "icmp6-addr-unreachable",
        "addr-unreach",
        RejectWith::Icmp6AddrUnreachable,
    ),
    (
        "icmp6-port-unreachable",
        "port-unreach",
        RejectWith::Icmp6PortUnreachable,
    ),
    ("tcp-reset", "tcp-reset", RejectWith::TcpReset),
    (
        "icmp6-policy-fail",
        "policy-fail",
        RejectWith::Icmp6PolicyFail,
    ),
    (
        "icmp6-reject-route",
        "reject-route",
        RejectWith::Icmp6RejectRoute,
    ),
];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    cx.require_table(&[TableKind::Filter])?;
    cx.require_hook(&[Hook::Input, Hook::Forward, Hook::Output])?;
    let mut with = RejectWith::default_for(cx.family);
    for o in opts {
        o.check_invert(false)?;
        if o.name == "reject-with" {
            with = parse_type(&o.arg(), cx.family)?;
            if with == RejectWith::TcpReset && cx.proto() != Some(Protocol::TCP) {
                return Err(RuleError::new(
                    o.arg().span,
                    "`--reject-with tcp-reset` needs `-p tcp` in the same rule",
                )
                .with_help("add `-p tcp`, or reject with an ICMP type"));
            }
        }
    }
    Ok(Target::Reject(Reject { with }))
}

/// Resolves a reject type as iptables does: the first name or alias in
/// table order that the argument is a case-insensitive prefix of.
fn parse_type(tok: &Token, family: Family) -> Result<RejectWith, RuleError> {
    let table = match family {
        Family::Ipv4 => TYPES_V4,
        Family::Ipv6 => TYPES_V6,
    };
    let arg = tok.text.as_bytes();
    let is_prefix = |name: &str| {
        name.as_bytes()
            .get(..arg.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(arg))
    };
    if let Some(&(_, _, w)) = table.iter().find(|(n, a, _)| is_prefix(n) || is_prefix(a)) {
        return Ok(w);
    }
    let names: Vec<&str> = table.iter().map(|(n, _, _)| *n).collect();
    let mut err = RuleError::new(
        tok.span,
        format!("unknown reject type `{}` for {}", tok.text, family.tool()),
    );
    let other = match family {
        Family::Ipv4 => TYPES_V6,
        Family::Ipv6 => TYPES_V4,
    };
    let lower = tok.text.to_ascii_lowercase();
    if family == Family::Ipv4
        && !lower.is_empty()
        && ("echo-reply".starts_with(&lower) || "echoreply".starts_with(&lower))
    {
        return Err(err
            .with_help("`echo-reply` is no longer supported by iptables; use an ICMP error type"));
    }
    err = if other
        .iter()
        .any(|(n, a, _)| n.eq_ignore_ascii_case(&tok.text) || a.eq_ignore_ascii_case(&tok.text))
    {
        let (this, that) = match family {
            Family::Ipv4 => ("IPv4", "an IPv6 (ip6tables)"),
            Family::Ipv6 => ("IPv6", "an IPv4 (iptables)"),
        };
        err.with_help(format!(
            "`{}` is {that} type; {this} types are: {}",
            tok.text,
            names.join(", ")
        ))
    } else {
        err.with_help(format!("valid types: {}", names.join(", ")))
    };
    Err(err)
}

/// iptables-save always prints the type, also the default one.
pub(crate) fn save(r: &Reject, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, false, "reject-with", r.with.name());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    fn tok(s: &str) -> Token {
        Token::new(s, Span::new(0, s.len()))
    }

    #[test]
    fn prefixes_and_aliases_resolve_in_table_order() {
        let p = |s: &str, f| parse_type(&tok(s), f).ok();
        assert_eq!(p("", Family::Ipv4), Some(RejectWith::IcmpNetUnreachable));
        assert_eq!(
            p("ICMP-HOST", Family::Ipv4),
            Some(RejectWith::IcmpHostUnreachable)
        );
        assert_eq!(p("tcp-rst", Family::Ipv4), Some(RejectWith::TcpReset));
        assert_eq!(
            p("admin-prohib", Family::Ipv4),
            Some(RejectWith::IcmpAdminProhibited)
        );
        assert_eq!(
            p("port", Family::Ipv6),
            Some(RejectWith::Icmp6PortUnreachable)
        );
        assert_eq!(p("tcp-rst", Family::Ipv6), None);
        assert_eq!(p("icmp-port-unreachable", Family::Ipv6), None);
        assert_eq!(p("icmp6-no-route", Family::Ipv4), None);
        assert_eq!(p("icmp-port-unreachablex", Family::Ipv4), None);
        assert_eq!(p("échec", Family::Ipv4), None);
    }

    #[test]
    fn every_saved_name_parses_back() {
        for (fam, table) in [(Family::Ipv4, TYPES_V4), (Family::Ipv6, TYPES_V6)] {
            for &(name, alias, w) in table {
                assert_eq!(w.name(), name);
                assert_eq!(parse_type(&tok(name), fam).ok(), Some(w));
                assert_eq!(parse_type(&tok(alias), fam).ok(), Some(w));
                assert!(w.family().is_none_or(|f| f == fam));
            }
        }
    }

    /// Checked against iptables 1.8.9 (nf_tables) in a network namespace:
    /// `Some(printed)` when it accepts the line, `None` when it refuses it.
    #[test]
    fn rules_as_iptables_handles_them() {
        let v6 = Family::Ipv6;
        let v4 = Family::Ipv4;
        let cases: &[(Family, &str, &str, Option<&str>)] = &[
            (
                v4,
                "filter",
                "-A INPUT -j REJECT --reject-with tcp-reset",
                None,
            ),
            (
                v4,
                "filter",
                "-A INPUT -p tcp -j REJECT --reject-with tcp-rst",
                Some("-p tcp -j REJECT --reject-with tcp-reset"),
            ),
            (
                v4,
                "filter",
                "-A INPUT ! -p tcp -j REJECT --reject-with tcp-reset",
                None,
            ),
            (
                v4,
                "filter",
                "-A INPUT -j REJECT --reject-with ICMP-HOST",
                Some("-j REJECT --reject-with icmp-host-unreachable"),
            ),
            (
                v4,
                "filter",
                "-A INPUT -j REJECT --reject-with echo-reply",
                None,
            ),
            (
                v4,
                "filter",
                "-A INPUT -j REJECT --reject-with icmp6-no-route",
                None,
            ),
            (
                v6,
                "filter",
                "-A INPUT -j REJECT --reject-with port",
                Some("-j REJECT --reject-with icmp6-port-unreachable"),
            ),
            (
                v6,
                "filter",
                "-A INPUT -p tcp -j REJECT --reject-with tcp-rst",
                None,
            ),
            (v4, "mangle", "-A INPUT -j REJECT", None),
            (
                v4,
                "filter",
                "-A INPUT -j REJECT ! --reject-with icmp-net-unreachable",
                None,
            ),
            (
                v4,
                "filter",
                "-A INPUT -j REJECT --reject-with net-unreach --reject-with host-unreach",
                None,
            ),
        ];
        crate::iptables::testutil::check_cases(cases);
    }
}
