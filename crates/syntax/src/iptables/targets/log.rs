//! `-j LOG`: `--log-level`, `--log-prefix` and the `--log-*` flags.
//!
//! iptables-save prints the prefix first, then the level as a number
//! (omitted when it is the default `warning`), then the flags in a fixed
//! order. A prefix longer than 29 bytes is cut to 29, as iptables does.

use crate::iptables::ext::*;
use rampart_model::targets::log::{Log, LogLevel};

pub(crate) static EXT: TargetExt = TargetExt {
    name: "LOG",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["log-level"], Arity::One),
        OptSpec::new(&["log-prefix"], Arity::One),
        OptSpec::new(&["log-tcp-sequence"], Arity::None),
        OptSpec::new(&["log-tcp-options"], Arity::None),
        OptSpec::new(&["log-ip-options"], Arity::None),
        OptSpec::new(&["log-uid"], Arity::None),
        OptSpec::new(&["log-macdecode"], Arity::None),
    ],
    build,
};

/// Level names iptables accepts (`xtoptions.c`), case-sensitive.
const LEVEL_NAMES: &[(&str, LogLevel)] = &[
    ("alert", LogLevel::Alert),
    ("crit", LogLevel::Crit),
    ("debug", LogLevel::Debug),
    ("emerg", LogLevel::Emerg),
    ("error", LogLevel::Err),
    ("info", LogLevel::Info),
    ("notice", LogLevel::Notice),
    ("panic", LogLevel::Emerg),
    ("warning", LogLevel::Warning),
];

fn build(opts: &[OptOcc], _: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    let mut log = Log::default();
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "log-level" => log.level = parse_level(&o.arg())?,
            "log-prefix" => log.prefix = Some(parse_prefix(&o.arg(), Log::MAX_PREFIX)?),
            "log-tcp-sequence" => log.tcp_sequence = true,
            "log-tcp-options" => log.tcp_options = true,
            "log-ip-options" => log.ip_options = true,
            "log-uid" => log.uid = true,
            "log-macdecode" => log.macdecode = true,
            _ => {}
        }
    }
    Ok(Target::Log(log))
}

/// A syslog level: a name or a number 0-7 (`strtoul` base 0, leading
/// blanks allowed, as iptables reads it).
fn parse_level(tok: &Token) -> Result<LogLevel, RuleError> {
    let t = tok.text.as_str();
    if let Some(&(_, l)) = LEVEL_NAMES.iter().find(|(n, _)| *n == t) {
        return Ok(l);
    }
    let num = Token::new(t.trim_start(), tok.span);
    Some(())
        .filter(|_| !t.ends_with(|c: char| c.is_ascii_whitespace()))
        .and_then(|_| parse_uint(&num, "log level", 0, 7).ok())
        .and_then(|n| LogLevel::from_number(n as u8))
        .ok_or_else(|| {
            RuleError::new(tok.span, format!("unknown log level `{t}`"))
                .with_help("use 0-7 or emerg, alert, crit, error, warning, notice, info, debug")
        })
}

/// A log prefix: not empty, no newline, cut to `max` bytes (at a
/// character boundary) as iptables cuts it.
pub(crate) fn parse_prefix(tok: &Token, max: usize) -> Result<String, RuleError> {
    let t = tok.text.as_str();
    if t.is_empty() {
        return Err(RuleError::new(tok.span, "the log prefix must not be empty")
            .with_help("leave the option out for no prefix"));
    }
    if t.contains('\n') {
        return Err(RuleError::new(
            tok.span,
            "newlines are not allowed in a log prefix",
        ));
    }
    let mut end = t.len().min(max);
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    Ok(t[..end].to_string())
}

pub(crate) fn save(l: &Log, _: &SaveCtx, out: &mut String) {
    if let Some(p) = l.prefix.as_deref().filter(|p| !p.is_empty()) {
        save_opt(out, false, "log-prefix");
        save_string(out, p);
    }
    if l.level != LogLevel::default() {
        save_opt_val(out, false, "log-level", l.level.number());
    }
    for (on, name) in [
        (l.tcp_sequence, "log-tcp-sequence"),
        (l.tcp_options, "log-tcp-options"),
        (l.ip_options, "log-ip-options"),
        (l.uid, "log-uid"),
        (l.macdecode, "log-macdecode"),
    ] {
        if on {
            save_opt(out, false, name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    fn tok(s: &str) -> Token {
        Token::new(s, Span::new(0, s.len()))
    }

    #[test]
    fn levels_by_name_and_number() {
        let p = |s: &str| parse_level(&tok(s)).ok();
        assert_eq!(p("panic"), Some(LogLevel::Emerg));
        assert_eq!(p("error"), Some(LogLevel::Err));
        assert_eq!(p("07"), Some(LogLevel::Debug));
        assert_eq!(p("0x3"), Some(LogLevel::Err));
        assert_eq!(p(" 5"), Some(LogLevel::Notice));
        for bad in ["warn", "err", "ALERT", "8", "5 ", "", "-1"] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }

    #[test]
    fn prefix_is_cut_at_29_bytes_on_a_char_boundary() {
        let long = "x".repeat(40);
        assert_eq!(parse_prefix(&tok(&long), 29).ok(), Some("x".repeat(29)));
        let wide = format!("{}é", "x".repeat(28));
        assert_eq!(parse_prefix(&tok(&wide), 29).ok(), Some("x".repeat(28)));
        assert!(parse_prefix(&tok(""), 29).is_err());
        assert!(parse_prefix(&tok("a\nb"), 29).is_err());
    }

    #[test]
    fn save_order_matches_iptables() {
        let l = Log {
            level: LogLevel::Debug,
            prefix: Some("a b".into()),
            tcp_sequence: true,
            macdecode: true,
            ..Default::default()
        };
        let mut out = String::new();
        save(
            &l,
            &SaveCtx {
                family: Family::Ipv4,
            },
            &mut out,
        );
        assert_eq!(
            out,
            " --log-prefix \"a b\" --log-level 7 --log-tcp-sequence --log-macdecode"
        );
    }

    /// Checked against iptables 1.8.9 (nf_tables) in a network namespace:
    /// `Some(printed)` when it accepts the line, `None` when it refuses it.
    #[test]
    fn rules_as_iptables_handles_them() {
        let v4 = Family::Ipv4;
        let v6 = Family::Ipv6;
        let cases: &[(Family, &str, &str, Option<&str>)] = &[
            (v4, "filter", "-A INPUT -j LOG --log-prefix 123456789012345678901234567890", Some("-j LOG --log-prefix 12345678901234567890123456789")),
            (v4, "filter", "-A INPUT -j LOG --log-level 4", Some("-j LOG")),
            (v4, "filter", "-A INPUT -j LOG --log-level warn", None),
            (v4, "filter", "-A INPUT -j LOG --log-level 8", None),
            (v4, "filter", "-A INPUT -j LOG --log-prefix \"\"", None),
            (v4, "filter", "-A INPUT -j LOG --log-prefix a.b", Some("-j LOG --log-prefix \"a.b\"")),
            (v4, "filter", "-A INPUT -j LOG --log-prefix \"a'b\"", Some("-j LOG --log-prefix \"a\\'b\"")),
            (v4, "filter", "-A INPUT -j LOG --log-level warning --log-macdecode --log-uid --log-ip-options --log-tcp-options --log-tcp-sequence --log-prefix x", Some("-j LOG --log-prefix x --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid --log-macdecode")),
            (v4, "filter", "-A INPUT -j LOG --log-prefix a --log-prefix b", None),
            (v4, "filter", "-A INPUT -j LOG ! --log-uid", None),
            (v6, "filter", "-A INPUT -j LOG --log-macdecode --log-level debug", Some("-j LOG --log-level 7 --log-macdecode")),
        ];
        crate::iptables::testutil::check_cases(cases);
    }
}
