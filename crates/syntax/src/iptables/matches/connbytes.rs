//! `-m connbytes`: `[!] --connbytes FROM[:TO]`, `--connbytes-mode
//! packets|bytes|avgpkt`, `--connbytes-dir original|reply|both` (all three
//! required).
//!
//! The kernel keeps an inverted range as `from > to`; iptables-save prints
//! from that form, so `! --connbytes 5:5` prints without `!` and a range
//! ending at 0 or at 2^64-1 prints without its end.

use crate::iptables::ext::*;
use rampart_model::matches::connbytes::{Connbytes, ConnbytesDir, ConnbytesMode, ConnbytesRange};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "connbytes",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["connbytes"], Arity::One),
        OptSpec::new(&["connbytes-dir"], Arity::One),
        OptSpec::new(&["connbytes-mode"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let (mut range, mut mode, mut dir) = (None, None, None);
    for o in opts {
        o.check_invert(o.name == "connbytes")?;
        let t = o.arg();
        match o.name {
            "connbytes" => range = Some(Neg::inverted(parse_range(&t)?, o.invert)),
            "connbytes-mode" => {
                mode = Some(match t.text.as_str() {
                    "packets" => ConnbytesMode::Packets,
                    "bytes" => ConnbytesMode::Bytes,
                    "avgpkt" => ConnbytesMode::Avgpkt,
                    _ => {
                        return Err(RuleError::new(
                            t.span,
                            format!("unknown connbytes mode `{}`", t.text),
                        )
                        .with_help("modes are packets, bytes and avgpkt"))
                    }
                })
            }
            "connbytes-dir" => {
                dir = Some(match t.text.as_str() {
                    "original" => ConnbytesDir::Original,
                    "reply" => ConnbytesDir::Reply,
                    "both" => ConnbytesDir::Both,
                    _ => {
                        return Err(RuleError::new(
                            t.span,
                            format!("unknown connbytes direction `{}`", t.text),
                        )
                        .with_help("directions are original, reply and both"))
                    }
                })
            }
            _ => {}
        }
    }
    let missing = |opt: &str| {
        cx.error(format!("`-m connbytes` needs `--{opt}`"))
            .with_help("connbytes needs --connbytes, --connbytes-mode and --connbytes-dir")
    };
    Ok(Match::Connbytes(Connbytes {
        range: range.ok_or_else(|| missing("connbytes"))?,
        mode: mode.ok_or_else(|| missing("connbytes-mode"))?,
        dir: dir.ok_or_else(|| missing("connbytes-dir"))?,
    }))
}

/// `N`, `N:M`, `N:`, `:M` or `:` (an empty start is 0, an empty or absent
/// end is 2^64-1).
fn parse_range(t: &Token) -> Result<ConnbytesRange, RuleError> {
    let num = |s: &str, dflt: u64| -> Result<u64, RuleError> {
        if s.is_empty() {
            Ok(dflt)
        } else {
            parse_uint(&Token::new(s, t.span), "count", 0, u64::MAX)
        }
    };
    let (from, to) = match t.text.split_once(':') {
        Some((a, b)) => (num(a, 0)?, num(b, u64::MAX)?),
        None => (num(&t.text, 0)?, u64::MAX),
    };
    if t.text.is_empty() {
        return Err(RuleError::new(t.span, "empty connbytes range"));
    }
    if to < from {
        return Err(RuleError::new(
            t.span,
            format!("invalid range `{}`: {from} is greater than {to}", t.text),
        ));
    }
    Ok(ConnbytesRange { from, to })
}

pub(crate) fn save(m: &Connbytes, _: &SaveCtx, out: &mut String) {
    use std::fmt::Write;
    let r = m.range.value;
    // The kernel form: an inverted range is stored swapped.
    let (kfrom, kto) = if m.range.invert {
        (r.to, r.from)
    } else {
        (r.from, r.to)
    };
    let (invert, from, to) = if kfrom > kto {
        (true, kto, kfrom)
    } else {
        (false, kfrom, kto)
    };
    save_opt_val(out, invert, "connbytes", from);
    if to != 0 && to != u64::MAX {
        let _ = write!(out, ":{to}");
    }
    let mode = match m.mode {
        ConnbytesMode::Packets => "packets",
        ConnbytesMode::Bytes => "bytes",
        ConnbytesMode::Avgpkt => "avgpkt",
    };
    save_opt_val(out, false, "connbytes-mode", mode);
    let dir = match m.dir {
        ConnbytesDir::Original => "original",
        ConnbytesDir::Reply => "reply",
        ConnbytesDir::Both => "both",
    };
    save_opt_val(out, false, "connbytes-dir", dir);
}

#[cfg(test)]
mod tests {
    use super::super::limit::roundtrip;
    use super::*;

    #[test]
    fn inverted_ranges_print_from_the_kernel_form() {
        // Checked against iptables 1.8.9.
        for (input, printed) in [
            ("! --connbytes 5:5", "--connbytes 5:5"),
            ("--connbytes 0:0", "--connbytes 0"),
            ("! --connbytes 10", "! --connbytes 10"),
            ("! --connbytes 10:20", "! --connbytes 10:20"),
        ] {
            assert_eq!(
                roundtrip(
                    &format!("-m connbytes {input} --connbytes-mode bytes --connbytes-dir both"),
                    Family::Ipv4
                )
                .expect("valid test input"),
                format!("-m connbytes {printed} --connbytes-mode bytes --connbytes-dir both")
            );
        }
    }
}
