//! Findings as text: `path:line:col: severity[CODE name]: message`, the
//! source line with a caret under the rule (the layout of
//! [`rampart_syntax::diag::Diagnostic`]), the related rules and a help line.

use crate::lint::Finding;
use rampart_syntax::diag::{Diagnostic, Severity as DiagSeverity, SourceFile};
use rampart_syntax::Span;
use std::fmt::Write;

/// Renders one finding. `source` is the file the finding's origin names
/// (when it can be read); `default_path` names the policy for findings
/// without an origin.
pub fn render(f: &Finding, source: Option<&SourceFile>, default_path: &str) -> String {
    let mut s = String::new();
    let head = format!("{}[{} {}]", f.severity.name(), f.code.id(), f.name);
    let fams = match f.families.as_slice() {
        [one] if f.table.is_empty() => format!(" ({})", fam(*one)),
        [one] => format!(
            " ({} {} {})",
            fam(*one),
            f.table,
            f.chain.as_deref().unwrap_or("")
        ),
        _ if !f.table.is_empty() => {
            format!(" ({} {})", f.table, f.chain.as_deref().unwrap_or(""))
        }
        _ => String::new(),
    };
    let diag = match (&f.origin, source) {
        (Some(o), Some(file)) if file.path == o.file => Some(locate(file, o.line, o.column)),
        _ => None,
    };
    match (&f.origin, &diag) {
        (Some(_), Some(d)) => {
            let _ = writeln!(
                s,
                "{}:{}:{}: {head}: {}{fams}",
                d.path, d.line, d.column, f.message
            );
            let num = d.line.to_string();
            let pad = " ".repeat(num.len());
            let shown: String = d
                .source_line
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c })
                .collect();
            let _ = writeln!(s, " {num} | {shown}");
            let _ = writeln!(
                s,
                " {pad} | {}{}",
                " ".repeat(d.column.saturating_sub(1) as usize),
                "^".repeat(d.width.max(1) as usize)
            );
        }
        (Some(o), None) => {
            let _ = writeln!(s, "{o}: {head}: {}{fams}", f.message);
        }
        (None, _) => {
            let _ = writeln!(s, "{default_path}: {head}: {}{fams}", f.message);
        }
    }
    let pad = diag
        .as_ref()
        .map_or(String::new(), |d| " ".repeat(d.line.to_string().len()));
    // The rule as iptables-save prints it, unless the source line is one
    // already (native items lower to several rules: this says which).
    let shown_line = diag
        .as_ref()
        .is_some_and(|d| d.source_line.contains("-A ") || d.source_line.contains("-I "));
    if let (Some(r), false) = (&f.rule, shown_line) {
        let _ = writeln!(s, " {pad} = rule: {r}");
    }
    for r in &f.related {
        match &r.origin {
            Some(o) => {
                let _ = writeln!(s, " {pad} = note: {o}: {} ({})", r.rule, r.note);
            }
            None => {
                let _ = writeln!(s, " {pad} = note: {} ({})", r.rule, r.note);
            }
        }
    }
    if let Some(h) = &f.help {
        let _ = writeln!(s, " {pad} = help: {h}");
    }
    s
}

fn fam(f: rampart_model::Family) -> &'static str {
    match f {
        rampart_model::Family::Ipv4 => "ipv4",
        rampart_model::Family::Ipv6 => "ipv6",
    }
}

/// A diagnostic whose caret runs from `line:column` to the end of the line.
fn locate(file: &SourceFile, line: u32, column: u32) -> Diagnostic {
    let start = file.line_start(line);
    let text = file.line_text(line);
    let skip: usize = text
        .chars()
        .take(column.saturating_sub(1) as usize)
        .map(char::len_utf8)
        .sum();
    let end = start + text.trim_end().len();
    let from = start + skip;
    Diagnostic::new(
        file,
        DiagSeverity::Warning,
        Span::new(from, end.max(from)),
        String::new(),
    )
}
