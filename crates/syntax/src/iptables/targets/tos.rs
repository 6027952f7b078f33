//! `-j TOS` (mangle table): `--set-tos VALUE[/MASK]` or a symbolic name,
//! `--and-tos`, `--or-tos`, `--xor-tos`. All reduce to `(value, mask)`,
//! printed as `--set-tos 0xVV/0xMM`.

use crate::iptables::ext::*;
use rampart_model::targets::tos::Tos;
use std::fmt::Write;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TOS",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["set-tos"], Arity::One),
        OptSpec::new(&["and-tos"], Arity::One),
        OptSpec::new(&["or-tos"], Arity::One),
        OptSpec::new(&["xor-tos"], Arity::One),
    ],
    build,
};

/// RFC 1349 names; they leave the two ECN bits alone (mask 0x3f).
const SYMBOLS: [(&str, u8); 5] = [
    ("Minimize-Delay", 0x10),
    ("Maximize-Throughput", 0x08),
    ("Maximize-Reliability", 0x04),
    ("Minimize-Cost", 0x02),
    ("Normal-Service", 0x00),
];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    cx.require_table(&[TableKind::Mangle])?;
    let mut tos: Option<(&OptOcc, Tos)> = None;
    for o in opts {
        o.check_invert(false)?;
        let tok = o.arg();
        let v = match o.name {
            "set-tos" => parse_set_tos(&tok)?,
            "and-tos" => Tos {
                value: 0,
                mask: !byte(&tok)?,
            },
            "or-tos" => {
                let b = byte(&tok)?;
                Tos { value: b, mask: b }
            }
            _ => Tos {
                value: byte(&tok)?,
                mask: 0,
            },
        };
        if let Some((first, _)) = tos.replace((o, v)) {
            return Err(RuleError::new(
                o.span,
                format!("`--{}` cannot be combined with `--{}`", o.name, first.name),
            ));
        }
    }
    tos.map(|(_, t)| Target::Tos(t)).ok_or_else(|| {
        cx.error("`TOS` needs --set-tos, --and-tos, --or-tos or --xor-tos")
            .with_help("e.g. `-j TOS --set-tos Minimize-Delay`")
    })
}

fn byte(tok: &Token) -> Result<u8, RuleError> {
    Ok(parse_uint(tok, "TOS", 0, 0xff)? as u8)
}

/// `VALUE[/MASK]` (mask defaults to 0xff) or a symbolic name (mask 0x3f).
fn parse_set_tos(tok: &Token) -> Result<Tos, RuleError> {
    if tok.text.starts_with(|c: char| c.is_ascii_digit()) {
        let (v, m) = match tok.text.split_once('/') {
            Some((v, m)) => (
                byte(&Token::new(v, tok.span))?,
                byte(&Token::new(m, tok.span))?,
            ),
            None => (byte(tok)?, 0xff),
        };
        return Ok(Tos { value: v, mask: m });
    }
    SYMBOLS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&tok.text))
        .map(|&(_, v)| Tos {
            value: v,
            mask: 0x3f,
        })
        .ok_or_else(|| {
            let names: Vec<&str> = SYMBOLS.iter().map(|(n, _)| *n).collect();
            RuleError::new(tok.span, format!("unknown TOS name `{}`", tok.text))
                .with_help(format!("use a number or one of {}", names.join(", ")))
        })
}

pub(crate) fn save(t: &Tos, _: &SaveCtx, out: &mut String) {
    let _ = write!(out, " --set-tos 0x{:02x}/0x{:02x}", t.value, t.mask);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    use crate::diag::Span;

    #[test]
    fn set_tos_forms() {
        let t = |s: &str| parse_set_tos(&Token::new(s, Span::new(0, 0)));
        assert_eq!(
            t("0x1f").unwrap(),
            Tos {
                value: 0x1f,
                mask: 0xff
            }
        );
        assert_eq!(
            t("16/0x3f").unwrap(),
            Tos {
                value: 0x10,
                mask: 0x3f
            }
        );
        assert_eq!(
            t("minimize-cost").unwrap(),
            Tos {
                value: 2,
                mask: 0x3f
            }
        );
        assert!(t("0x100").is_err());
        assert!(t("Fast").is_err());
        assert!(t("1/").is_err());
    }
}
