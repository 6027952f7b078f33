//! `-j CLASSIFY --set-class MAJOR:MINOR` (mangle table; FORWARD, OUTPUT,
//! POSTROUTING). Both halves are hexadecimal, printed as `%04x:%04x`.

use crate::iptables::ext::*;
use rampart_model::targets::classify::Classify;
use std::fmt::Write;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "CLASSIFY",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["set-class"], Arity::One)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    cx.require_table(&[TableKind::Mangle])?;
    cx.require_hook(&[Hook::Forward, Hook::Output, Hook::Postrouting])?;
    at_most_once(opts)?;
    let Some(o) = find(opts, "set-class") else {
        return Err(cx
            .error("`CLASSIFY` needs --set-class MAJOR:MINOR")
            .with_help("e.g. `-j CLASSIFY --set-class 1:10`"));
    };
    o.check_invert(false)?;
    let tok = o.arg();
    let bad = || {
        RuleError::new(tok.span, format!("bad class `{}`", tok.text))
            .with_help("a class is MAJOR:MINOR, two hexadecimal numbers up to ffff")
    };
    let (maj, min) = tok.text.split_once(':').ok_or_else(bad)?;
    let hex = |s: &str| {
        let s = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        // Leading zeros are fine ("0000:ffff"); more than 16 bits is not.
        let digits = s.trim_start_matches('0');
        if digits.is_empty() {
            return Some(0);
        }
        u16::from_str_radix(digits, 16).ok()
    };
    let (Some(major), Some(minor)) = (hex(maj), hex(min)) else {
        return Err(bad());
    };
    Ok(Target::Classify(Classify { major, minor }))
}

pub(crate) fn save(c: &Classify, _: &SaveCtx, out: &mut String) {
    let _ = write!(out, " --set-class {:04x}:{:04x}", c.major, c.minor);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    use crate::diag::Span;

    fn class(s: &str) -> Result<Target, RuleError> {
        let o = OptOcc {
            name: "set-class",
            invert: false,
            args: vec![Token::new(s, Span::new(0, 0))],
            span: Span::new(0, 0),
        };
        let cx = RuleCtx {
            family: Family::Ipv4,
            table: TableKind::Mangle,
            chain: "FORWARD",
            hook: Some(Hook::Forward),
            protocol: None,
            name: "CLASSIFY",
            name_span: Span::new(0, 0),
        };
        build(&[o], &cx)
    }

    #[test]
    fn handles_are_16_bit_hex() {
        assert_eq!(
            class("0000:ffff").unwrap(),
            Target::Classify(Classify {
                major: 0,
                minor: 0xffff
            })
        );
        assert_eq!(
            class("1:0x10").unwrap(),
            Target::Classify(Classify {
                major: 1,
                minor: 0x10
            })
        );
        assert!(class("0000:ffffffff").is_err());
        assert!(class("1:-1").is_err());
        assert!(class("1").is_err());
        assert!(class(":1").is_err());
    }
}
