//! The shell lexer for the subset of `sh` that firewall scripts use.
//!
//! It turns the script into [`Item`]s: words (made of literal, quoted and
//! `$VAR` segments, expanded later by the interpreter when the variables'
//! values are known), operators (`;`, newline, `|`, `&&`, `||`, `&`, `(`,
//! `)`, `;;`) and redirections. Every piece keeps the byte span it has in
//! the original file, also across `\` line continuations and pasted
//! characters (which the lexer reads as the ASCII that was meant).
//!
//! Constructs the interpreter does not run (`$(...)`, backticks, `$((...))`,
//! `$1`, `$@`, `${#X}`, here-documents) are kept as located markers so the
//! interpreter can report them on the command that uses them.

use super::hazard::Hazard;
use crate::diag::Span;
use crate::iptables::ext::RuleError;

/// One character of the text as the lexer reads it, with the bytes of the
/// original text it stands for.
#[derive(Debug, Clone, Copy)]
struct Unit {
    c: char,
    // u32 keeps a unit at 12 bytes: one is built per character of the
    // script, and files are far below 4 GiB (the loader caps them).
    start: u32,
    end: u32,
}

impl Unit {
    fn start(&self) -> usize {
        self.start as usize
    }
    fn end(&self) -> usize {
        self.end as usize
    }
}

/// A `${NAME<op>word}` operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamOp {
    /// `:-` (`colon` true) or `-`: use the default.
    Default { colon: bool },
    /// `:=` or `=`: use and assign the default.
    Assign { colon: bool },
    /// `:+` or `+`: use the alternative when set.
    Alt { colon: bool },
}

/// A piece of a word.
#[derive(Debug, Clone)]
pub(crate) enum Seg {
    /// Literal text; `quoted` when it came from quotes or an escape (not
    /// subject to field splitting, not a keyword).
    Lit {
        text: String,
        span: Span,
        quoted: bool,
    },
    /// `$NAME` or `${NAME}` / `${NAME:-word}`.
    Var {
        name: String,
        op: Option<(ParamOp, Vec<Seg>)>,
        span: Span,
        quoted: bool,
    },
    /// A construct that is not supported, e.g. "command substitution `$(...)`".
    Unsupported { what: String, span: Span },
}

/// A word of the script, not yet expanded.
#[derive(Debug, Clone)]
pub(crate) struct Word {
    pub segs: Vec<Seg>,
    pub span: Span,
}

impl Word {
    /// The text when the word is a plain unquoted literal (keywords,
    /// assignment names, redirection fds).
    pub fn plain(&self) -> Option<String> {
        let mut s = String::new();
        for seg in &self.segs {
            match seg {
                Seg::Lit {
                    text,
                    quoted: false,
                    ..
                } => s.push_str(text),
                _ => return None,
            }
        }
        Some(s)
    }

    /// `NAME=` at the start of the word, unquoted: the name and the index
    /// of the segment and byte where the value starts.
    pub fn assignment(&self) -> Option<(String, Word)> {
        let Some(Seg::Lit {
            text,
            span,
            quoted: false,
        }) = self.segs.first()
        else {
            return None;
        };
        let (name, rest) = text.split_once('=')?;
        if !is_name(name) {
            return None;
        }
        let mut segs = Vec::new();
        if !rest.is_empty() {
            // The span of the rest: the value is after `NAME=`; across a
            // continuation the offsets may not be contiguous, so keep the
            // literal's end.
            let start = (span.start + name.len() + 1).min(span.end);
            segs.push(Seg::Lit {
                text: rest.to_string(),
                span: Span::new(start, span.end),
                quoted: false,
            });
        }
        segs.extend(self.segs.iter().skip(1).cloned());
        let start = (self.span.start + name.len() + 1).min(self.span.end);
        Some((
            name.to_string(),
            Word {
                segs,
                span: Span::new(start, self.span.end),
            },
        ))
    }
}

/// Is `s` a shell variable name?
pub(crate) fn is_name(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Operators that separate commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Newline,
    Semi,
    DoubleSemi,
    Pipe,
    And,
    Or,
    Amp,
    LParen,
    RParen,
}

impl Op {
    pub fn text(self) -> &'static str {
        match self {
            Op::Newline => "newline",
            Op::Semi => ";",
            Op::DoubleSemi => ";;",
            Op::Pipe => "|",
            Op::And => "&&",
            Op::Or => "||",
            Op::Amp => "&",
            Op::LParen => "(",
            Op::RParen => ")",
        }
    }
}

/// Redirection operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedirOp {
    /// `>` (also `>|`)
    Out,
    /// `>>`
    Append,
    /// `<`
    In,
    /// `&>` / `&>>`: stdout and stderr.
    OutErr,
    /// `>&` as in `2>&1`.
    Dup,
    /// `<<` / `<<-`
    HereDoc,
    /// `<<<`, `<>`, `<&`: not supported.
    Other,
}

/// A lexed item.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    Word(Word),
    Op(Op, Span),
    Redir {
        fd: Option<u32>,
        op: RedirOp,
        target: Option<Word>,
        span: Span,
    },
    /// The lexer reported an error in this command; the interpreter skips
    /// the command without saying more.
    Broken,
}

/// Lexes a whole script. Pasted characters in `hazards` are read as their
/// replacements; the errors returned are about the text itself
/// (unterminated quotes).
pub(crate) fn lex(text: &str, hazards: &[Hazard]) -> (Vec<Item>, Vec<RuleError>) {
    let mut units = Vec::with_capacity(text.len());
    let mut hz = hazards.iter().peekable();
    for (off, c) in text.char_indices() {
        let end = off + c.len_utf8();
        if let Some(h) = hz.peek().filter(|h| h.span.start == off) {
            for r in h.replacement.chars() {
                units.push(Unit {
                    c: r,
                    start: to_u32(off),
                    end: to_u32(end),
                });
            }
            hz.next();
            continue;
        }
        units.push(Unit {
            c,
            start: to_u32(off),
            end: to_u32(end),
        });
    }
    let mut lx = Lexer {
        u: units,
        i: 0,
        items: Vec::new(),
        errors: Vec::new(),
        pending_heredocs: Vec::new(),
        text_len: text.len(),
    };
    lx.run();
    (lx.items, lx.errors)
}

/// A byte offset as stored in a [`Unit`] (saturates; scripts are small).
fn to_u32(off: usize) -> u32 {
    u32::try_from(off).unwrap_or(u32::MAX)
}

struct Lexer {
    u: Vec<Unit>,
    i: usize,
    items: Vec<Item>,
    errors: Vec<RuleError>,
    /// Delimiters of here-documents whose bodies start at the next newline
    /// (`strip_tabs` for `<<-`).
    pending_heredocs: Vec<(String, bool)>,
    text_len: usize,
}

/// Why reading a word stopped early.
enum Stop {
    Done,
    /// An unterminated quote or `${`: error already recorded.
    Broken,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.u.get(self.i).map(|u| u.c)
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.u.get(self.i + k).map(|u| u.c)
    }

    fn end_of(&self, i: usize) -> usize {
        i.checked_sub(1)
            .and_then(|k| self.u.get(k))
            .map_or(0, |u| u.end())
    }

    fn span_from(&self, start_idx: usize) -> Span {
        let start = self.u.get(start_idx).map_or(self.text_len, |u| u.start());
        Span::new(start, self.end_of(self.i).max(start))
    }

    fn run(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' => self.i += 1,
                '\\' if self.peek_at(1) == Some('\n') => self.i += 2,
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                }
                '\n' => {
                    let s = self.span_from(self.i);
                    self.i += 1;
                    self.items
                        .push(Item::Op(Op::Newline, Span::new(s.start, s.start)));
                    self.skip_heredoc_bodies();
                }
                ';' | '&' | '|' | '(' | ')' => self.operator(),
                '<' | '>' => self.redirection(None, self.i),
                _ => self.word_or_fd_redirection(),
            }
        }
    }

    fn operator(&mut self) {
        let start = self.i;
        let c = self.peek().unwrap_or(';');
        let next = self.peek_at(1);
        let (op, len) = match (c, next) {
            (';', Some(';')) => (Op::DoubleSemi, 2),
            (';', _) => (Op::Semi, 1),
            ('&', Some('&')) => (Op::And, 2),
            ('&', Some('>')) => return self.redirection(None, start),
            ('&', _) => (Op::Amp, 1),
            ('|', Some('|')) => (Op::Or, 2),
            ('|', _) => (Op::Pipe, 1),
            ('(', _) => (Op::LParen, 1),
            _ => (Op::RParen, 1),
        };
        self.i += len;
        let span = self.span_from(start);
        self.items.push(Item::Op(op, span));
    }

    /// A redirection starting at unit `start` (the fd digits, if any, were
    /// already read: `fd`).
    fn redirection(&mut self, fd: Option<u32>, start: usize) {
        let s = |l: &Lexer, k: usize| l.peek_at(k);
        let (op, len) = match (s(self, 0), s(self, 1), s(self, 2)) {
            (Some('&'), Some('>'), Some('>')) => (RedirOp::OutErr, 3),
            (Some('&'), Some('>'), _) => (RedirOp::OutErr, 2),
            (Some('>'), Some('>'), _) => (RedirOp::Append, 2),
            (Some('>'), Some('&'), _) => (RedirOp::Dup, 2),
            (Some('>'), Some('|'), _) => (RedirOp::Out, 2),
            (Some('>'), _, _) => (RedirOp::Out, 1),
            (Some('<'), Some('<'), Some('<')) => (RedirOp::Other, 3),
            (Some('<'), Some('<'), Some('-')) => (RedirOp::HereDoc, 3),
            (Some('<'), Some('<'), _) => (RedirOp::HereDoc, 2),
            (Some('<'), Some('>' | '&'), _) => (RedirOp::Other, 2),
            _ => (RedirOp::In, 1),
        };
        let strip_tabs = op == RedirOp::HereDoc && len == 3;
        self.i += len;
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.i += 1;
        }
        let target = match self.peek() {
            Some(c) if !matches!(c, '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>') => {
                match self.read_word(None) {
                    Ok(w) => Some(w),
                    Err(Stop::Broken) => {
                        self.broken();
                        return;
                    }
                    Err(Stop::Done) => None,
                }
            }
            _ => None,
        };
        if op == RedirOp::HereDoc {
            let delim = target
                .as_ref()
                .map(|w| {
                    w.segs
                        .iter()
                        .map(|s| match s {
                            Seg::Lit { text, .. } => text.clone(),
                            Seg::Var { name, .. } => format!("${name}"),
                            Seg::Unsupported { .. } => String::new(),
                        })
                        .collect::<String>()
                })
                .unwrap_or_default();
            self.pending_heredocs.push((delim, strip_tabs));
        }
        let span = Span::new(
            self.u.get(start).map_or(self.text_len, |u| u.start()),
            target
                .as_ref()
                .map_or_else(|| self.end_of(self.i), |w| w.span.end),
        );
        self.items.push(Item::Redir {
            fd,
            op,
            target,
            span,
        });
    }

    /// Skips the bodies of here-documents announced on the line just ended.
    fn skip_heredoc_bodies(&mut self) {
        for (delim, strip_tabs) in std::mem::take(&mut self.pending_heredocs) {
            loop {
                if self.peek().is_none() {
                    return;
                }
                let mut line = String::new();
                while let Some(c) = self.peek() {
                    self.i += 1;
                    if c == '\n' {
                        break;
                    }
                    line.push(c);
                }
                let line = line.trim_end_matches('\r');
                let line = if strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                if line == delim {
                    break;
                }
            }
        }
    }

    fn word_or_fd_redirection(&mut self) {
        let start = self.i;
        // `2>` / `2>&1`: digits directly before a redirection operator.
        let digits = self.u[self.i..]
            .iter()
            .take_while(|u| u.c.is_ascii_digit())
            .count();
        if digits > 0 && matches!(self.peek_at(digits), Some('<' | '>')) {
            let fd: String = self.u[self.i..self.i + digits]
                .iter()
                .map(|u| u.c)
                .collect();
            self.i += digits;
            return self.redirection(fd.parse().ok(), start);
        }
        match self.read_word(None) {
            Ok(w) => self.items.push(Item::Word(w)),
            Err(Stop::Broken) => self.broken(),
            Err(Stop::Done) => {
                // Nothing was read; make progress.
                self.i += 1;
            }
        }
    }

    /// After an unterminated quote: drop the rest of the command's line.
    fn broken(&mut self) {
        self.items.push(Item::Broken);
    }

    fn push_lit(segs: &mut Vec<Seg>, c: char, u: Unit, quoted: bool) {
        if let Some(Seg::Lit {
            text,
            span,
            quoted: q,
        }) = segs.last_mut()
        {
            if *q == quoted {
                text.push(c);
                span.end = u.end();
                return;
            }
        }
        segs.push(Seg::Lit {
            text: c.to_string(),
            span: Span::new(u.start(), u.end()),
            quoted,
        });
    }

    /// Reads one word (unquoted context). `stop` ends the word at that
    /// character too (the `}` of `${X:-word}`).
    fn read_word(&mut self, stop: Option<char>) -> Result<Word, Stop> {
        let start = self.i;
        let mut segs: Vec<Seg> = Vec::new();
        while let Some(u) = self.u.get(self.i).copied() {
            let c = u.c;
            if Some(c) == stop {
                break;
            }
            if stop.is_none()
                && matches!(
                    c,
                    ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>'
                )
            {
                break;
            }
            match c {
                '\\' => {
                    self.i += 1;
                    match self.u.get(self.i).copied() {
                        Some(n) if n.c == '\n' => self.i += 1,
                        Some(n) => {
                            self.i += 1;
                            Self::push_lit(&mut segs, n.c, n, true);
                        }
                        None => Self::push_lit(&mut segs, '\\', u, false),
                    }
                }
                '\'' => {
                    self.i += 1;
                    let mut closed = false;
                    // An empty '' still makes a (quoted, empty) word.
                    segs.push(Seg::Lit {
                        text: String::new(),
                        span: Span::new(u.start(), u.end()),
                        quoted: true,
                    });
                    while let Some(q) = self.u.get(self.i).copied() {
                        self.i += 1;
                        if q.c == '\'' {
                            closed = true;
                            break;
                        }
                        Self::push_lit(&mut segs, q.c, q, true);
                    }
                    if !closed {
                        return Err(self.unterminated(u, "'"));
                    }
                }
                '"' => {
                    self.i += 1;
                    segs.push(Seg::Lit {
                        text: String::new(),
                        span: Span::new(u.start(), u.end()),
                        quoted: true,
                    });
                    self.read_double_quoted(&mut segs, u)?;
                }
                '$' => self.dollar(&mut segs, false)?,
                '`' => self.backtick(&mut segs),
                _ => {
                    self.i += 1;
                    Self::push_lit(&mut segs, c, u, false);
                }
            }
        }
        if self.i == start {
            return Err(Stop::Done);
        }
        // Most words are one segment; a whole script is held as words.
        segs.shrink_to_fit();
        Ok(Word {
            segs,
            span: self.span_from(start),
        })
    }

    fn unterminated(&mut self, open: Unit, q: &str) -> Stop {
        self.errors.push(
            RuleError::new(
                Span::new(open.start(), open.end()),
                format!("unterminated quote `{q}`"),
            )
            .with_help(format!("close the quote with a matching `{q}`")),
        );
        // Resume after the line the quote opened on.
        self.i = self
            .u
            .iter()
            .position(|x| x.start() > open.start() && x.c == '\n')
            .unwrap_or(self.u.len());
        Stop::Broken
    }

    fn read_double_quoted(&mut self, segs: &mut Vec<Seg>, open: Unit) -> Result<(), Stop> {
        while let Some(u) = self.u.get(self.i).copied() {
            match u.c {
                '"' => {
                    self.i += 1;
                    return Ok(());
                }
                '\\' => {
                    self.i += 1;
                    match self.u.get(self.i).copied() {
                        Some(n) if n.c == '\n' => self.i += 1,
                        Some(n) if matches!(n.c, '$' | '`' | '"' | '\\') => {
                            self.i += 1;
                            Self::push_lit(segs, n.c, n, true);
                        }
                        _ => Self::push_lit(segs, '\\', u, true),
                    }
                }
                '$' => self.dollar(segs, true)?,
                '`' => self.backtick(segs),
                c => {
                    self.i += 1;
                    Self::push_lit(segs, c, u, true);
                }
            }
        }
        Err(self.unterminated(open, "\""))
    }

    /// Skips a balanced `( ... )` starting at the current `(`; returns
    /// false when it is not closed.
    fn skip_parens(&mut self) -> bool {
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            self.i += 1;
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some('"'), '\\') | (None, '\\') => self.i += 1,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(') => depth += 1,
                (None, ')') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return true;
                    }
                }
                _ => {}
            }
        }
        false
    }

    fn backtick(&mut self, segs: &mut Vec<Seg>) {
        let start = self.i;
        self.i += 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                '\\' => self.i += 1,
                '`' => break,
                _ => {}
            }
        }
        self.i = self.i.min(self.u.len());
        segs.push(Seg::Unsupported {
            what: "command substitution with backticks `...`".into(),
            span: self.span_from(start),
        });
    }

    /// `$...` in a word; `quoted` inside double quotes.
    fn dollar(&mut self, segs: &mut Vec<Seg>, quoted: bool) -> Result<(), Stop> {
        let start = self.i;
        let dollar = self.u[self.i];
        self.i += 1;
        match self.peek() {
            Some('(') => {
                let arith = self.peek_at(1) == Some('(');
                if !self.skip_parens() {
                    self.i = self.u.len();
                }
                segs.push(Seg::Unsupported {
                    what: if arith {
                        "arithmetic expansion `$((...))`".into()
                    } else {
                        "command substitution `$(...)`".into()
                    },
                    span: self.span_from(start),
                });
            }
            Some('{') => {
                self.i += 1;
                let name_start = self.i;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.i += 1;
                }
                let name: String = self.u[name_start..self.i].iter().map(|u| u.c).collect();
                let op = match (self.peek(), self.peek_at(1)) {
                    (Some('}'), _) => None,
                    (Some(':'), Some('-')) => Some((ParamOp::Default { colon: true }, 2)),
                    (Some(':'), Some('=')) => Some((ParamOp::Assign { colon: true }, 2)),
                    (Some(':'), Some('+')) => Some((ParamOp::Alt { colon: true }, 2)),
                    (Some('-'), _) => Some((ParamOp::Default { colon: false }, 1)),
                    (Some('='), _) => Some((ParamOp::Assign { colon: false }, 1)),
                    (Some('+'), _) => Some((ParamOp::Alt { colon: false }, 1)),
                    _ => {
                        // `${#X}`, `${X%pat}`, `${X/a/b}`, ...: skip to `}`.
                        let mut depth = 1usize;
                        while let Some(c) = self.peek() {
                            self.i += 1;
                            match c {
                                '{' => depth += 1,
                                '}' => {
                                    depth -= 1;
                                    if depth == 0 {
                                        break;
                                    }
                                }
                                _ => {}
                            }
                        }
                        let span = self.span_from(start);
                        segs.push(Seg::Unsupported {
                            what: "this parameter expansion (only `${NAME}`, `${NAME:-default}`, `${NAME:=default}` and `${NAME:+alt}` are supported)".into(),
                            span,
                        });
                        return Ok(());
                    }
                };
                let op = match op {
                    None => None,
                    Some((op, len)) => {
                        self.i += len;
                        let word = if self.peek() == Some('}') {
                            Vec::new()
                        } else {
                            match self.read_word(Some('}')) {
                                Ok(w) => w.segs,
                                Err(Stop::Done) => Vec::new(),
                                Err(b) => return Err(b),
                            }
                        };
                        Some((op, word))
                    }
                };
                if self.peek() != Some('}') {
                    self.errors.push(
                        RuleError::new(
                            Span::new(dollar.start(), dollar.end()),
                            "unterminated `${`",
                        )
                        .with_help("close it with `}`"),
                    );
                    return Err(Stop::Broken);
                }
                self.i += 1;
                let span = self.span_from(start);
                if !is_name(&name) {
                    segs.push(Seg::Unsupported {
                        what: if name.is_empty() {
                            "an empty `${}`".into()
                        } else {
                            format!("positional parameter `${{{name}}}`")
                        },
                        span,
                    });
                    return Ok(());
                }
                segs.push(Seg::Var {
                    name,
                    op,
                    span,
                    quoted,
                });
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.i += 1;
                }
                let name: String = self.u[start + 1..self.i].iter().map(|u| u.c).collect();
                segs.push(Seg::Var {
                    name,
                    op: None,
                    span: self.span_from(start),
                    quoted,
                });
            }
            Some(c)
                if c.is_ascii_digit() || matches!(c, '@' | '*' | '#' | '?' | '$' | '!' | '-') =>
            {
                self.i += 1;
                let what = if c.is_ascii_digit() {
                    format!("positional parameter `${c}`")
                } else {
                    format!("special parameter `${c}`")
                };
                segs.push(Seg::Unsupported {
                    what,
                    span: self.span_from(start),
                });
            }
            _ => Self::push_lit(segs, '$', dollar, quoted),
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests panic on purpose
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        let (items, errs) = lex(s, &[]);
        assert!(errs.is_empty(), "{errs:?}");
        items
            .iter()
            .map(|i| match i {
                Item::Word(w) => w
                    .segs
                    .iter()
                    .map(|s| match s {
                        Seg::Lit { text, .. } => text.clone(),
                        Seg::Var { name, .. } => format!("<{name}>"),
                        Seg::Unsupported { what, .. } => format!("[{what}]"),
                    })
                    .collect(),
                Item::Op(op, _) => format!("op{}", op.text()),
                Item::Redir { op, fd, .. } => format!("redir{op:?}{fd:?}"),
                Item::Broken => "broken".into(),
            })
            .collect()
    }

    #[test]
    fn quoting_and_variables() {
        assert_eq!(
            words("a 'b c' \"d $X ${Y}\" e\\ f # c\ng;h"),
            ["a", "b c", "d <X> <Y>", "e f", "opnewline", "g", "op;", "h"]
        );
        assert_eq!(words("a\\\n  b"), ["a", "b"]);
        assert_eq!(
            words("x 2>/dev/null || true"),
            ["x", "redirOutSome(2)", "op||", "true"]
        );
    }

    #[test]
    fn spans_survive_continuations() {
        let (items, _) = lex("ab \\\n  cd", &[]);
        let Item::Word(w) = &items[1] else { panic!() };
        assert_eq!(w.span, Span::new(7, 9));
    }

    #[test]
    fn unsupported_constructs_are_marked() {
        let w = words("a $(date) `x` $((1+2)) $1");
        assert!(w[1].contains("command substitution"));
        assert!(w[2].contains("backticks"));
        assert!(w[3].contains("arithmetic"));
        assert!(w[4].contains("positional"));
    }

    #[test]
    fn unterminated_quote_resumes_on_next_line() {
        let (items, errs) = lex("a \"b\nc d", &[]);
        assert_eq!(errs.len(), 1);
        assert!(matches!(items[1], Item::Broken));
        assert!(items.len() >= 4);
    }

    #[test]
    fn heredoc_bodies_are_skipped() {
        assert_eq!(
            words("cat <<EOF\nx y\nEOF\nz"),
            ["cat", "redirHereDocNone", "opnewline", "z"]
        );
    }
}
