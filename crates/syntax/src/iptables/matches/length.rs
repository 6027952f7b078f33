//! `-m length`: `[!] --length MIN[:MAX]`.

use crate::iptables::ext::*;
use rampart_model::matches::length::{Length, U16Range};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "length",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["length"], Arity::One)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, "length") else {
        return Err(cx
            .error("`-m length` needs `--length`")
            .with_help("for example `-m length --length 0:128`"));
    };
    let length = Neg::inverted(parse_u16_range(&o.arg(), "length")?, o.invert);
    Ok(Match::Length(Length { length }))
}

/// `N`, `MIN:MAX`, `MIN:` (to 65535), `:MAX` (from 0) or `:` (all), each
/// number decimal, `0x` hex or `0` octal as iptables reads it.
pub(crate) fn parse_u16_range(tok: &Token, what: &str) -> Result<U16Range, RuleError> {
    let num = |s: &str, default: u16| -> Result<u16, RuleError> {
        if s.is_empty() {
            return Ok(default);
        }
        parse_uint(&Token::new(s, tok.span), what, 0, 65535).map(|v| v as u16)
    };
    let range = match tok.text.split_once(':') {
        None => U16Range::single(num(&tok.text, 0).and_then(|v| {
            if tok.text.is_empty() {
                Err(RuleError::new(tok.span, format!("empty {what}")))
            } else {
                Ok(v)
            }
        })?),
        Some((a, b)) => U16Range {
            min: num(a, 0)?,
            max: num(b, u16::MAX)?,
        },
    };
    if range.min > range.max {
        return Err(RuleError::new(
            tok.span,
            format!(
                "invalid {what} range `{}`: {} is greater than {}",
                tok.text, range.min, range.max
            ),
        )
        .with_help(format!(
            "write the smaller number first: `{}:{}`",
            range.max, range.min
        )));
    }
    Ok(range)
}

pub(crate) fn save(m: &Length, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, m.length.invert, "length", m.length.value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    fn range(s: &str) -> Result<U16Range, RuleError> {
        parse_u16_range(&Token::new(s, Span::new(0, s.len())), "length")
    }

    #[test]
    fn open_ends_and_bases() {
        assert_eq!(
            range(":").expect("must parse"),
            U16Range { min: 0, max: 65535 }
        );
        assert_eq!(range("4:").expect("must parse").to_string(), "4:65535");
        assert_eq!(range(":2").expect("must parse").to_string(), "0:2");
        assert_eq!(range("4:4").expect("must parse").to_string(), "4");
        assert_eq!(range("0x10:020").expect("must parse").to_string(), "16");
    }

    #[test]
    fn bad_ranges_fail() {
        for s in ["", "0:65536", "-1:65535", "4:3", "a", "1:2:3"] {
            assert!(range(s).is_err(), "{s}");
        }
    }
}
