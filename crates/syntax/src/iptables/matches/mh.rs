//! `-m mh` (IPv6): `--mh-type TYPE[:TYPE]`.

use crate::iptables::ext::*;
use rampart_model::matches::mh::{Mh, MhTypes};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "mh",
    aliases: &[],
    family: Some(Family::Ipv6),
    options: &[OptSpec::new(&["mh-type"], Arity::One)],
    build,
};

/// Mobility header type names (with their short aliases).
const MH_NAMES: &[(&str, u8)] = &[
    ("binding-refresh-request", 0),
    ("brr", 0),
    ("home-test-init", 1),
    ("hoti", 1),
    ("careof-test-init", 2),
    ("coti", 2),
    ("home-test", 3),
    ("hot", 3),
    ("careof-test", 4),
    ("cot", 4),
    ("binding-update", 5),
    ("bu", 5),
    ("binding-acknowledgement", 6),
    ("ba", 6),
    ("binding-error", 7),
    ("be", 7),
];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    cx.require_proto(&[Protocol::MH])?;
    at_most_once(opts)?;
    let mut m = Mh::default();
    if let Some(o) = find(opts, "mh-type") {
        m.types = Some(Neg::inverted(parse_types(&o.arg())?, o.invert));
    }
    Ok(Match::Mh(m))
}

/// A name (exact, else the first it is a prefix of, as iptables does) or a
/// number 0-255.
fn parse_type(s: &str, tok: &Token) -> Result<u8, RuleError> {
    let lower = s.to_ascii_lowercase();
    if !lower.is_empty() {
        if let Some(&(_, t)) = MH_NAMES
            .iter()
            .find(|(n, _)| *n == lower)
            .or_else(|| MH_NAMES.iter().find(|(n, _)| n.starts_with(&lower)))
        {
            return Ok(t);
        }
    }
    parse_uint(&Token::new(s, tok.span), "mobility header type", 0, 255)
        .map(|v| v as u8)
        .map_err(|e| e.with_help("give a number 0-255 or a name such as binding-update"))
}

fn parse_types(tok: &Token) -> Result<MhTypes, RuleError> {
    let (first, last) = match tok.text.split_once(':') {
        None => {
            let t = parse_type(&tok.text, tok)?;
            (t, t)
        }
        Some((a, b)) => (
            if a.is_empty() { 0 } else { parse_type(a, tok)? },
            if b.is_empty() {
                255
            } else {
                parse_type(b, tok)?
            },
        ),
    };
    if first > last {
        return Err(RuleError::new(
            tok.span,
            format!(
                "invalid type range `{}`: start is greater than end",
                tok.text
            ),
        ));
    }
    Ok(MhTypes { first, last })
}

pub(crate) fn save(m: &Mh, _: &SaveCtx, out: &mut String) {
    if let Some(t) = m.types {
        if t.value != MhTypes::ALL || t.invert {
            let v = t.value;
            if v.first == v.last {
                save_opt_val(out, t.invert, "mh-type", v.first);
            } else {
                save_opt_val(out, t.invert, "mh-type", format!("{}:{}", v.first, v.last));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip6;

    #[test]
    fn names_and_ranges() {
        assert_eq!(
            roundtrip6("-p mh -m mh --mh-type bu:binding-ack"),
            Ok("-p mobility-header -m mh --mh-type 5:6".into())
        );
        assert_eq!(
            roundtrip6("-p mh -m mh --mh-type hot"),
            Ok("-p mobility-header -m mh --mh-type 3".into())
        );
        assert!(roundtrip6("-m mh --mh-type 5").is_err());
        assert!(roundtrip6("-p mh -m mh --mh-type 6:bu").is_err());
    }
}
