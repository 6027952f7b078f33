//! fail2ban's configuration files: filters (`filter.d/NAME.conf` with
//! `.local` and `.d` layering, `[INCLUDES]`, `[DEFAULT]`, `[Definition]`,
//! `[Init]`, `%(name)s` and `%(known/name)s` interpolation, `<tag>`
//! substitution such as `<mdre-<mode>>`) and jails (`jail.conf`,
//! `jail.d/*.conf`, `jail.local`, `jail.d/*.local`).
//!
//! The output is text: the regular expressions still carry fail2ban's
//! `<HOST>`/`<F-USER>` tags and Python syntax. `rampart_guard::filter`
//! compiles them.
//!
//! ```
//! use rampart_syntax::fail2ban::{FilterDef, ConfigSet};
//! use std::collections::BTreeMap;
//! let set = ConfigSet::from_text("demo.conf", "[Definition]\n_daemon = demo\nfailregex = ^<_daemon>: bad login from <HOST>$\n");
//! let def = FilterDef::from_set("demo", &set, &BTreeMap::new()).unwrap();
//! assert_eq!(def.failregex[0].text, "^demo: bad login from <HOST>$");
//! ```

pub mod config;
pub mod ini;

pub use config::{ConfigSet, Val, ValOrigin};
pub use ini::{parse_ini, IniFile, IniOption, IniSection};

use crate::diag::{Diagnostic, Diagnostics, Severity};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One regular expression of a filter with where its option was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexLine {
    pub text: String,
    /// `path:line` of the option the regex came from.
    pub origin: String,
}

/// A filter after fail2ban's reading rules: the options the filter engine
/// uses, with every `%(...)s` and `<...>` definition substituted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterDef {
    pub name: String,
    pub prefregex: Option<RegexLine>,
    pub failregex: Vec<RegexLine>,
    pub ignoreregex: Vec<RegexLine>,
    pub maxlines: Option<String>,
    pub datepattern: Option<String>,
    pub usedns: Option<String>,
    pub journalmatch: Option<String>,
}

/// The options fail2ban's `FilterReader` takes from `[Definition]`.
const FILTER_OPTS: [&str; 7] = [
    "usedns",
    "prefregex",
    "ignoreregex",
    "failregex",
    "maxlines",
    "datepattern",
    "journalmatch",
];

/// At most this many substitutions of one tag in one value.
const MAX_TAG_REPLACE: u32 = 10;

impl FilterDef {
    /// Reads `DIR/filter.d/NAME` (`.conf`, `.d/`, `.local`) with `args` as
    /// the jail passes them (`filter = sshd[mode=aggressive]`).
    pub fn load(
        dir: &Path,
        name: &str,
        args: &BTreeMap<String, String>,
    ) -> Result<FilterDef, Diagnostics> {
        let base = dir.join("filter.d").join(name);
        let set = ConfigSet::read(&base);
        if set.files.is_empty() {
            let mut d = Diagnostics::default();
            d.push(Diagnostic::file_level(
                &format!("{}.conf", base.display()),
                Severity::Error,
                format!("no filter `{name}` in {}", dir.join("filter.d").display()),
            ));
            return Err(d);
        }
        Self::from_set(name, &set, args)
    }

    /// Reads a filter from one file (and its includes).
    pub fn load_file(
        path: &Path,
        args: &BTreeMap<String, String>,
    ) -> Result<FilterDef, Diagnostics> {
        let set = ConfigSet::read_file(path);
        if set.files.is_empty() {
            let mut d = Diagnostics::default();
            d.push(Diagnostic::file_level(
                &path.display().to_string(),
                Severity::Error,
                "cannot read this filter file",
            ));
            return Err(d);
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::from_set(&name, &set, args)
    }

    /// fail2ban's `DefinitionInitConfigReader.getOptions` + `getCombined`.
    pub fn from_set(
        name: &str,
        set: &ConfigSet,
        args: &BTreeMap<String, String>,
    ) -> Result<FilterDef, Diagnostics> {
        let mut diags = set.diagnostics.clone();
        let path = set
            .files
            .first()
            .map(|f| f.path.clone())
            .unwrap_or_default();
        let mut combined: BTreeMap<String, String> = BTreeMap::new();
        for o in FILTER_OPTS {
            if args.contains_key(o) {
                continue;
            }
            match set.get("Definition", o, args) {
                Ok(Some(v)) => {
                    combined.insert(o.to_string(), v);
                }
                Ok(None) => {}
                Err(e) => diags.push(set.error_at(set.origin("Definition", o), &path, e)),
            }
        }
        let mut init: BTreeMap<String, String> = args.clone();
        if let Some(sec) = set.section("Init") {
            for k in sec.keys() {
                let v = match set.get("Init", k, &BTreeMap::new()) {
                    Ok(v) => v.unwrap_or_default(),
                    Err(e) => {
                        diags.push(set.error_at(set.origin("Init", k), &path, e));
                        continue;
                    }
                };
                if !k.starts_with("known/") {
                    init.insert(format!("known/{k}"), v.clone());
                }
                init.entry(k.clone()).or_insert(v);
            }
        }
        combined.extend(init);
        let mut def = FilterDef {
            name: name.to_string(),
            ..FilterDef::default()
        };
        let lookup = |tag: &str| -> Option<String> {
            if let Some(v) = combined.get(tag) {
                return Some(v.clone());
            }
            set.get_ex("Definition", tag, args).ok().flatten()
        };
        for o in FILTER_OPTS {
            let Some(raw) = combined.get(o) else { continue };
            let origin = set.origin("Definition", o);
            let at = origin
                .and_then(|or| {
                    set.files.get(or.file).map(|f| {
                        let (l, _) = f.line_col(or.span.start);
                        format!("{}:{l}", f.path)
                    })
                })
                .unwrap_or_else(|| format!("{path} ({o})"));
            let value = match substitute_tags(o, raw, &lookup) {
                Ok(v) => v,
                Err(e) => {
                    diags.push(set.error_at(origin, &path, e));
                    continue;
                }
            };
            let lines = |v: &str| -> Vec<RegexLine> {
                v.split('\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| RegexLine {
                        text: l.to_string(),
                        origin: at.clone(),
                    })
                    .collect()
            };
            match o {
                "failregex" => def.failregex = lines(&value),
                "ignoreregex" => def.ignoreregex = lines(&value),
                "prefregex" => {
                    def.prefregex = (!value.trim().is_empty()).then(|| RegexLine {
                        text: value.clone(),
                        origin: at.clone(),
                    })
                }
                "maxlines" => def.maxlines = Some(value),
                "datepattern" => def.datepattern = Some(value),
                "usedns" => def.usedns = Some(value),
                _ => def.journalmatch = Some(value),
            }
        }
        if diags.has_errors() {
            Err(diags)
        } else {
            Ok(def)
        }
    }
}

/// fail2ban's `substituteRecursiveTags` for one value: `<name>` is
/// replaced by the definition `lookup` gives (searching again from the
/// replacement, so `<mdre-<mode>>` resolves inside out); unknown tags such
/// as `<HOST>` stay.
pub fn substitute_tags(
    opt: &str,
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut value = value.to_string();
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    // Passes until nothing changes, as fail2ban's outer loop does (a
    // replacement inside a tag, `<a-<b>>`, is found on the next pass).
    loop {
        let mut changed = false;
        let mut pos = 0;
        while let Some((s, e)) = find_tag(&value, pos) {
            let tag = value[s + 1..e - 1].to_string();
            if tag == opt || counts.get(&tag).copied().unwrap_or(0) >= MAX_TAG_REPLACE {
                return Err(format!(
                    "option `{opt}` refers to itself through `<{tag}>` and cannot be resolved"
                ));
            }
            match lookup(&tag) {
                Some(repl) => {
                    value = value.replace(&format!("<{tag}>"), &repl);
                    *counts.entry(tag).or_insert(0) += 1;
                    changed = true;
                    pos = s;
                }
                None => pos = e,
            }
        }
        if !changed {
            return Ok(value);
        }
    }
}

/// The next `<[^ <>]+>` at or after `from`.
fn find_tag(s: &str, from: usize) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut i = from;
    while i < b.len() {
        if b[i] == b'<' {
            let mut j = i + 1;
            while j < b.len() && !matches!(b[j], b' ' | b'<' | b'>') {
                j += 1;
            }
            if j < b.len() && b[j] == b'>' && j > i + 1 {
                return Some((i, j + 1));
            }
            i = j;
        } else {
            i += 1;
        }
    }
    None
}

/// `name[key=value, key2="v, w"]` as jails name filters and actions.
pub fn split_with_options(spec: &str) -> Result<(String, BTreeMap<String, String>), String> {
    let spec = spec.trim();
    let Some(open) = spec.find('[') else {
        return Ok((spec.to_string(), BTreeMap::new()));
    };
    let name = spec[..open].trim().to_string();
    let Some(body) = spec[open + 1..].strip_suffix(']') else {
        return Err(format!("`{spec}`: options must end with `]`"));
    };
    let mut opts = BTreeMap::new();
    let mut chars = body.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.trim().is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            return Err(format!("`{spec}`: expected `=` after `{}`", key.trim()));
        }
        let mut val = String::new();
        match chars.peek().copied() {
            Some(q @ ('"' | '\'')) => {
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        if let Some(n) = chars.next() {
                            val.push(n);
                        }
                    } else if c == q {
                        closed = true;
                        break;
                    } else {
                        val.push(c);
                    }
                }
                if !closed {
                    return Err(format!("`{spec}`: unterminated quote"));
                }
            }
            _ => {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    val.push(c);
                    chars.next();
                }
                val = val.trim().to_string();
            }
        }
        opts.insert(key.trim().to_string(), val);
    }
    Ok((name, opts))
}

/// One jail: its interpolated options and where they were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JailDef {
    pub name: String,
    /// Interpolated values (an option whose interpolation failed is in
    /// `errors` instead).
    pub options: BTreeMap<String, String>,
    /// `path:line` of each option (from the section or `[DEFAULT]`).
    pub origins: BTreeMap<String, String>,
    /// Options whose interpolation failed, by name.
    pub errors: BTreeMap<String, Diagnostic>,
}

/// Every jail of `DIR/jail.{conf,local}` and `DIR/jail.d/*`, in file order.
pub fn read_jails(dir: &Path) -> (Vec<JailDef>, Diagnostics) {
    let set = ConfigSet::read(&dir.join("jail"));
    let mut diags = set.diagnostics.clone();
    if set.files.is_empty() {
        diags.push(Diagnostic::file_level(
            &dir.join("jail.conf").display().to_string(),
            Severity::Error,
            format!("no jail.conf or jail.local in {}", dir.display()),
        ));
    }
    let mut vars = BTreeMap::new();
    vars.insert("fail2ban_version".to_string(), "1.0.2".to_string());
    vars.insert("fail2ban_confpath".to_string(), dir.display().to_string());
    let mut jails = Vec::new();
    for (name, sec) in &set.sections {
        if name == "INCLUDES" || name.starts_with("KNOWN/") {
            continue;
        }
        let mut j = JailDef {
            name: name.clone(),
            options: BTreeMap::new(),
            origins: BTreeMap::new(),
            errors: BTreeMap::new(),
        };
        let keys: BTreeSet<&String> = sec.keys().chain(set.defaults.keys()).collect();
        for k in keys {
            let origin = set.origin(name, k);
            if let Some(o) = origin.and_then(|o| set.files.get(o.file).map(|f| (f, o))) {
                let (l, _) = o.0.line_col(o.1.span.start);
                j.origins.insert(k.clone(), format!("{}:{l}", o.0.path));
            }
            match set.get(name, k, &vars) {
                Ok(Some(v)) => {
                    j.options.insert(k.clone(), v);
                }
                Ok(None) => {}
                Err(e) => {
                    let d = set.error_at(origin, &dir.display().to_string(), e);
                    j.errors.insert(k.clone(), d);
                }
            }
        }
        jails.push(j);
    }
    (jails, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_resolve_inside_out_and_keep_unknown_ones() {
        let set = ConfigSet::from_text(
            "f.conf",
            "[DEFAULT]\n_daemon = sshd\n[Definition]\nmode = normal\nre-normal = ^<_daemon> x <HOST>\nre-aggressive = ^agg <HOST>\nfailregex = <re-<mode>>\n[Init]\nfoo = 1\n",
        );
        let def = FilterDef::from_set("f", &set, &BTreeMap::new()).unwrap();
        assert_eq!(def.failregex[0].text, "^sshd x <HOST>");
        assert!(def.failregex[0].origin.starts_with("f.conf:7"));
        let mut args = BTreeMap::new();
        args.insert("mode".to_string(), "aggressive".to_string());
        let def = FilterDef::from_set("f", &set, &args).unwrap();
        assert_eq!(def.failregex[0].text, "^agg <HOST>");
    }

    #[test]
    fn self_reference_is_an_error() {
        let set = ConfigSet::from_text("f.conf", "[Definition]\nfailregex = <failregex>\n");
        let e = FilterDef::from_set("f", &set, &BTreeMap::new()).unwrap_err();
        assert!(e.to_string().contains("f.conf:2:1"), "{e}");
    }

    #[test]
    fn filter_options() {
        let (n, o) = split_with_options(r#"sshd[mode=aggressive, port="22,2222"]"#).unwrap();
        assert_eq!(n, "sshd");
        assert_eq!(o["mode"], "aggressive");
        assert_eq!(o["port"], "22,2222");
        assert!(split_with_options("x[a=1").is_err());
    }
}
