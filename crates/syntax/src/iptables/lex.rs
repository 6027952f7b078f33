//! Splitting an iptables-restore line into tokens with spans.

use crate::diag::Span;
use crate::iptables::ext::RuleError;

/// One word of a command line, unquoted, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    /// Where the word is in the file (or line), quotes included.
    pub span: Span,
}

impl Token {
    pub fn new(text: impl Into<String>, span: Span) -> Self {
        Token {
            text: text.into(),
            span,
        }
    }
}

/// Splits one line the way iptables-restore does: words separated by blanks,
/// `"..."` and `'...'` quoting, and `\` escaping the next character
/// (anywhere, as iptables-restore does).
/// Spans are relative to `line` shifted by `base`.
pub fn split_line(line: &str, base: usize) -> Result<Vec<Token>, RuleError> {
    let mut tokens = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_ascii_whitespace() {
            chars.next();
            continue;
        }
        let mut text = String::new();
        let mut quote: Option<(char, usize)> = None;
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            match quote {
                None if c.is_ascii_whitespace() => break,
                None if c == '"' || c == '\'' => quote = Some((c, i)),
                Some((q, _)) if c == q => quote = None,
                _ if c == '\\' => {
                    chars.next();
                    end = i + 1;
                    match chars.peek() {
                        Some(&(j, n)) => {
                            // As in iptables-restore, `\` escapes any
                            // character, inside quotes or not.
                            text.push(n);
                            end = j + n.len_utf8();
                        }
                        None => text.push('\\'),
                    }
                    chars.next();
                    continue;
                }
                _ => text.push(c),
            }
            end = i + c.len_utf8();
            chars.next();
        }
        if let Some((_, at)) = quote {
            return Err(
                RuleError::new(Span::new(base + at, base + at + 1), "unterminated quote")
                    .with_help("close the quote on the same line"),
            );
        }
        tokens.push(Token::new(text, Span::new(base + start, base + end)));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        split_line(s, 0)
            .unwrap()
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            words(r#"-A INPUT -m comment --comment "a b \"c\"" -j ACCEPT"#),
            [
                "-A",
                "INPUT",
                "-m",
                "comment",
                "--comment",
                "a b \"c\"",
                "-j",
                "ACCEPT"
            ]
        );
        assert_eq!(words("--log-prefix 'x y: '"), ["--log-prefix", "x y: "]);
        assert!(split_line("--comment \"abc", 0).is_err());
        let t = split_line("  -p  tcp", 10).unwrap();
        assert_eq!(t[1].span, Span::new(16, 19));
    }
}
