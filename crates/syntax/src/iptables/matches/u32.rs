//! `-m u32`: `[!] --u32 TESTS`.
//!
//! A port of libxt_u32's parser, character by character:
//!
//! ```text
//! tests    := location "=" value | tests "&&" location "=" value
//! value    := range | value "," range
//! range    := number | number ":" number
//! location := number | location operator number
//! operator := "&" | "<<" | ">>" | "@"
//! ```
//!
//! Numbers are read as `strtoul` with base 0 reads them (decimal, `0x` hex,
//! leading-`0` octal, an optional `+`, no `-`), blanks are allowed between
//! the parts (but not inside `<<`, `>>` and `&&`), and there are at most
//! `XT_U32_MAXSIZE` (10) tests, 10 location steps per test and 10 value
//! ranges per test. iptables-save prints every number in hex, in double
//! quotes: `--u32 "0x0>>0x16&0x3c@0xc>>0x1a&0x3c=0x0:0x3"`.

use crate::diag::Span;
use crate::iptables::ext::*;
use rampart_model::matches::u32::{U32Op, U32Step, U32Test, U32};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "u32",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["u32"], Arity::One)],
    build,
};

/// `XT_U32_MAXSIZE`: the most tests, location steps per test and value
/// ranges per test iptables accepts.
const MAX: usize = 10;

const HELP: &str = "write tests as LOCATION=VALUE[&&...], e.g. `--u32 \"6&0xFF=17\"`; a location is \
                    numbers joined by `&`, `<<`, `>>` or `@`, a value is ranges N or N:M joined by `,`";

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, "u32") else {
        return Err(cx.error("`-m u32` needs `--u32 TESTS`").with_help(HELP));
    };
    let tests = parse_tests(&o.arg())?;
    Ok(Match::U32(U32 {
        invert: o.invert,
        tests,
    }))
}

/// C's `isspace` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Reads an unsigned number at `start` as `xtables_strtoui(s, &end, .., 0,
/// UINT32_MAX)` does: leading blanks skipped, `-` refused, `+` allowed,
/// base 0 (`0x` hex, leading `0` octal, else decimal). Returns the value
/// and where the number ends, or `None` when there is no number there or
/// it does not fit in 32 bits.
pub(crate) fn strtoul(s: &[u8], start: usize) -> Option<(u32, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = start;
    while is_space(at(i)) {
        i += 1;
    }
    if at(i) == b'-' {
        return None;
    }
    if at(i) == b'+' {
        i += 1;
    }
    let (radix, from) =
        if at(i) == b'0' && at(i + 1) | 0x20 == b'x' && at(i + 2).is_ascii_hexdigit() {
            (16u64, i + 2)
        } else if at(i) == b'0' {
            // "0x" without a hex digit after it reads as the number 0.
            (8, i)
        } else {
            (10, i)
        };
    let mut v: u64 = 0;
    let mut j = from;
    while let Some(d) = char::from(at(j)).to_digit(radix as u32) {
        v = v.saturating_mul(radix).saturating_add(u64::from(d));
        j += 1;
    }
    if j == from {
        return None;
    }
    u32::try_from(v).ok().map(|v| (v, j))
}

/// The span of byte `at` of the token's text, when the token's source is
/// the text itself or the text in one pair of quotes; else the whole token.
fn char_span(tok: &Token, at: usize) -> Span {
    let len = tok.span.end.saturating_sub(tok.span.start);
    let off = if len == tok.text.len() {
        0
    } else if len == tok.text.len() + 2 {
        1
    } else {
        return tok.span;
    };
    let start = tok.span.start.saturating_add(off + at).min(tok.span.end);
    Span::new(start, start.saturating_add(1).min(tok.span.end))
}

/// Parses the argument of `--u32` as `u32_parse` in libxt_u32.c does.
fn parse_tests(tok: &Token) -> Result<Vec<U32Test>, RuleError> {
    let s = tok.text.as_bytes();
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let err = |i: usize, msg: &str| {
        RuleError::new(char_span(tok, i), format!("u32: at char {i}: {msg}")).with_help(HELP)
    };
    let number = |i: &mut usize| -> Result<u32, RuleError> {
        let (v, end) =
            strtoul(s, *i).ok_or_else(|| err(*i, "not a number or out of range 0-0xffffffff"))?;
        *i = end;
        Ok(v)
    };
    let mut tests = Vec::new();
    let mut location: Vec<U32Step> = Vec::new();
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    // false: reading the location; true: reading the value ranges.
    let mut in_value = false;
    let mut i = 0;
    loop {
        while is_space(at(i)) {
            i += 1;
        }
        if i >= s.len() {
            if !in_value {
                return Err(err(i, "abrupt end of input after location specifier"));
            }
            if ranges.is_empty() {
                return Err(err(i, "test ended with no value specified"));
            }
            tests.push(U32Test { location, ranges });
            if tests.len() > MAX {
                return Err(err(i, "too many `&&`s (at most 10 tests)"));
            }
            return Ok(tests);
        }
        if !in_value {
            if at(i) == b'=' {
                if location.is_empty() {
                    return Err(err(i, "location spec missing"));
                }
                i += 1;
                in_value = true;
                continue;
            }
            let op = if location.is_empty() {
                U32Op::At
            } else {
                let op = match at(i) {
                    b'&' => U32Op::And,
                    b'<' => {
                        i += 1;
                        if at(i) != b'<' {
                            return Err(err(i, "a second `<` was expected"));
                        }
                        U32Op::Shl
                    }
                    b'>' => {
                        i += 1;
                        if at(i) != b'>' {
                            return Err(err(i, "a second `>` was expected"));
                        }
                        U32Op::Shr
                    }
                    b'@' => U32Op::At,
                    _ => return Err(err(i, "operator expected (`&`, `<<`, `>>`, `@` or `=`)")),
                };
                i += 1;
                op
            };
            let number = number(&mut i)?;
            location.push(U32Step { op, number });
            if location.len() > MAX {
                return Err(err(
                    i,
                    "too many operators (at most 10 numbers in a location)",
                ));
            }
        } else if at(i) == b'&' {
            i += 1;
            if at(i) != b'&' {
                return Err(err(i, "a second `&` was expected"));
            }
            if ranges.is_empty() {
                return Err(err(i, "value spec missing"));
            }
            tests.push(U32Test {
                location: std::mem::take(&mut location),
                ranges: std::mem::take(&mut ranges),
            });
            if tests.len() > MAX {
                return Err(err(i, "too many `&&`s (at most 10 tests)"));
            }
            i += 1;
            in_value = false;
        } else {
            if !ranges.is_empty() {
                if at(i) != b',' {
                    return Err(err(i, "expected `,` or `&&`"));
                }
                i += 1;
            }
            let min = number(&mut i)?;
            while is_space(at(i)) {
                i += 1;
            }
            let max = if at(i) == b':' {
                i += 1;
                number(&mut i)?
            } else {
                min
            };
            ranges.push((min, max));
            if ranges.len() > MAX {
                return Err(err(i, "too many `,`s (at most 10 ranges in a value)"));
            }
        }
    }
}

pub(crate) fn save(m: &U32, _: &SaveCtx, out: &mut String) {
    use std::fmt::Write;
    save_opt(out, m.invert, "u32");
    out.push_str(" \"");
    for (k, t) in m.tests.iter().enumerate() {
        if k > 0 {
            out.push_str("&&");
        }
        for (j, step) in t.location.iter().enumerate() {
            if j > 0 {
                out.push_str(match step.op {
                    U32Op::And => "&",
                    U32Op::Shl => "<<",
                    U32Op::Shr => ">>",
                    U32Op::At => "@",
                });
            }
            let _ = write!(out, "0x{:x}", step.number);
        }
        out.push('=');
        for (j, &(min, max)) in t.ranges.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            if min == max {
                let _ = write!(out, "0x{min:x}");
            } else {
                let _ = write!(out, "0x{min:x}:0x{max:x}");
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::super::limit::roundtrip;
    use super::*;

    fn rt(rule: &str) -> Result<String, String> {
        roundtrip(rule, Family::Ipv4)
    }

    #[test]
    fn prints_every_number_in_hex() {
        // Checked against iptables 1.8.9.
        assert_eq!(
            rt("-m u32 --u32 '0&0xFFFF=0x100:0xFFFF && 6 & 0xFF = 17 && 0 >> 22 & 0x3C @ 0 >> 16 = 53,0x35:060'"),
            Ok("-m u32 --u32 \"0x0&0xffff=0x100:0xffff&&0x6&0xff=0x11&&0x0>>0x16&0x3c@0x0>>0x10=0x35,0x35:0x30\"".into())
        );
        assert_eq!(
            rt("-m u32 ! --u32 +5=1"),
            Ok("-m u32 ! --u32 \"0x5=0x1\"".into())
        );
        assert_eq!(
            rt("-m u32 --u32 \"0x0=0x0&&0x0=0x1\""),
            Ok("-m u32 --u32 \"0x0=0x0&&0x0=0x1\"".into())
        );
        // A reversed range is kept as written.
        assert_eq!(
            rt("-m u32 --u32 4=10:1"),
            Ok("-m u32 --u32 \"0x4=0xa:0x1\"".into())
        );
        assert_eq!(
            rt("-m u32 --u32 4=4294967295"),
            Ok("-m u32 --u32 \"0x4=0xffffffff\"".into())
        );
    }

    #[test]
    fn limits_are_ten_of_each() {
        let tests = |n: usize| vec!["0=0"; n].join("&&");
        assert!(rt(&format!("-m u32 --u32 {}", tests(10))).is_ok());
        assert!(rt(&format!("-m u32 --u32 {}", tests(11))).is_err());
        let loc = |n: usize| vec!["0"; n].join("@");
        assert!(rt(&format!("-m u32 --u32 {}=0", loc(10))).is_ok());
        assert!(rt(&format!("-m u32 --u32 {}=0", loc(11))).is_err());
        let vals = |n: usize| vec!["1:2"; n].join(",");
        assert!(rt(&format!("-m u32 --u32 0={}", vals(10))).is_ok());
        assert!(rt(&format!("-m u32 --u32 0={}", vals(11))).is_err());
    }

    #[test]
    fn bad_tests_are_rejected_with_the_position() {
        for (bad, msg) in [
            ("", "abrupt end"),
            ("5", "abrupt end"),
            ("5=", "no value"),
            ("=5", "location spec missing"),
            ("5<3=1", "second `<`"),
            ("5>3=1", "second `>`"),
            ("5 3=1", "operator expected"),
            ("5=1&2", "second `&`"),
            ("5=&&6=1", "value spec missing"),
            ("5=1 2", "expected `,` or `&&`"),
            ("5=08", "expected `,` or `&&`"),
            ("5=0x", "expected `,` or `&&`"),
            ("-5=1", "not a number"),
            ("5=-1", "not a number"),
            ("5=4294967296", "not a number"),
            ("5=1&&", "abrupt end"),
            ("5=1,", "not a number"),
            ("5=1:", "not a number"),
            ("5&=1", "not a number"),
            ("5<<", "not a number"),
            ("5=1:2:3", "expected `,` or `&&`"),
        ] {
            let e = rt(&format!("-m u32 --u32 '{bad}'")).expect_err(bad);
            assert!(e.contains(msg), "{bad}: {e}");
        }
        assert!(rt("-m u32").is_err());
        assert!(rt("-m u32 --u32 1=1 --u32 2=2").is_err());
    }

    #[test]
    fn errors_point_at_the_character() {
        let tok = Token::new("5=1 2", Span::new(10, 17));
        let e = parse_tests(&tok).expect_err("bad input");
        assert_eq!(e.span, Span::new(15, 16));
        assert_eq!(e.message, "u32: at char 4: expected `,` or `&&`");
    }

    #[test]
    fn strtoul_reads_like_c() {
        assert_eq!(strtoul(b" +0x1F", 0), Some((31, 6)));
        assert_eq!(strtoul(b"017", 0), Some((15, 3)));
        assert_eq!(strtoul(b"0x", 0), Some((0, 1)));
        assert_eq!(strtoul(b"09", 0), Some((0, 1)));
        assert_eq!(strtoul(b"-1", 0), None);
        assert_eq!(strtoul(b"", 0), None);
        assert_eq!(strtoul(b"99999999999999999999999", 0), None);
    }
}
