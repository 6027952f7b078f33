//! The INI dialect of Python's `configparser` as fail2ban configures it:
//! `[section]` headers, `key = value` or `key: value` (option names
//! lowercased), continuation lines indented deeper than the option line,
//! whole-line `#`/`;` comments (also inside a continued value), inline
//! `;` comments after whitespace, blank lines kept inside a value and
//! trailing whitespace stripped, duplicate sections or options in one file
//! refused (`strict`).

use crate::diag::{Diagnostics, SourceFile, Span};

/// One option of a section, with where its name and value are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniOption {
    /// Lowercased, as `configparser.optionxform` does.
    pub name: String,
    pub value: String,
    /// The option name on its line.
    pub span: Span,
    /// 1-based line of the option name.
    pub line: u32,
}

/// A `[section]` and its options in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniSection {
    pub name: String,
    pub span: Span,
    pub options: Vec<IniOption>,
}

/// A parsed file: sections in order (`[DEFAULT]` is an ordinary entry here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IniFile {
    pub sections: Vec<IniSection>,
}

impl IniFile {
    pub fn section(&self, name: &str) -> Option<&IniSection> {
        self.sections.iter().find(|s| s.name == name)
    }
}

/// Parses one file; every problem is a located diagnostic and parsing goes
/// on past it.
pub fn parse_ini(file: &SourceFile) -> (IniFile, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut out = IniFile::default();
    // (section index, option index) of the option being continued.
    let mut cur_opt: Option<(usize, usize)> = None;
    let mut indent_level = usize::MAX;
    let mut offset = 0usize;
    for (lineno, raw) in file.text.split('\n').enumerate() {
        let line_start = offset;
        offset += raw.len() + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let lineno = u32::try_from(lineno + 1).unwrap_or(u32::MAX);
        // Inline `;` comments need whitespace (or the line start) before them.
        let mut comment_start: Option<usize> = None;
        for (i, _) in line.match_indices(';') {
            if i == 0
                || line[..i]
                    .chars()
                    .next_back()
                    .is_some_and(char::is_whitespace)
            {
                comment_start = Some(i);
                break;
            }
        }
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            comment_start = Some(0);
        }
        let value = line[..comment_start.unwrap_or(line.len())].trim();
        if value.is_empty() {
            // A blank line inside a value is kept (not a commented one).
            if comment_start.is_none() {
                if let Some((s, o)) = cur_opt {
                    out.sections[s].options[o].value.push('\n');
                }
            }
            continue;
        }
        let cur_indent = line.len() - line.trim_start().len();
        if cur_opt.is_some() && cur_indent > indent_level {
            if let Some((s, o)) = cur_opt {
                let v = &mut out.sections[s].options[o].value;
                v.push('\n');
                v.push_str(value);
            }
            continue;
        }
        indent_level = cur_indent;
        let vstart = line_start + cur_indent;
        if value.starts_with('[') && value.ends_with(']') && value.len() > 2 {
            let name = &value[1..value.len() - 1];
            let span = Span::new(vstart, vstart + value.len());
            if out.sections.iter().any(|s| s.name == name) {
                diags.push(file.error(
                    span,
                    format!("section `[{name}]` appears twice in this file"),
                ));
            }
            out.sections.push(IniSection {
                name: name.to_string(),
                span,
                options: Vec::new(),
            });
            cur_opt = None;
            continue;
        }
        let Some(sidx) = out.sections.len().checked_sub(1) else {
            diags.push(
                file.error(
                    Span::new(vstart, vstart + value.len()),
                    "option outside any section",
                )
                .with_help("fail2ban files start with a `[section]` header such as `[Definition]`"),
            );
            continue;
        };
        // `.*?` up to the first `=` or `:`.
        let Some(d) = value.find(['=', ':']) else {
            diags.push(
                file.error(
                    Span::new(vstart, vstart + value.len()),
                    "expected `name = value`",
                )
                .with_help("continuation lines must be indented deeper than their option"),
            );
            cur_opt = None;
            continue;
        };
        let name = value[..d].trim_end();
        if name.is_empty() {
            diags.push(file.error(Span::new(vstart, vstart + 1), "option without a name"));
            cur_opt = None;
            continue;
        }
        let name = name.to_lowercase();
        let span = Span::new(vstart, vstart + value[..d].trim_end().len());
        let section = &mut out.sections[sidx];
        if section.options.iter().any(|o| o.name == name) {
            diags.push(file.error(
                span,
                format!(
                    "option `{name}` appears twice in section `[{}]`",
                    section.name
                ),
            ));
        }
        section.options.push(IniOption {
            name,
            value: value[d + 1..].trim().to_string(),
            span,
            line: lineno,
        });
        cur_opt = Some((sidx, section.options.len() - 1));
    }
    for s in &mut out.sections {
        for o in &mut s.options {
            let t = o.value.trim_end().len();
            o.value.truncate(t);
        }
    }
    (out, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_comments_and_blank_lines() {
        let f = SourceFile::new(
            "x.conf",
            "# head\n[Definition]\nFailRegex = ^a <HOST>$\n            ^b <HOST> ; tail\n# comment inside\n   ^c\n\nx: 1;2\n[Init]\ny =\n",
        );
        let (ini, d) = parse_ini(&f);
        assert!(d.is_empty(), "{d}");
        let def = ini.section("Definition").expect("section");
        assert_eq!(def.options[0].name, "failregex");
        assert_eq!(def.options[0].value, "^a <HOST>$\n^b <HOST>\n^c");
        assert_eq!(def.options[1].value, "1;2");
        assert_eq!(ini.section("Init").expect("init").options[0].value, "");
    }

    #[test]
    fn errors_are_located() {
        let f = SourceFile::new("x.conf", "a = 1\n[S]\nnovalue\nb=1\nb=2\n");
        let (_, d) = parse_ini(&f);
        let s = d.to_string();
        assert!(
            s.contains("x.conf:1:1: error: option outside any section"),
            "{s}"
        );
        assert!(
            s.contains("x.conf:3:1: error: expected `name = value`"),
            "{s}"
        );
        assert!(
            s.contains("x.conf:5:1: error: option `b` appears twice"),
            "{s}"
        );
    }
}
