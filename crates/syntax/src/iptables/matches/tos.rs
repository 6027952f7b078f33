//! `-m tos` (revision 1): `[!] --tos VALUE[/MASK]` or `[!] --tos NAME`.

use crate::iptables::ext::*;
use rampart_model::matches::tos::{Tos, TosMask};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "tos",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["tos"], Arity::One)],
    build,
};

/// RFC 1349 names; a name matches under the mask `0x3f` (the old TOS
/// field without the precedence bits), as iptables does.
const NAMES: &[(&str, u8)] = &[
    ("Minimize-Delay", 0x10),
    ("Maximize-Throughput", 0x08),
    ("Maximize-Reliability", 0x04),
    ("Minimize-Cost", 0x02),
    ("Normal-Service", 0x00),
];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, "tos") else {
        return Err(cx
            .error("`-m tos` needs `--tos`")
            .with_help("for example `-m tos --tos 0x10/0x3f` or `--tos Minimize-Delay`"));
    };
    let tos = parse_tos(&o.arg())?;
    Ok(Match::Tos(Tos {
        tos: Neg::inverted(tos, o.invert),
    }))
}

fn parse_tos(tok: &Token) -> Result<TosMask, RuleError> {
    let text = tok.text.as_str();
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        let (value, mask) = match text.split_once('/') {
            Some((v, m)) => (v, Some(m)),
            None => (text, None),
        };
        let num = |s: &str, what: &str| {
            parse_uint(&Token::new(s, tok.span), what, 0, 0xff).map(|v| v as u8)
        };
        return Ok(TosMask {
            value: num(value, "TOS value")?,
            mask: match mask {
                Some(m) => num(m, "TOS mask")?,
                None => 0xff,
            },
        });
    }
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(text))
        .map(|&(_, value)| TosMask { value, mask: 0x3f })
        .ok_or_else(|| {
            let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
            RuleError::new(tok.span, format!("unknown TOS name `{text}`")).with_help(format!(
                "give VALUE[/MASK] (e.g. 0x10/0x3f) or one of {}",
                names.join(", ")
            ))
        })
}

pub(crate) fn save(m: &Tos, _: &SaveCtx, out: &mut String) {
    let t = m.tos.value;
    save_opt_val(
        out,
        m.tos.invert,
        "tos",
        format!("0x{:02x}/0x{:02x}", t.value, t.mask),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    fn tos(s: &str) -> Result<TosMask, RuleError> {
        parse_tos(&Token::new(s, Span::new(0, s.len())))
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(
            tos("minimize-delay").expect("must parse"),
            TosMask {
                value: 0x10,
                mask: 0x3f
            }
        );
        assert_eq!(
            tos("16/0x3f").expect("must parse"),
            TosMask {
                value: 0x10,
                mask: 0x3f
            }
        );
        assert_eq!(
            tos("0x0f").expect("must parse"),
            TosMask {
                value: 0x0f,
                mask: 0xff
            }
        );
        for s in ["wrong", "0x100", "5/0x100", "Normal-Service/0x3", ""] {
            assert!(tos(s).is_err(), "{s}");
        }
    }
}
