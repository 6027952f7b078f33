//! Source files, spans and located diagnostics.
//!
//! Every front end reports problems as [`Diagnostic`]s that carry the path,
//! line and column, the source line and a caret under the offending text,
//! and what was expected:
//!
//! ```text
//! rules.sh:12:17: error: unknown option `--dportt`
//!    12 | iptables -A INPUT -p tcp --dportt 22 -j ACCEPT
//!       |                          ^^^^^^^^
//!       = help: did you mean `--dport`?
//! ```

use serde::Serialize;
use std::fmt;

/// A byte range in a [`SourceFile`]'s text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// Shifts a span relative to a line into file coordinates.
    pub fn offset(self, by: usize) -> Span {
        Span {
            start: self.start + by,
            end: self.end + by,
        }
    }
}

/// A named text with a line index, for turning spans into `line:column`.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (
            u32::try_from(line + 1).unwrap_or(u32::MAX),
            u32::try_from(col + 1).unwrap_or(u32::MAX),
        )
    }

    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, line: u32) -> &str {
        let i = (line as usize).saturating_sub(1);
        let Some(&start) = self.line_starts.get(i) else {
            return "";
        };
        let end = self
            .line_starts
            .get(i + 1)
            .map_or(self.text.len(), |&e| e - 1);
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches('\r')
    }

    /// Byte offset where a 1-based line starts.
    pub fn line_start(&self, line: u32) -> usize {
        self.line_starts
            .get((line as usize).saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }

    /// The model origin of a span.
    pub fn origin(&self, span: Span) -> rampart_model::Origin {
        let (line, column) = self.line_col(span.start);
        rampart_model::Origin {
            file: self.path.clone(),
            line,
            column,
        }
    }

    /// Builds an error diagnostic located at `span`.
    pub fn error(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self, Severity::Error, span, message)
    }

    /// Builds a warning diagnostic located at `span`.
    pub fn warning(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self, Severity::Warning, span, message)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A problem found in a file, fully located and ready to print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub path: String,
    pub line: u32,
    /// 1-based, in characters.
    pub column: u32,
    /// Width of the caret underline, in characters (at least 1).
    pub width: u32,
    /// The source line the problem is on.
    pub source_line: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(
        file: &SourceFile,
        severity: Severity,
        span: Span,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = file.line_col(span.start);
        let source_line = file.line_text(line).to_string();
        // Underline at most to the end of the first line of the span.
        let line_start = file.line_start(line);
        let line_end = line_start + source_line.len();
        let end = span.end.clamp(span.start, line_end.max(span.start));
        let width = file
            .text
            .get(span.start.min(file.text.len())..end.min(file.text.len()))
            .map_or(1, |s| s.chars().count())
            .max(1);
        Diagnostic {
            severity,
            message: message.into(),
            path: file.path.clone(),
            line,
            column,
            width: u32::try_from(width).unwrap_or(u32::MAX),
            source_line,
            help: None,
        }
    }

    /// A diagnostic about a whole file (no useful position).
    pub fn file_level(path: &str, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            message: message.into(),
            path: path.to_string(),
            line: 1,
            column: 1,
            width: 1,
            source_line: String::new(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(
            f,
            "{}:{}:{}: {}: {}",
            self.path, self.line, self.column, sev, self.message
        )?;
        let num = self.line.to_string();
        let pad = " ".repeat(num.len());
        // Tabs would shift the caret; show them as single spaces.
        let shown: String = self
            .source_line
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .collect();
        writeln!(f, " {num} | {shown}")?;
        write!(
            f,
            " {pad} | {}{}",
            " ".repeat(self.column.saturating_sub(1) as usize),
            "^".repeat(self.width.max(1) as usize)
        )?;
        if let Some(help) = &self.help {
            write!(f, "\n {pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// Diagnostics of one file, in order.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(other);
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

/// What a front end returns: the model it could build (possibly partial when
/// there were errors) and every diagnostic of the file.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    pub value: T,
    pub diagnostics: Diagnostics,
}

impl<T> Parsed<T> {
    /// The value when there were no errors (warnings allowed).
    pub fn into_result(self) -> Result<(T, Diagnostics), Diagnostics> {
        if self.diagnostics.has_errors() {
            Err(self.diagnostics)
        } else {
            Ok((self.value, self.diagnostics))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_the_span() {
        let f = SourceFile::new("r.sh", "a\n-A INPUT --dportt 22\n");
        let d = f
            .error(Span::new(11, 19), "unknown option `--dportt`")
            .with_help("did you mean `--dport`?");
        assert_eq!(
            d.to_string(),
            "r.sh:2:10: error: unknown option `--dportt`\n 2 | -A INPUT --dportt 22\n   |          ^^^^^^^^\n   = help: did you mean `--dport`?"
        );
    }

    #[test]
    fn line_col_counts_characters() {
        let f = SourceFile::new("x", "é b\nc");
        assert_eq!(f.line_col(3), (1, 3));
        assert_eq!(f.line_col(5), (2, 1));
        assert_eq!(f.line_col(99), (2, 2));
    }
}
