//! `-m esp`: `--espspi`. Also the parser and printer of 32-bit ranges
//! (`N`, `A:B`, `A:`, `:B`, `:`) shared by the m1 header matches.

use crate::iptables::ext::*;
use rampart_model::matches::esp::{Esp, U32Range};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "esp",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["espspi"], Arity::One)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    cx.require_proto(&[Protocol::ESP])?;
    at_most_once(opts)?;
    let mut m = Esp::default();
    if let Some(o) = find(opts, "espspi") {
        m.spi = Some(Neg::inverted(parse_u32_range(&o.arg(), "SPI")?, o.invert));
    }
    Ok(Match::Esp(m))
}

pub(crate) fn save(m: &Esp, _: &SaveCtx, out: &mut String) {
    save_range_unless_all(out, "espspi", m.spi.as_ref());
}

/// `N`, `A:B`, `A:` (to 4294967295), `:B` (from 0) or `:` as iptables'
/// `XTTYPE_UINT32RC` reads it; numbers may be hex (`0x`) or octal (`0`).
pub(crate) fn parse_u32_range(tok: &Token, what: &str) -> Result<U32Range, RuleError> {
    let max = u64::from(u32::MAX);
    let num = |s: &str, dflt: u32| -> Result<u32, RuleError> {
        if s.is_empty() {
            return Ok(dflt);
        }
        parse_uint(&Token::new(s, tok.span), what, 0, max).map(|v| v as u32)
    };
    match tok.text.split_once(':') {
        None => {
            if tok.text.is_empty() {
                return Err(RuleError::new(tok.span, format!("{what} is missing")));
            }
            Ok(U32Range::single(num(&tok.text, 0)?))
        }
        Some((a, b)) => {
            let (first, last) = (num(a, 0)?, num(b, u32::MAX)?);
            U32Range::new(first, last).ok_or_else(|| {
                RuleError::new(
                    tok.span,
                    format!(
                        "invalid {what} range `{}`: start is greater than end",
                        tok.text
                    ),
                )
                .with_help(format!("write `{last}:{first}`"))
            })
        }
    }
}

/// Prints ` [!] --name N[:M]`, omitted when the range covers every value
/// and is not inverted (what iptables does for SPIs, ids, segments left).
pub(crate) fn save_range_unless_all(out: &mut String, name: &str, r: Option<&Neg<U32Range>>) {
    if let Some(r) = r {
        if r.value != U32Range::ALL || r.invert {
            save_opt_val(out, r.invert, name, r.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip;

    #[test]
    fn open_ranges_are_closed() {
        assert_eq!(
            roundtrip("-p esp -m esp --espspi :32"),
            Ok("-p esp -m esp --espspi 0:32".into())
        );
        assert_eq!(
            roundtrip("-p esp -m esp --espspi 4:"),
            Ok("-p esp -m esp --espspi 4:4294967295".into())
        );
        assert_eq!(
            roundtrip("-p esp -m esp --espspi :"),
            Ok("-p esp -m esp".into())
        );
        assert_eq!(
            roundtrip("-p esp -m esp ! --espspi :"),
            Ok("-p esp -m esp ! --espspi 0:4294967295".into())
        );
    }

    #[test]
    fn bad_values_are_rejected() {
        for bad in ["-1", "4:3", "4294967296", "x", "0:x"] {
            assert!(roundtrip(&format!("-p esp -m esp --espspi {bad}")).is_err());
        }
        assert!(roundtrip("-m esp --espspi 1").is_err());
    }
}
