//! The interpreter: runs the lexed script's commands, in order, onto one
//! [`Policy`], reporting every problem with its place and going on.
//!
//! The script is read as straight-line code: and-or lists (`a && b`,
//! `a || b`) are followed with the shell's meaning, where "failure" is a
//! command the model refuses at run time (a chain that already exists, a
//! rule that is not there to delete). Everything that needs control flow
//! or other programs is reported and skipped; see the module docs of
//! [`crate::script`] for the lists.

use super::ipset::{self, Outcome};
use super::lexer::{is_name, Item, Op, ParamOp, RedirOp, Seg, Word};
use crate::diag::{Diagnostic, Diagnostics, SourceFile, Span};
use crate::iptables::apply::{apply, ApplyOptions};
use crate::iptables::cmd::{parse_command, CmdContext, Command};
use crate::iptables::ext::{RuleError, Token};
use crate::iptables::save::to_diagnostic;
use rampart_model::{Family, Policy, Sysctl, TableKind};
use std::collections::HashMap;

/// Help shared by the errors about unsupported constructs.
const STRAIGHT_LINE: &str = "rampart reads straight-line scripts of iptables, ip6tables, ipset and sysctl commands; write the commands out one per line, or run the script on a test machine and import the output of `iptables-save`";

#[derive(Debug, Clone)]
enum Var {
    Value(String),
    /// Assigned from something rampart cannot evaluate (on this line).
    Unknown(u32),
}

/// What running a command came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    /// The command failed the way the real one would (its error is
    /// reported unless the script expects the failure).
    Fail,
    /// The command was not understood (already reported): the rest of its
    /// and-or list is skipped.
    Broken,
}

/// A simple command before expansion.
#[derive(Debug, Default)]
struct Simple {
    words: Vec<Word>,
    redirs: Vec<(Option<u32>, RedirOp, Option<Word>, Span)>,
    broken: bool,
}

#[derive(Debug)]
enum Node {
    Simple(Simple),
    /// Reported and skipped.
    Bad,
}

/// Where the output of a command goes.
#[derive(Debug, Default)]
struct Redirs {
    stdout: Option<Token>,
    stdin: Option<Token>,
    stderr_null: bool,
}

pub(crate) struct Interp<'a> {
    file: &'a SourceFile,
    items: Vec<Item>,
    i: usize,
    vars: HashMap<String, Var>,
    pub policy: Policy,
    pub diags: Diagnostics,
    exited: bool,
}

fn closer_of(kw: &str) -> Option<&'static str> {
    Some(match kw {
        "for" | "while" | "until" | "select" => "done",
        "if" => "fi",
        "case" => "esac",
        "{" => "}",
        _ => return None,
    })
}

fn compound_name(kw: &str) -> &'static str {
    match kw {
        "for" => "`for` loops are",
        "while" => "`while` loops are",
        "until" => "`until` loops are",
        "select" => "`select` loops are",
        "if" => "`if` statements are",
        "case" => "`case` statements are",
        _ => "command groups `{ ... }` are",
    }
}

fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

impl<'a> Interp<'a> {
    pub fn new(file: &'a SourceFile, items: Vec<Item>) -> Self {
        Interp {
            file,
            items,
            i: 0,
            vars: HashMap::new(),
            policy: Policy::default(),
            diags: Diagnostics::default(),
            exited: false,
        }
    }

    fn error(&mut self, span: Span, msg: impl Into<String>, help: Option<String>) {
        let mut d = self.file.error(span, msg);
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.diags.push(d);
    }

    fn rule_error(&mut self, e: RuleError, warning: bool) {
        self.diags.push(to_diagnostic(self.file, e, warning));
    }

    fn line_of(&self, span: Span) -> u32 {
        self.file.line_col(span.start).0
    }

    pub fn run(&mut self) {
        while self.i < self.items.len() && !self.exited {
            if let Some(Item::Op(Op::Newline | Op::Semi, _)) = self.items.get(self.i) {
                self.i += 1;
                continue;
            }
            let list = self.parse_list();
            self.exec_list(list);
        }
    }

    // ---- parsing commands out of the items ----

    /// An and-or list: nodes joined by `&&` / `||`, up to `;`, newline or
    /// the end.
    fn parse_list(&mut self) -> Vec<(Option<Op>, Node)> {
        let mut list = Vec::new();
        let mut conn = None;
        loop {
            let node = self.parse_node();
            list.push((conn, node));
            match self.items.get(self.i) {
                Some(Item::Op(op @ (Op::And | Op::Or), _)) => {
                    conn = Some(*op);
                    self.i += 1;
                    self.skip_newlines();
                }
                Some(&Item::Op(Op::Pipe, span)) => {
                    self.error(
                        span,
                        "pipelines (`|`) are not supported",
                        Some(STRAIGHT_LINE.into()),
                    );
                    // Skip the rest of the pipeline.
                    while let Some(&Item::Op(Op::Pipe, _)) = self.items.get(self.i) {
                        self.i += 1;
                        self.skip_newlines();
                        let _ = self.parse_node();
                    }
                    if let Some(last) = list.last_mut() {
                        last.1 = Node::Bad;
                    }
                    if !matches!(self.items.get(self.i), Some(Item::Op(Op::And | Op::Or, _))) {
                        break;
                    }
                }
                Some(&Item::Op(Op::Amp, span)) => {
                    self.i += 1;
                    self.error(
                        span,
                        "background jobs (`&`) are not supported",
                        Some("remove the `&`".into()),
                    );
                    if let Some(last) = list.last_mut() {
                        last.1 = Node::Bad;
                    }
                    break;
                }
                Some(&Item::Op(op @ (Op::RParen | Op::DoubleSemi), span)) => {
                    self.i += 1;
                    self.error(span, format!("unexpected `{}`", op.text()), None);
                    break;
                }
                Some(Item::Op(Op::LParen, _)) => {
                    // `a b (`: stray parenthesis after a command.
                    if let Some(&Item::Op(_, span)) = self.items.get(self.i) {
                        self.error(span, "unexpected `(`", None);
                    }
                    self.skip_parens();
                    if let Some(last) = list.last_mut() {
                        last.1 = Node::Bad;
                    }
                    break;
                }
                _ => break,
            }
        }
        list
    }

    fn skip_newlines(&mut self) {
        while let Some(Item::Op(Op::Newline, _)) = self.items.get(self.i) {
            self.i += 1;
        }
    }

    /// Skips a `( ... )` starting at the current `(`. Returns the closing
    /// span, or `None` at the end of the file.
    fn skip_parens(&mut self) -> Option<Span> {
        let mut depth = 0usize;
        while let Some(item) = self.items.get(self.i) {
            self.i += 1;
            match item {
                Item::Op(Op::LParen, _) => depth += 1,
                Item::Op(Op::RParen, span) => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(*span);
                    }
                }
                _ => {}
            }
        }
        None
    }

    /// Skips a compound command whose opening keyword `kw` was just read.
    /// Returns the span of the matching closer.
    fn skip_compound(&mut self, kw: &str) -> Option<Span> {
        let mut stack: Vec<&'static str> = closer_of(kw).into_iter().collect();
        let mut at_cmd = matches!(kw, "if" | "while" | "until" | "{");
        while let Some(item) = self.items.get(self.i) {
            self.i += 1;
            match item {
                Item::Word(w) => {
                    let p = w.plain();
                    let p = p.as_deref().unwrap_or("");
                    if at_cmd {
                        if let Some(c) = closer_of(p) {
                            stack.push(c);
                        } else if stack.last() == Some(&p) {
                            stack.pop();
                            if stack.is_empty() {
                                return Some(w.span);
                            }
                        }
                        at_cmd = matches!(
                            p,
                            "do" | "then" | "else" | "elif" | "{" | "!" | "if" | "while" | "until"
                        );
                    }
                }
                Item::Op(..) => at_cmd = true,
                Item::Redir { .. } | Item::Broken => {}
            }
        }
        None
    }

    fn report_compound(&mut self, kw: &str, span: Span, end: Option<Span>) {
        let what = compound_name(kw);
        let closer = closer_of(kw).unwrap_or("}");
        let msg = match end {
            Some(e) => format!(
                "{what} not supported; skipped to the matching `{closer}` on line {}",
                self.line_of(e)
            ),
            None => format!(
                "{what} not supported, and this one has no matching `{closer}`; the rest of the file was skipped"
            ),
        };
        self.error(span, msg, Some(STRAIGHT_LINE.into()));
    }

    /// The body of a function definition, after `name()`.
    fn skip_function_body(&mut self, span: Span) {
        self.skip_newlines();
        let end = match self.items.get(self.i) {
            Some(Item::Word(w)) => {
                let p = w.plain().unwrap_or_default();
                if closer_of(&p).is_some() {
                    self.i += 1;
                    self.skip_compound(&p)
                } else {
                    None
                }
            }
            Some(Item::Op(Op::LParen, _)) => self.skip_parens(),
            _ => None,
        };
        let msg = match end {
            Some(e) => format!(
                "function definitions are not supported; skipped the function body up to line {}",
                self.line_of(e)
            ),
            None => "function definitions are not supported".to_string(),
        };
        self.error(span, msg, Some(STRAIGHT_LINE.into()));
    }

    fn parse_node(&mut self) -> Node {
        let first = self.items.get(self.i).cloned();
        match first {
            Some(Item::Op(Op::LParen, span)) => {
                let double = matches!(self.items.get(self.i + 1), Some(Item::Op(Op::LParen, _)));
                let end = self.skip_parens();
                if double {
                    // `(( ... ))`: skip the second closing parenthesis too.
                    if let Some(Item::Op(Op::RParen, _)) = self.items.get(self.i) {
                        self.i += 1;
                    }
                }
                let what = if double {
                    "arithmetic commands `(( ... ))` are"
                } else {
                    "subshells `( ... )` are"
                };
                let msg = match end {
                    Some(e) => format!(
                        "{what} not supported; skipped to the matching `)` on line {}",
                        self.line_of(e)
                    ),
                    None => format!("{what} not supported"),
                };
                self.error(span, msg, Some(STRAIGHT_LINE.into()));
                return Node::Bad;
            }
            Some(Item::Op(op, span)) if op != Op::Newline && op != Op::Semi => {
                self.i += 1;
                self.error(span, format!("unexpected `{}`", op.text()), None);
                return Node::Bad;
            }
            Some(Item::Word(w)) => {
                let p = w.plain().unwrap_or_default();
                if closer_of(&p).is_some() {
                    self.i += 1;
                    let end = self.skip_compound(&p);
                    self.report_compound(&p, w.span, end);
                    // `done < file`, `fi 2>/dev/null`: part of the construct.
                    while let Some(Item::Redir { .. }) = self.items.get(self.i) {
                        self.i += 1;
                    }
                    return Node::Bad;
                }
                if p == "function" {
                    self.i += 1;
                    if let Some(Item::Word(_)) = self.items.get(self.i) {
                        self.i += 1;
                    }
                    if let Some(Item::Op(Op::LParen, _)) = self.items.get(self.i) {
                        self.skip_parens();
                    }
                    self.skip_function_body(w.span);
                    return Node::Bad;
                }
                if matches!(
                    p.as_str(),
                    "done" | "fi" | "esac" | "}" | "then" | "do" | "else" | "elif" | "in"
                ) {
                    self.error(
                        w.span,
                        format!("unexpected `{p}` (its opening statement was not understood)"),
                        None,
                    );
                    // Skip this command.
                    let _ = self.parse_simple();
                    return Node::Bad;
                }
                // `name() { ... }`
                if let (Some(Item::Op(Op::LParen, _)), Some(Item::Op(Op::RParen, _))) =
                    (self.items.get(self.i + 1), self.items.get(self.i + 2))
                {
                    self.i += 3;
                    self.skip_function_body(w.span);
                    return Node::Bad;
                }
            }
            _ => {}
        }
        Node::Simple(self.parse_simple())
    }

    fn parse_simple(&mut self) -> Simple {
        let mut s = Simple::default();
        // Items are read once, front to back: move them out instead of
        // copying (a consumed slot is left as `Broken`, never read again).
        while let Some(slot) = self.items.get_mut(self.i) {
            if matches!(slot, Item::Op(..)) {
                break;
            }
            match std::mem::replace(slot, Item::Broken) {
                Item::Word(w) => s.words.push(w),
                Item::Redir {
                    fd,
                    op,
                    target,
                    span,
                } => s.redirs.push((fd, op, target, span)),
                Item::Broken => s.broken = true,
                Item::Op(..) => {}
            }
            self.i += 1;
        }
        s
    }

    // ---- running ----

    fn exec_list(&mut self, list: Vec<(Option<Op>, Node)>) {
        let n = list.len();
        let mut status = Status::Ok;
        let mut iter = list.into_iter().enumerate().peekable();
        while let Some((k, (conn, node))) = iter.next() {
            if k > 0 {
                match (conn, status) {
                    (_, Status::Broken) => return,
                    (Some(Op::And), Status::Ok) | (Some(Op::Or), Status::Fail) => {}
                    _ => continue,
                }
            }
            // `a || b`: the script expects `a` may fail; say nothing about
            // it, unless `b` is `exit` (then the failure matters).
            let expects_failure = iter.peek().is_some_and(|(_, (c, next))| {
                *c == Some(Op::Or)
                    && !matches!(next, Node::Simple(s) if s.words.first().and_then(Word::plain).as_deref() == Some("exit"))
            });
            status = match node {
                Node::Bad => Status::Broken,
                Node::Simple(s) => self.exec_simple(&s, expects_failure, n == 1),
            };
        }
    }

    fn exec_simple(&mut self, s: &Simple, quiet_failure: bool, alone: bool) -> Status {
        if s.broken {
            return Status::Broken;
        }
        // Leading assignments.
        let mut k = 0;
        let mut assigns = Vec::new();
        while let Some((name, value)) = s.words.get(k).and_then(Word::assignment) {
            assigns.push((name, value, s.words[k].span));
            k += 1;
        }
        let words = &s.words[k..];
        let Some(first) = words.first() else {
            // Only assignments: they set shell variables.
            let mut status = Status::Ok;
            for (name, value, span) in assigns {
                if self.assign(&name, &value, span).is_err() {
                    status = Status::Broken;
                }
            }
            if !s.redirs.is_empty() {
                self.error(s.redirs[0].3, "a redirection without a command", None);
            }
            return status;
        };
        // Declaration utilities read their `NAME=value` words unsplit.
        if let Some(p) = first.plain() {
            if matches!(
                p.as_str(),
                "export" | "readonly" | "local" | "declare" | "typeset" | "unset"
            ) {
                return self.declaration(&p, &words[1..]);
            }
        }
        let mut fields = Vec::new();
        for w in words {
            match self.expand(w, true) {
                Ok(f) => fields.extend(f),
                Err(()) => return Status::Broken,
            }
        }
        let Ok(redirs) = self.redirections(s) else {
            return Status::Broken;
        };
        if fields.is_empty() {
            return Status::Ok;
        }
        let start = first.span;
        // `sudo`, `command`, `env` prefixes.
        let mut c = 0;
        loop {
            let Some(f) = fields.get(c) else {
                return Status::Ok;
            };
            match basename(&f.text) {
                "sudo" => {
                    c += 1;
                    while let Some(o) = fields.get(c).filter(|o| o.text.starts_with('-')) {
                        c += if matches!(o.text.as_str(), "-u" | "-g" | "-C" | "-h" | "-p" | "-U") {
                            2
                        } else {
                            1
                        };
                    }
                }
                "command" | "nohup" => c += 1,
                "env" => {
                    c += 1;
                    while fields.get(c).is_some_and(|o| {
                        o.text.starts_with('-')
                            || o.text.split_once('=').is_some_and(|(n, _)| is_name(n))
                    }) {
                        c += 1;
                    }
                }
                _ => break,
            }
        }
        let cmd = &fields[c];
        let args = &fields[c + 1..];
        let name = basename(&cmd.text).to_string();
        let family = match name.as_str() {
            "iptables" | "iptables-legacy" | "iptables-nft" => Some(Family::Ipv4),
            "ip6tables" | "ip6tables-legacy" | "ip6tables-nft" => Some(Family::Ipv6),
            _ => None,
        };
        if let Some(family) = family {
            return self.iptables(family, cmd, args, start, &redirs, quiet_failure);
        }
        let tool = name.starts_with("iptables") || name.starts_with("ip6tables");
        if tool && name.ends_with("-restore") {
            let help = match &redirs.stdin {
                Some(f) => format!(
                    "give `{}` to rampart directly: it reads iptables-save files",
                    f.text
                ),
                None => "give the file it reads to rampart directly: it reads iptables-save files"
                    .into(),
            };
            self.error(
                cmd.span,
                format!("`{name}` loads a whole ruleset from a file, which a script import does not follow"),
                Some(help),
            );
            return Status::Broken;
        }
        if tool && name.ends_with("-save") {
            self.diags.push(
                self.file
                    .warning(
                        cmd.span,
                        format!("`{name}` only prints the ruleset; ignored"),
                    )
                    .with_help(
                        "to import a file it wrote earlier, give that file to rampart directly",
                    ),
            );
            return Status::Ok;
        }
        match name.as_str() {
            "ipset" => self.ipset(cmd, args, &redirs, quiet_failure),
            "sysctl" => self.sysctl(cmd, args),
            "echo" | "printf" => self.echo(&name, cmd, args, &redirs),
            "true" | ":" | "modprobe" | "sleep" | "logger" => Status::Ok,
            "false" => Status::Fail,
            "exit" => {
                if alone {
                    self.exited = true;
                }
                Status::Ok
            }
            "set" => self.set_builtin(args),
            "source" | "." => {
                self.error(
                    cmd.span,
                    format!("reading another file with `{name}` is not supported"),
                    Some("import that file on its own".into()),
                );
                Status::Broken
            }
            "[" | "[[" | "test" => {
                self.error(
                    cmd.span,
                    format!("tests (`{name} ...`) are not supported"),
                    Some(STRAIGHT_LINE.into()),
                );
                Status::Broken
            }
            "eval" | "exec" | "return" | "shift" | "read" | "cd" | "trap" | "wait" => {
                self.error(
                    cmd.span,
                    format!("the shell builtin `{name}` is not supported"),
                    Some(STRAIGHT_LINE.into()),
                );
                Status::Broken
            }
            _ => {
                self.error(
                    cmd.span,
                    format!("`{}` is not a command rampart understands", cmd.text),
                    Some("a script may run iptables, ip6tables (also -legacy/-nft), ipset, sysctl and `echo VALUE > /proc/sys/...`; `set`, `modprobe`, `echo`, `true` and `exit` are skipped".into()),
                );
                Status::Broken
            }
        }
    }

    /// `export`/`readonly`/`local`/`declare`/`typeset`/`unset`.
    fn declaration(&mut self, what: &str, words: &[Word]) -> Status {
        let mut status = Status::Ok;
        for w in words {
            if let Some((name, value)) = w.assignment() {
                if what == "unset" {
                    self.error(w.span, "`unset` takes variable names", None);
                    status = Status::Broken;
                } else if self.assign(&name, &value, w.span).is_err() {
                    status = Status::Broken;
                }
                continue;
            }
            match w.plain() {
                Some(p) if p.starts_with('-') => {}
                Some(p) if is_name(&p) => {
                    if what == "unset" {
                        self.vars.remove(&p);
                    }
                }
                _ => {
                    self.error(
                        w.span,
                        format!("`{what}` takes `NAME=value` or `NAME`"),
                        None,
                    );
                    status = Status::Broken;
                }
            }
        }
        status
    }

    fn assign(&mut self, name: &str, value: &Word, span: Span) -> Result<(), ()> {
        match self.expand(value, false) {
            Ok(v) => {
                let v = v.into_iter().next().map(|t| t.text).unwrap_or_default();
                self.vars.insert(name.to_string(), Var::Value(v));
                Ok(())
            }
            Err(()) => {
                let line = self.line_of(span);
                self.vars.insert(name.to_string(), Var::Unknown(line));
                Err(())
            }
        }
    }

    /// Expands a word into fields (`split`: unquoted variable values are
    /// split at blanks, as the shell does). Reports and returns `Err` on
    /// unset variables and unsupported constructs.
    fn expand(&mut self, w: &Word, split: bool) -> Result<Vec<Token>, ()> {
        let mut fields: Vec<(String, bool)> = vec![(String::new(), false)];
        self.expand_segs(&w.segs, split, &mut fields)?;
        let out = fields
            .into_iter()
            .filter(|(text, exists)| *exists || !text.is_empty() || !split)
            .map(|(text, _)| Token::new(text, w.span))
            .collect();
        Ok(out)
    }

    fn expand_segs(
        &mut self,
        segs: &[Seg],
        split: bool,
        fields: &mut Vec<(String, bool)>,
    ) -> Result<(), ()> {
        for seg in segs {
            match seg {
                Seg::Lit { text, quoted, .. } => {
                    if let Some(f) = fields.last_mut() {
                        f.0.push_str(text);
                        f.1 |= *quoted || !text.is_empty();
                    }
                }
                Seg::Unsupported { what, span } => {
                    self.error(
                        *span,
                        format!("{what} is not supported"),
                        Some(STRAIGHT_LINE.into()),
                    );
                    return Err(());
                }
                Seg::Var {
                    name,
                    op,
                    span,
                    quoted,
                } => {
                    let value = self.lookup(name, op.as_ref(), *span)?;
                    if *quoted || !split {
                        if let Some(f) = fields.last_mut() {
                            f.0.push_str(&value);
                            f.1 |= *quoted;
                        }
                        continue;
                    }
                    // Field splitting at blanks.
                    let starts_blank = value.starts_with([' ', '\t', '\n']);
                    let ends_blank = value.ends_with([' ', '\t', '\n']);
                    let parts: Vec<&str> = value
                        .split([' ', '\t', '\n'])
                        .filter(|p| !p.is_empty())
                        .collect();
                    for (i, p) in parts.iter().enumerate() {
                        if i > 0 || starts_blank {
                            fields.push((String::new(), false));
                        }
                        if let Some(f) = fields.last_mut() {
                            f.0.push_str(p);
                        }
                    }
                    if ends_blank && !parts.is_empty() {
                        fields.push((String::new(), false));
                    }
                }
            }
        }
        Ok(())
    }

    fn lookup(
        &mut self,
        name: &str,
        op: Option<&(ParamOp, Vec<Seg>)>,
        span: Span,
    ) -> Result<String, ()> {
        let value = match self.vars.get(name) {
            Some(Var::Unknown(line)) => {
                let line = *line;
                self.error(
                    span,
                    format!("`${name}` has no value rampart knows: its assignment on line {line} was not understood"),
                    None,
                );
                return Err(());
            }
            Some(Var::Value(v)) => Some(v.clone()),
            None => None,
        };
        let word = |this: &mut Self, segs: &[Seg]| -> Result<String, ()> {
            let mut f = vec![(String::new(), false)];
            this.expand_segs(segs, false, &mut f)?;
            Ok(f.into_iter().map(|x| x.0).collect())
        };
        match op {
            None => value.ok_or_else(|| {
                self.error(
                    span,
                    format!("variable `${name}` is not set"),
                    Some(format!("set it earlier in the script (`{name}=value`); rampart does not read the environment")),
                );
            }),
            Some((ParamOp::Default { colon } | ParamOp::Assign { colon }, segs)) => {
                match value.filter(|v| !(*colon && v.is_empty())) {
                    Some(v) => Ok(v),
                    None => {
                        let v = word(self, segs)?;
                        if matches!(op, Some((ParamOp::Assign { .. }, _))) {
                            self.vars.insert(name.to_string(), Var::Value(v.clone()));
                        }
                        Ok(v)
                    }
                }
            }
            Some((ParamOp::Alt { colon }, segs)) => {
                if value.is_some_and(|v| !(*colon && v.is_empty())) {
                    word(self, segs)
                } else {
                    Ok(String::new())
                }
            }
        }
    }

    fn redirections(&mut self, s: &Simple) -> Result<Redirs, ()> {
        let mut r = Redirs::default();
        for (fd, op, target, span) in &s.redirs {
            let t = match target {
                Some(w) => match self.expand(w, false) {
                    Ok(mut f) if !f.is_empty() => Some(f.remove(0)),
                    Ok(_) => None,
                    Err(()) => return Err(()),
                },
                None => None,
            };
            let is_null = t.as_ref().is_some_and(|t| t.text == "/dev/null");
            match op {
                RedirOp::HereDoc => {
                    self.error(
                        *span,
                        "here-documents (`<<`) are not supported",
                        Some("put the text in a file and import that file".into()),
                    );
                    return Err(());
                }
                RedirOp::Other => {
                    self.error(*span, "this redirection is not supported", None);
                    return Err(());
                }
                _ if t.is_none() => {
                    self.error(*span, "redirection without a file name", None);
                    return Err(());
                }
                RedirOp::Out | RedirOp::Append => match fd {
                    None | Some(1) => r.stdout = t,
                    Some(2) => r.stderr_null = is_null,
                    _ => {}
                },
                RedirOp::OutErr => {
                    r.stderr_null = is_null;
                    r.stdout = t;
                }
                RedirOp::Dup => {
                    let to = t.map(|t| t.text).unwrap_or_default();
                    match (fd, to.as_str()) {
                        (Some(2), "1") => {
                            r.stderr_null = r.stdout.as_ref().is_some_and(|o| o.text == "/dev/null")
                        }
                        (None | Some(1), "2") => r.stdout = None,
                        _ => {}
                    }
                }
                RedirOp::In => {
                    if fd.is_none() || *fd == Some(0) {
                        r.stdin = t;
                    }
                }
            }
        }
        Ok(r)
    }

    fn iptables(
        &mut self,
        family: Family,
        cmd: &Token,
        args: &[Token],
        start: Span,
        redirs: &Redirs,
        quiet_failure: bool,
    ) -> Status {
        if args.is_empty() {
            self.error(
                cmd.span,
                format!("`{}` without a command", cmd.text),
                Some("e.g. `-A INPUT -p tcp --dport 22 -j ACCEPT`".into()),
            );
            return Status::Broken;
        }
        let cx = CmdContext {
            family,
            table: TableKind::Filter,
            allow_table_option: true,
        };
        let mut inv = match parse_command(args, &cx) {
            Ok(inv) => inv,
            Err(e) => {
                self.rule_error(e, false);
                return Status::Broken;
            }
        };
        for w in std::mem::take(&mut inv.warnings) {
            self.rule_error(w, true);
        }
        let deletion = matches!(
            inv.command,
            Command::DeleteRule { .. }
                | Command::DeleteNum { .. }
                | Command::DeleteChain(_)
                | Command::Flush(_)
                | Command::Zero(_)
        );
        let opts = ApplyOptions {
            auto_create_chains: false,
            check_jumps_now: true,
        };
        let origin = Some(self.file.origin(start));
        match apply(&mut self.policy, family, inv, origin, opts) {
            Ok(()) => Status::Ok,
            Err(e) => {
                self.failure(e, deletion, quiet_failure || redirs.stderr_null);
                Status::Fail
            }
        }
    }

    /// A command the model refused at run time.
    fn failure(&mut self, e: RuleError, deletion: bool, quiet: bool) {
        if quiet {
            return;
        }
        if deletion {
            let help = e.help.clone().unwrap_or_else(|| {
                "rampart reads a script starting from an empty ruleset, so there is nothing to delete; add `2>/dev/null` or `|| true` if this is expected".into()
            });
            self.rule_error(e.with_help(help), true);
        } else {
            self.rule_error(e, false);
        }
    }

    fn ipset(&mut self, cmd: &Token, args: &[Token], redirs: &Redirs, quiet: bool) -> Status {
        let origin = Some(self.file.origin(cmd.span));
        match ipset::run(args, cmd.span, &mut self.policy, origin) {
            Ok(Outcome::Done | Outcome::Deletion | Outcome::ReadOnly) => Status::Ok,
            Ok(Outcome::Save) => {
                self.diags.push(
                    self.file
                        .warning(cmd.span, "`ipset save` only prints the sets; ignored")
                        .with_help(
                            "to import a file it wrote earlier, give that file to rampart directly",
                        ),
                );
                Status::Ok
            }
            Ok(Outcome::Restore { file }) => {
                let from = file.or_else(|| redirs.stdin.clone());
                let help = match from {
                    Some(f) => format!(
                        "give `{}` to rampart directly: it reads `ipset save` files",
                        f.text
                    ),
                    None => {
                        "give the file it reads to rampart directly: it reads `ipset save` files"
                            .into()
                    }
                };
                self.error(
                    cmd.span,
                    "`ipset restore` loads sets from a file, which a script import does not follow",
                    Some(help),
                );
                Status::Broken
            }
            Err(e) if e.runtime => {
                let deletion = args.iter().any(|a| {
                    matches!(
                        a.text.as_str(),
                        "del" | "-D" | "destroy" | "-X" | "flush" | "-F" | "d" | "x" | "f"
                    )
                });
                self.failure(e.err, deletion, quiet || redirs.stderr_null);
                Status::Fail
            }
            Err(e) => {
                self.rule_error(e.err, false);
                Status::Broken
            }
        }
    }

    fn sysctl(&mut self, cmd: &Token, args: &[Token]) -> Status {
        let mut status = Status::Ok;
        for a in args {
            match a.text.as_str() {
                "-w" | "--write" | "-q" | "--quiet" | "-e" | "--ignore" | "-n" | "--values"
                | "-N" | "--names" | "-a" | "-A" | "-X" | "--all" => {}
                "-p" | "--load" | "-f" | "--system" => {
                    self.error(
                        a.span,
                        format!(
                            "`sysctl {}` loads settings from files, which rampart does not read",
                            a.text
                        ),
                        Some("write each setting as `sysctl -w key=value`".into()),
                    );
                    return Status::Broken;
                }
                t if t.starts_with('-') => {
                    self.error(a.span, format!("unknown sysctl option `{t}`"), None);
                    return Status::Broken;
                }
                t => {
                    let Some((k, v)) = t.split_once('=') else {
                        // Reading a value changes nothing.
                        continue;
                    };
                    let key = k.trim().replace('/', ".");
                    if self.push_sysctl(&key, v.trim(), a.span, cmd.span).is_err() {
                        status = Status::Broken;
                    }
                }
            }
        }
        status
    }

    fn push_sysctl(&mut self, key: &str, value: &str, span: Span, start: Span) -> Result<(), ()> {
        let valid = !key.is_empty()
            && !key.starts_with('.')
            && !key.ends_with('.')
            && !key.contains("..")
            && key.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@' | ':')
            });
        if !valid {
            let help = if key.contains('*') {
                "wildcards are not expanded; write one setting per interface, or use `all`/`default`"
            } else {
                "a key looks like `net.ipv4.ip_forward`"
            };
            self.error(
                span,
                format!("invalid sysctl key `{key}`"),
                Some(help.into()),
            );
            return Err(());
        }
        if value.is_empty() {
            self.error(span, format!("sysctl `{key}` without a value"), None);
            return Err(());
        }
        let origin = Some(self.file.origin(start));
        match self.policy.sysctls.iter_mut().find(|s| s.key == key) {
            Some(s) => {
                s.value = value.to_string();
                s.origin = origin;
            }
            None => self.policy.sysctls.push(Sysctl {
                key: key.to_string(),
                value: value.to_string(),
                origin,
            }),
        }
        Ok(())
    }

    fn echo(&mut self, name: &str, cmd: &Token, args: &[Token], redirs: &Redirs) -> Status {
        let Some(out) = &redirs.stdout else {
            return Status::Ok;
        };
        let Some(path) = out.text.strip_prefix("/proc/sys/") else {
            if !matches!(
                out.text.as_str(),
                "/dev/null" | "/dev/stderr" | "/dev/stdout"
            ) {
                self.diags.push(self.file.warning(
                    out.span,
                    format!("`{name}` into `{}` ignored: only writes under /proc/sys are kernel settings", out.text),
                ));
            }
            return Status::Ok;
        };
        let mut words: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
        if name == "echo" {
            while words
                .first()
                .is_some_and(|w| matches!(*w, "-n" | "-e" | "-E" | "-ne" | "-en"))
            {
                words.remove(0);
            }
        }
        let joined = words.join(" ");
        let value = joined.trim_end_matches("\\n").trim();
        let key = path.trim_matches('/').replace('/', ".");
        match self.push_sysctl(&key, value, out.span, cmd.span) {
            Ok(()) => Status::Ok,
            Err(()) => Status::Broken,
        }
    }

    fn set_builtin(&mut self, args: &[Token]) -> Status {
        let mut i = 0;
        while let Some(a) = args.get(i) {
            i += 1;
            if (a.text.starts_with('-') || a.text.starts_with('+')) && a.text != "--" {
                if a.text.ends_with('o') {
                    i += 1;
                }
                continue;
            }
            self.error(
                a.span,
                "`set` with arguments changes the positional parameters, which is not supported",
                Some("only `set -e`, `set -x`, `set -u`, `set -o pipefail` and similar options are skipped".into()),
            );
            return Status::Broken;
        }
        Status::Ok
    }
}

/// Sorts diagnostics by place, keeping the order of those at one place.
pub(crate) fn sort_diagnostics(d: &mut [Diagnostic]) {
    d.sort_by_key(|d| (d.line, d.column));
}
