//! `-m string`: `[!] --string TEXT` or `[!] --hex-string |HEX|`, `--algo
//! bm|kmp`, `--from`, `--to`, `--icase`.
//!
//! The pattern is kept as bytes; iptables-save prints it as `--hex-string`
//! when it has a byte that is not printable ASCII or ends in a backslash,
//! and as a quoted `--string` otherwise, whichever option it was given with.

use crate::iptables::ext::*;
use rampart_model::matches::string::{StringAlgo, StringMatch};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "string",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["from"], Arity::One),
        OptSpec::new(&["to"], Arity::One),
        OptSpec::new(&["algo"], Arity::One),
        OptSpec::new(&["string"], Arity::One),
        OptSpec::new(&["hex-string"], Arity::One),
        OptSpec::new(&["icase"], Arity::None),
    ],
    build,
};

/// `XT_STRING_MAX_PATTERN_SIZE`.
const MAX_PATTERN: usize = 128;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = StringMatch {
        to: u16::MAX,
        ..StringMatch::default()
    };
    let mut pattern: Option<&OptOcc> = None;
    let mut algo = None;
    for o in opts {
        o.check_invert(matches!(o.name, "string" | "hex-string"))?;
        match o.name {
            "from" => m.from = parse_uint(&o.arg(), "offset", 0, 65535)? as u16,
            "to" => m.to = parse_uint(&o.arg(), "offset", 0, 65535)? as u16,
            "algo" => {
                let t = o.arg();
                algo =
                    Some(match t.text.as_str() {
                        "bm" => StringAlgo::Bm,
                        "kmp" => StringAlgo::Kmp,
                        other => return Err(RuleError::new(
                            t.span,
                            format!("unknown string search algorithm `{other}`"),
                        )
                        .with_help(
                            "use `--algo bm` (Boyer-Moore) or `--algo kmp` (Knuth-Pratt-Morris)",
                        )),
                    });
            }
            "string" | "hex-string" => {
                if let Some(prev) = pattern {
                    return Err(RuleError::new(
                        o.span,
                        format!("`--{}` conflicts with `--{}`", o.name, prev.name),
                    ));
                }
                pattern = Some(o);
                let t = o.arg();
                let bytes = if o.name == "string" {
                    if t.text.len() > MAX_PATTERN {
                        return Err(too_long(&t));
                    }
                    t.text.clone().into_bytes()
                } else {
                    parse_hex_string(&t)?
                };
                if bytes.is_empty() {
                    return Err(RuleError::new(t.span, "the pattern is empty"));
                }
                m.pattern = Neg::inverted(bytes, o.invert);
            }
            "icase" => m.icase = true,
            _ => {}
        }
    }
    if pattern.is_none() {
        return Err(cx.error("`-m string` needs `--string TEXT` or `--hex-string |HEX|`"));
    }
    let Some(algo) = algo else {
        return Err(cx
            .error("`-m string` needs `--algo`")
            .with_help("add `--algo bm` or `--algo kmp`"));
    };
    m.algo = algo;
    if m.from > m.to {
        let at = find(opts, "from").map_or(cx.name_span, |o| o.span);
        return Err(RuleError::new(
            at,
            format!("`--from {}` is after `--to {}`", m.from, m.to),
        ));
    }
    Ok(Match::StringMatch(m))
}

fn too_long(t: &Token) -> RuleError {
    RuleError::new(
        t.span,
        format!("the pattern is longer than {MAX_PATTERN} bytes"),
    )
}

/// iptables' `parse_hex_string`: text with `|hex bytes|` blocks (blanks
/// allowed between hex pairs) and `\c` literals outside them.
fn parse_hex_string(t: &Token) -> Result<Vec<u8>, RuleError> {
    let s = t.text.as_bytes();
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let err = |msg: &str| RuleError::new(t.span, msg.to_string());
    let mut out = Vec::new();
    let (mut i, mut hex, mut literal) = (0usize, false, false);
    while i < s.len() {
        if out.len() >= MAX_PATTERN {
            return Err(too_long(t));
        }
        if at(i) == b'\\' && !hex {
            literal = true;
        } else if at(i) == b'\\' {
            return Err(err("a `\\` literal cannot be inside a |hex| block"));
        } else if at(i) == b'|' {
            if hex {
                hex = false;
            } else {
                hex = true;
                while at(i + 1) == b' ' {
                    i += 1;
                }
            }
            if i + 1 >= s.len() {
                break;
            }
            i += 1;
        }
        if literal {
            if i + 1 >= s.len() {
                return Err(err("a `\\` at the end of the string escapes nothing"));
            }
            out.push(at(i + 1));
            i += 2;
            literal = false;
        } else if hex {
            if i + 1 >= s.len() {
                return Err(err("odd number of hex digits"));
            }
            if i + 2 >= s.len() {
                return Err(err("a |hex| block must end with `|`"));
            }
            let hi = hex_val(at(i));
            let lo = hex_val(at(i + 1));
            let (Some(hi), Some(lo)) = (hi, lo) else {
                let bad = if hi.is_none() { at(i) } else { at(i + 1) };
                return Err(err(&format!("invalid hex digit `{}`", char::from(bad)))
                    .with_help("a |hex| block holds pairs of hex digits, e.g. `|0d 0a|`"));
            };
            out.push(hi << 4 | lo);
            i += if at(i + 2) == b' ' { 3 } else { 2 };
        } else {
            out.push(at(i));
            i += 1;
        }
    }
    Ok(out)
}

fn hex_val(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// iptables' `is_hex_string`: any byte that is not printable ASCII, or a
/// trailing backslash.
fn needs_hex(p: &[u8]) -> bool {
    p.iter().any(|&b| !(0x20..=0x7e).contains(&b)) || p.last() == Some(&b'\\')
}

pub(crate) fn save(m: &StringMatch, _: &SaveCtx, out: &mut String) {
    use std::fmt::Write;
    let p = &m.pattern.value;
    if needs_hex(p) {
        save_opt(out, m.pattern.invert, "hex-string");
        out.push_str(" \"|");
        for b in p {
            let _ = write!(out, "{b:02x}");
        }
        out.push_str("|\"");
    } else {
        save_opt(out, m.pattern.invert, "string");
        out.push_str(" \"");
        for &b in p {
            if b == b'"' || b == b'\\' {
                out.push('\\');
            }
            out.push(char::from(b));
        }
        out.push('"');
    }
    save_opt_val(out, false, "algo", m.algo.name());
    if m.from != 0 {
        save_opt_val(out, false, "from", m.from);
    }
    if m.to != u16::MAX {
        save_opt_val(out, false, "to", m.to);
    }
    if m.icase {
        save_opt(out, false, "icase");
    }
}

#[cfg(test)]
mod tests {
    use super::super::limit::roundtrip;
    use super::*;

    fn v4(rule: &str) -> String {
        roundtrip(rule, Family::Ipv4).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn hex_strings() {
        let hex = |s: &str| parse_hex_string(&Token::new(s, Default::default()));
        assert_eq!(
            hex("|0a0a0a0a|").expect("valid test input"),
            vec![10, 10, 10, 10]
        );
        assert_eq!(
            hex("GET |20 2f|x").expect("valid test input"),
            b"GET  /x".to_vec()
        );
        assert_eq!(hex("a\\|b").expect("valid test input"), b"a|b".to_vec());
        assert!(hex("|0a").is_err());
        assert!(hex("|0g|").is_err());
        assert!(hex("|0a\\|").is_err());
        assert!(hex("ab\\").is_err());
        // Printable hex prints back as a string; a trailing backslash as hex.
        assert_eq!(
            v4("-m string --hex-string |41|B --algo kmp --to 100 --icase"),
            "-m string --string \"AB\" --algo kmp --to 100 --icase"
        );
        assert_eq!(
            v4("-m string --string 'a\\\\' --algo bm"),
            "-m string --hex-string \"|615c|\" --algo bm"
        );
    }

    #[test]
    fn quoting_and_checks() {
        assert_eq!(
            v4("-m string ! --string 'say \"hi\"' --algo bm --from 5"),
            "-m string ! --string \"say \\\"hi\\\"\" --algo bm --from 5"
        );
        assert!(v4("-m string --string x --algo bm --from 10 --to 5").starts_with("ERR"));
        assert!(v4("-m string --string '' --algo bm").starts_with("ERR"));
        assert!(v4("-m string --string x --hex-string |00| --algo bm").starts_with("ERR"));
    }
}
