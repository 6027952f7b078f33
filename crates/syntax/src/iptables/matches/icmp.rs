//! `-m icmp` (IPv4): `--icmp-type`. Also the type/code parser shared with
//! `-m icmp6`.

use crate::iptables::ext::*;
use rampart_model::matches::icmp::{Icmp, IcmpType};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "icmp",
    aliases: &[],
    family: Some(Family::Ipv4),
    options: &[OptSpec::new(&["icmp-type"], Arity::One)],
    build,
};

/// ICMP type names as iptables knows them: name, type, code range.
pub(crate) const ICMP_NAMES: &[(&str, u8, u8, u8)] = &[
    ("any", 0xff, 0, 0xff),
    ("echo-reply", 0, 0, 0xff),
    ("pong", 0, 0, 0xff),
    ("destination-unreachable", 3, 0, 0xff),
    ("network-unreachable", 3, 0, 0),
    ("host-unreachable", 3, 1, 1),
    ("protocol-unreachable", 3, 2, 2),
    ("port-unreachable", 3, 3, 3),
    ("fragmentation-needed", 3, 4, 4),
    ("source-route-failed", 3, 5, 5),
    ("network-unknown", 3, 6, 6),
    ("host-unknown", 3, 7, 7),
    ("network-prohibited", 3, 9, 9),
    ("host-prohibited", 3, 10, 10),
    ("TOS-network-unreachable", 3, 11, 11),
    ("TOS-host-unreachable", 3, 12, 12),
    ("communication-prohibited", 3, 13, 13),
    ("host-precedence-violation", 3, 14, 14),
    ("precedence-cutoff", 3, 15, 15),
    ("source-quench", 4, 0, 0xff),
    ("redirect", 5, 0, 0xff),
    ("network-redirect", 5, 0, 0),
    ("host-redirect", 5, 1, 1),
    ("TOS-network-redirect", 5, 2, 2),
    ("TOS-host-redirect", 5, 3, 3),
    ("echo-request", 8, 0, 0xff),
    ("ping", 8, 0, 0xff),
    ("router-advertisement", 9, 0, 0xff),
    ("router-solicitation", 10, 0, 0xff),
    ("time-exceeded", 11, 0, 0xff),
    ("ttl-exceeded", 11, 0, 0xff),
    ("ttl-zero-during-transit", 11, 0, 0),
    ("ttl-zero-during-reassembly", 11, 1, 1),
    ("parameter-problem", 12, 0, 0xff),
    ("ip-header-bad", 12, 0, 0),
    ("required-option-missing", 12, 1, 1),
    ("timestamp-request", 13, 0, 0xff),
    ("timestamp-reply", 14, 0, 0xff),
    ("address-mask-request", 17, 0, 0xff),
    ("address-mask-reply", 18, 0, 0xff),
];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    cx.require_proto(&[Protocol::ICMP])?;
    at_most_once(opts)?;
    let Some(o) = find(opts, "icmp-type") else {
        return Err(cx
            .error("`icmp` needs `--icmp-type`")
            .with_help("e.g. `--icmp-type echo-request`, `--icmp-type 3/4` or `--icmp-type any`"));
    };
    let t = parse_icmp_type(&o.arg(), ICMP_NAMES, "ICMP")?;
    Ok(Match::Icmp(Icmp {
        icmp_type: Neg::inverted(t, o.invert),
    }))
}

/// A type name (a unique case-insensitive prefix of one, as iptables
/// accepts) or `TYPE[/CODE[:CODE]]` with numbers 0-255.
pub(crate) fn parse_icmp_type(
    tok: &Token,
    names: &[(&str, u8, u8, u8)],
    what: &str,
) -> Result<IcmpType, RuleError> {
    let text = tok.text.as_str();
    let lower = text.to_ascii_lowercase();
    let hits: Vec<&(&str, u8, u8, u8)> = names
        .iter()
        .filter(|(n, ..)| n.to_ascii_lowercase().starts_with(&lower))
        .collect();
    match hits.as_slice() {
        [(_, t, lo, hi)] => {
            return Ok(IcmpType {
                icmp_type: *t,
                code_min: *lo,
                code_max: *hi,
            })
        }
        [a, b, ..] => {
            return Err(RuleError::new(
                tok.span,
                format!("ambiguous {what} type `{text}`: `{}` or `{}`?", a.0, b.0),
            ))
        }
        [] => {}
    }
    let unknown = || {
        RuleError::new(tok.span, format!("unknown {what} type `{text}`"))
            .with_help("give a type name, a number 0-255 or TYPE/CODE")
    };
    let num = |s: &str| {
        parse_uint(&Token::new(s, tok.span), what, 0, 255)
            .map(|v| v as u8)
            .map_err(|_| unknown())
    };
    let (t, code) = match text.split_once('/') {
        None => return Ok(IcmpType::with_any_code(num(text)?)),
        Some(tc) => tc,
    };
    let icmp_type = num(t)?;
    let (lo, hi) = match code.split_once(':') {
        None => {
            let c = num(code)?;
            (c, c)
        }
        Some((a, b)) => (num(a)?, num(b)?),
    };
    Ok(IcmpType {
        icmp_type,
        code_min: lo,
        code_max: hi,
    })
}

/// Appends ` [!] --NAME TYPE[/CODE]`; iptables prints only the lowest code.
pub(crate) fn save_type(out: &mut String, name: &str, t: &Neg<IcmpType>) {
    use std::fmt::Write;
    save_opt_val(out, t.invert, name, t.value.icmp_type);
    if !t.value.all_codes() {
        let _ = write!(out, "/{}", t.value.code_min);
    }
}

pub(crate) fn save(m: &Icmp, _: &SaveCtx, out: &mut String) {
    if m.icmp_type.value == IcmpType::ANY {
        save_opt_val(out, m.icmp_type.invert, "icmp-type", "any");
    } else {
        save_type(out, "icmp-type", &m.icmp_type);
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip;

    fn icmp(arg: &str) -> Result<String, String> {
        roundtrip(&format!("-p icmp -m icmp --icmp-type {arg}")).map(|s| {
            s.trim_start_matches("-p icmp -m icmp --icmp-type ")
                .to_string()
        })
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(icmp("any"), Ok("any".into()));
        assert_eq!(icmp("echo-req"), Ok("8".into()));
        assert_eq!(icmp("PING"), Ok("8".into()));
        assert_eq!(icmp("network-unreachable"), Ok("3/0".into()));
        assert_eq!(icmp("0x3/0x1"), Ok("3/1".into()));
        assert_eq!(icmp("3/1:4"), Ok("3/1".into()));
        assert_eq!(icmp("255/0:255"), Ok("any".into()));
        assert_eq!(icmp("255/255"), Ok("255/255".into()));
    }

    #[test]
    fn bad_types() {
        for bad in ["e", "256", "3/256", "3/", "3/1:", "nope"] {
            assert!(icmp(bad).is_err(), "{bad}");
        }
        assert!(roundtrip("-p icmp -m icmp").is_err());
        assert!(roundtrip("-m icmp --icmp-type 3").is_err());
    }
}
