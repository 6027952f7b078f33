//! Characters that web pages put into pasted shell commands: typographic
//! dashes where `--` or `-` was meant, curly quotes, no-break and
//! zero-width spaces.
//!
//! [`scan_hazards`] finds them (outside `#` comments, where they are
//! harmless) with their exact place and the ASCII text that was meant;
//! [`fix_pasted_text`] applies exactly those replacements, so the number it
//! returns is the number of diagnostics a parse reports for them.
//!
//! A dash becomes `--` when it starts a word and is followed by at least
//! two letters (`–dport` → `--dport`), else `-` (`–j` → `-j`,
//! `–-dport` → `--dport`, `1000–2000` → `1000-2000`).

use crate::diag::Span;

/// What kind of pasted character was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HazardKind {
    EnDash,
    EmDash,
    Minus,
    Hyphen,
    LeftSingleQuote,
    RightSingleQuote,
    LeftDoubleQuote,
    RightDoubleQuote,
    NoBreakSpace,
    ZeroWidthSpace,
}

impl HazardKind {
    fn of(c: char) -> Option<HazardKind> {
        Some(match c {
            '\u{2013}' => HazardKind::EnDash,
            '\u{2014}' => HazardKind::EmDash,
            '\u{2212}' => HazardKind::Minus,
            '\u{2010}' | '\u{2011}' => HazardKind::Hyphen,
            '\u{2018}' => HazardKind::LeftSingleQuote,
            '\u{2019}' => HazardKind::RightSingleQuote,
            '\u{201C}' => HazardKind::LeftDoubleQuote,
            '\u{201D}' => HazardKind::RightDoubleQuote,
            '\u{00A0}' | '\u{202F}' => HazardKind::NoBreakSpace,
            '\u{200B}' | '\u{FEFF}' => HazardKind::ZeroWidthSpace,
            _ => return None,
        })
    }

    /// What the character is called.
    pub fn description(self) -> &'static str {
        match self {
            HazardKind::EnDash => "en dash",
            HazardKind::EmDash => "em dash",
            HazardKind::Minus => "minus sign",
            HazardKind::Hyphen => "typographic hyphen",
            HazardKind::LeftSingleQuote => "left single quotation mark",
            HazardKind::RightSingleQuote => "right single quotation mark",
            HazardKind::LeftDoubleQuote => "left double quotation mark",
            HazardKind::RightDoubleQuote => "right double quotation mark",
            HazardKind::NoBreakSpace => "no-break space",
            HazardKind::ZeroWidthSpace => "zero-width space",
        }
    }
}

/// One pasted character: where it is, what it is, what was meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hazard {
    /// The character's bytes in the original text.
    pub span: Span,
    pub ch: char,
    pub kind: HazardKind,
    /// The ASCII text that replaces it (empty for a zero-width space).
    pub replacement: &'static str,
}

impl Hazard {
    /// The diagnostic message, e.g. "en dash `–` (U+2013) where `--` was meant".
    pub fn message(&self) -> String {
        let code = format!("U+{:04X}", u32::from(self.ch));
        match self.kind {
            HazardKind::NoBreakSpace => {
                format!(
                    "{} ({code}) where a plain space was meant",
                    self.kind.description()
                )
            }
            HazardKind::ZeroWidthSpace => {
                format!(
                    "invisible {} ({code}) in the command",
                    self.kind.description()
                )
            }
            _ => format!(
                "{} `{}` ({code}) where `{}` was meant",
                self.kind.description(),
                self.ch,
                self.replacement
            ),
        }
    }

    /// The suggested fix.
    pub fn help(&self) -> String {
        let what = match self.kind {
            HazardKind::NoBreakSpace => "replace it with a plain space".to_string(),
            HazardKind::ZeroWidthSpace => "delete it".to_string(),
            _ => format!("replace it with `{}`", self.replacement),
        };
        format!("{what}, or run with --fix to repair every character pasted from a web page")
    }
}

/// Finds every pasted character outside `#` comments, in order.
///
/// Quoting and comments are tracked the way the script lexer will see the
/// text once curly quotes are straightened, so both agree on what is a
/// comment.
pub fn scan_hazards(text: &str) -> Vec<Hazard> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut quote: Option<char> = None;
    let mut comment = false;
    // Was the previous (effective) character a word boundary?
    let mut at_word_start = true;
    let mut i = 0;
    while let Some(&(off, c)) = chars.get(i) {
        i += 1;
        if comment {
            if c == '\n' {
                comment = false;
                at_word_start = true;
            }
            continue;
        }
        let kind = HazardKind::of(c);
        let eff = match kind {
            Some(k) => {
                let replacement = replacement(k, at_word_start, &chars[i..]);
                out.push(Hazard {
                    span: Span::new(off, off + c.len_utf8()),
                    ch: c,
                    kind: k,
                    replacement,
                });
                match replacement.chars().next() {
                    Some(e) => e,
                    None => continue,
                }
            }
            None => c,
        };
        match quote {
            Some('\'') => {
                if eff == '\'' {
                    quote = None;
                }
            }
            Some(_) => match eff {
                '"' => quote = None,
                // `\"` inside double quotes: skip the escaped character.
                '\\' => i += 1,
                _ => {}
            },
            None => match eff {
                '\'' | '"' => quote = Some(eff),
                '\\' => i += 1,
                '#' if at_word_start => comment = true,
                _ => {}
            },
        }
        at_word_start =
            quote.is_none() && matches!(eff, ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')');
    }
    out
}

fn replacement(kind: HazardKind, at_word_start: bool, rest: &[(usize, char)]) -> &'static str {
    match kind {
        HazardKind::EnDash | HazardKind::EmDash | HazardKind::Minus | HazardKind::Hyphen => {
            let letters = rest
                .iter()
                .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '-')
                .count();
            let first_is_letter = rest.first().is_some_and(|(_, c)| c.is_ascii_alphabetic());
            if at_word_start && first_is_letter && letters >= 2 {
                "--"
            } else {
                "-"
            }
        }
        HazardKind::LeftSingleQuote | HazardKind::RightSingleQuote => "'",
        HazardKind::LeftDoubleQuote | HazardKind::RightDoubleQuote => "\"",
        HazardKind::NoBreakSpace => " ",
        HazardKind::ZeroWidthSpace => "",
    }
}

/// Replaces every pasted character [`scan_hazards`] finds with the ASCII
/// that was meant; returns the new text and how many were replaced.
///
/// ```
/// use rampart_syntax::script::fix_pasted_text;
/// let (fixed, n) = fix_pasted_text("iptables \u{2013}A INPUT \u{2013}\u{2013}dport 22 \u{2013}j ACCEPT # a \u{2013} b\n");
/// assert_eq!(fixed, "iptables -A INPUT --dport 22 -j ACCEPT # a \u{2013} b\n");
/// assert_eq!(n, 4);
/// ```
pub fn fix_pasted_text(text: &str) -> (String, usize) {
    let hazards = scan_hazards(text);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for h in &hazards {
        out.push_str(text.get(at..h.span.start).unwrap_or(""));
        out.push_str(h.replacement);
        at = h.span.end;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    (out, hazards.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests panic on purpose
mod tests {
    use super::*;

    #[test]
    fn dashes_become_options() {
        let (f, n) = fix_pasted_text("iptables \u{2013}A INPUT \u{2014}dport 22 \u{2013}j ACCEPT");
        assert_eq!(f, "iptables -A INPUT --dport 22 -j ACCEPT");
        assert_eq!(n, 3);
        let (f, _) = fix_pasted_text("x \u{2013}-dport 1000\u{2013}2000 \u{2212}p");
        assert_eq!(f, "x --dport 1000-2000 -p");
    }

    #[test]
    fn quotes_spaces_and_comments() {
        let (f, n) = fix_pasted_text(
            "a \u{201C}b c\u{201D}\u{00A0}d\u{200B} # \u{2019}x\u{2014}\n\u{2018}y\u{2019}",
        );
        assert_eq!(f, "a \"b c\" d # \u{2019}x\u{2014}\n'y'");
        assert_eq!(n, 6);
        // A `#` inside quotes does not start a comment.
        let (f, n) = fix_pasted_text("a '#' \u{2013}j");
        assert_eq!((f.as_str(), n), ("a '#' -j", 1));
    }

    #[test]
    fn messages_name_the_character() {
        let h = &scan_hazards("\u{2013}dport")[0];
        assert_eq!(
            h.message(),
            "en dash `\u{2013}` (U+2013) where `--` was meant"
        );
        assert!(h.help().contains("--fix"));
        let h = &scan_hazards("a\u{00A0}b")[0];
        assert_eq!(
            h.message(),
            "no-break space (U+00A0) where a plain space was meant"
        );
    }
}
