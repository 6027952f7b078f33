//! `-j LED --led-trigger-id ID [--led-delay MS|inf] [--led-always-blink]`.
//!
//! iptables-save always quotes the id, and prints an infinite delay as
//! `-1` (it prints the unsigned delay with `%d`); `-1` reads back as
//! infinite.

use crate::iptables::ext::*;
use rampart_model::targets::led::{Led, LedDelay};

pub(crate) static EXT: TargetExt = TargetExt {
    name: "LED",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["led-trigger-id"], Arity::One),
        OptSpec::new(&["led-delay"], Arity::One),
        OptSpec::new(&["led-always-blink"], Arity::None),
    ],
    build,
};

/// Longest id: `char id[27]` holds `netfilter-` + id + NUL.
const ID_MAX: usize = 16;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    let mut led = Led::default();
    let mut id = None;
    for o in opts {
        o.check_invert(false)?;
        let tok = o.arg();
        match o.name {
            "led-trigger-id" => {
                if tok.text.is_empty() || tok.text.len() > ID_MAX {
                    return Err(RuleError::new(
                        tok.span,
                        format!("a LED trigger id has 1 to {ID_MAX} bytes"),
                    ));
                }
                id = Some(tok.text.clone());
            }
            "led-delay" => led.delay = parse_delay(&tok)?,
            _ => led.always_blink = true,
        }
    }
    led.trigger_id = id.ok_or_else(|| {
        cx.error("`LED` needs --led-trigger-id")
            .with_help("e.g. `-j LED --led-trigger-id ssh`")
    })?;
    Ok(Target::Led(led))
}

/// Milliseconds, `inf...`, or a negative number (read as C's `strtoul`
/// does, so `-1` is infinite). `None` for 0.
fn parse_delay(tok: &Token) -> Result<Option<LedDelay>, RuleError> {
    if tok
        .text
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case("inf"))
    {
        return Ok(Some(LedDelay::Infinite));
    }
    let ms = match tok.text.strip_prefix('-') {
        Some(neg) => {
            let n = parse_u32(&Token::new(neg, tok.span), "delay")?;
            0u32.wrapping_sub(n)
        }
        None => parse_u32(tok, "delay")?,
    };
    Ok(match ms {
        0 => None,
        u32::MAX => Some(LedDelay::Infinite),
        n => Some(LedDelay::Ms(n)),
    })
}

pub(crate) fn save(l: &Led, _: &SaveCtx, out: &mut String) {
    out.push_str(" --led-trigger-id \"");
    for c in l.trigger_id.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    match l.delay {
        None | Some(LedDelay::Ms(0)) => {}
        // `%d` of the unsigned field.
        Some(LedDelay::Ms(n)) => save_opt_val(out, false, "led-delay", n as i32),
        Some(LedDelay::Infinite) => save_opt_val(out, false, "led-delay", -1),
    }
    if l.always_blink {
        save_opt(out, false, "led-always-blink");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    use crate::diag::Span;

    #[test]
    fn delay_forms() {
        let d = |s: &str| parse_delay(&Token::new(s, Span::new(0, 0)));
        assert_eq!(d("inf").unwrap(), Some(LedDelay::Infinite));
        assert_eq!(d("INFINITE").unwrap(), Some(LedDelay::Infinite));
        assert_eq!(d("-1").unwrap(), Some(LedDelay::Infinite));
        assert_eq!(d("0").unwrap(), None);
        assert_eq!(d("42").unwrap(), Some(LedDelay::Ms(42)));
        assert!(d("soon").is_err());
    }

    #[test]
    fn save_quotes_the_id() {
        let mut s = String::new();
        let led = Led {
            trigger_id: "a\"b".into(),
            delay: Some(LedDelay::Infinite),
            always_blink: true,
        };
        save(
            &led,
            &SaveCtx {
                family: Family::Ipv4,
            },
            &mut s,
        );
        assert_eq!(
            s,
            " --led-trigger-id \"a\\\"b\" --led-delay -1 --led-always-blink"
        );
    }
}
