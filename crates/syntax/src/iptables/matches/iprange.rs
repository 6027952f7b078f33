//! `-m iprange`: `[!] --src-range A-B`, `[!] --dst-range A-B`.

use crate::iptables::ext::*;
use rampart_model::matches::iprange::{AddrRange, Iprange};
use std::net::IpAddr;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "iprange",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["src-range"], Arity::One),
        OptSpec::new(&["dst-range"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Iprange::default();
    for o in opts {
        let r = Neg::inverted(parse_range(&o.arg(), cx.family)?, o.invert);
        match o.name {
            "src-range" => m.src = Some(r),
            "dst-range" => m.dst = Some(r),
            _ => {}
        }
    }
    if m.src.is_none() && m.dst.is_none() {
        return Err(cx
            .error("`-m iprange` needs `--src-range` or `--dst-range`")
            .with_help("for example `-m iprange --src-range 10.0.0.1-10.0.0.9`"));
    }
    Ok(Match::Iprange(m))
}

/// `FIRST-LAST`, or a single address (a range of one, as iptables reads it).
fn parse_range(tok: &Token, family: Family) -> Result<AddrRange, RuleError> {
    let (a, b) = tok.text.split_once('-').unwrap_or((&tok.text, &tok.text));
    let first = parse_addr(tok, a, family)?;
    let last = parse_addr(tok, b, family)?;
    Ok(AddrRange { first, last })
}

fn parse_addr(tok: &Token, text: &str, family: Family) -> Result<IpAddr, RuleError> {
    let want = match family {
        Family::Ipv4 => "IPv4",
        Family::Ipv6 => "IPv6",
    };
    match text.parse::<IpAddr>() {
        Ok(a) if a.is_ipv4() == (family == Family::Ipv4) => Ok(a),
        Ok(_) => Err(
            RuleError::new(tok.span, format!("`{text}` is not an {want} address"))
                .with_help(format!("this is an {} rule", family.tool())),
        ),
        Err(_) => Err(RuleError::new(
            tok.span,
            format!("invalid {want} address `{text}` in range `{}`", tok.text),
        )
        .with_help("write the range as FIRST-LAST, e.g. 10.0.0.1-10.0.0.9")),
    }
}

pub(crate) fn save(m: &Iprange, _: &SaveCtx, out: &mut String) {
    if let Some(r) = &m.src {
        save_opt_val(out, r.invert, "src-range", r.value);
    }
    if let Some(r) = &m.dst {
        save_opt_val(out, r.invert, "dst-range", r.value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    fn tok(s: &str) -> Token {
        Token::new(s, Span::new(0, s.len()))
    }

    #[test]
    fn single_address_is_a_range_of_one() {
        let r = parse_range(&tok("1.1.1.1"), Family::Ipv4).expect("must parse");
        assert_eq!(r.to_string(), "1.1.1.1-1.1.1.1");
    }

    #[test]
    fn family_mismatch_is_refused() {
        assert!(parse_range(&tok("1.1.1.1-2001::1"), Family::Ipv4).is_err());
        assert!(parse_range(&tok("1.1.1.1-1.1.1.2"), Family::Ipv6).is_err());
        assert!(parse_range(&tok("2001:db8::1-2001:db8::10"), Family::Ipv6).is_ok());
    }
}
