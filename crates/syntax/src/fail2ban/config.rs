//! fail2ban's layered configuration: `NAME.conf`, `NAME.d/*.conf`,
//! `NAME.local`, `NAME.d/*.local`, each with its `[INCLUDES] before/after`
//! files (and their `.local` twins) read around it; later files override
//! earlier ones option by option, and the overridden values stay reachable
//! as `%(known/NAME)s`. Values are interpolated as Python's
//! `BasicInterpolation` does (`%(name)s` from the section, `[DEFAULT]` and
//! the caller's variables, `%(section/name)s`, `%%`, `__name__`, depth 10).

use super::ini::{parse_ini, IniFile};
use crate::diag::{Diagnostic, Diagnostics, Severity, SourceFile, Span};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where an option value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValOrigin {
    /// Index into [`ConfigSet::files`].
    pub file: usize,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Val {
    pub text: String,
    pub origin: ValOrigin,
}

/// One section after merging every file: option name → value.
pub type Section = BTreeMap<String, Val>;

/// Every file of one configuration (a filter, or `jail`) merged in
/// fail2ban's order.
#[derive(Debug, Clone, Default)]
pub struct ConfigSet {
    pub files: Vec<SourceFile>,
    pub defaults: Section,
    /// Sections in first-seen order (`KNOWN/NAME` sections included).
    pub sections: Vec<(String, Section)>,
    pub diagnostics: Diagnostics,
}

/// Maximum nesting of `%(name)s` references (Python's `MAX_INTERPOLATION_DEPTH`).
const MAX_DEPTH: usize = 10;

impl ConfigSet {
    /// Reads `BASE.conf`, `BASE.d/*.conf`, `BASE.local`, `BASE.d/*.local`
    /// (those that exist) with their includes. `BASE` has no extension.
    pub fn read(base: &Path) -> ConfigSet {
        let mut top = vec![with_ext(base, "conf")];
        let d = PathBuf::from(format!("{}.d", base.display()));
        top.extend(sorted_glob(&d, "conf"));
        top.push(with_ext(base, "local"));
        top.extend(sorted_glob(&d, "local"));
        let top: Vec<PathBuf> = top.into_iter().filter(|p| p.is_file()).collect();
        let mut set = ConfigSet::default();
        let mut cache: BTreeMap<PathBuf, Option<(usize, IniFile)>> = BTreeMap::new();
        let order = set.includes(&top, &[], &mut cache);
        for p in order {
            if let Some(Some((idx, ini))) = cache.get(&p).cloned() {
                set.merge(idx, &ini);
            }
        }
        set
    }

    /// Reads one file (with its includes) as if it were the whole set.
    pub fn read_file(path: &Path) -> ConfigSet {
        let mut set = ConfigSet::default();
        let mut cache = BTreeMap::new();
        let order = set.includes(&[path.to_path_buf()], &[], &mut cache);
        for p in order {
            if let Some(Some((idx, ini))) = cache.get(&p).cloned() {
                set.merge(idx, &ini);
            }
        }
        set
    }

    /// A set from in-memory text (no includes are followed).
    pub fn from_text(path: &str, text: &str) -> ConfigSet {
        let mut set = ConfigSet::default();
        let file = SourceFile::new(path, text);
        let (ini, d) = parse_ini(&file);
        set.diagnostics.extend(d.0);
        set.files.push(file);
        set.merge(0, &ini);
        set
    }

    fn load(&mut self, p: &Path, cache: &mut BTreeMap<PathBuf, Option<(usize, IniFile)>>) {
        if cache.contains_key(p) {
            return;
        }
        let entry = match std::fs::read(p) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    let file = SourceFile::new(p.display().to_string(), text);
                    let (ini, d) = parse_ini(&file);
                    self.diagnostics.extend(d.0);
                    self.files.push(file);
                    Some((self.files.len() - 1, ini))
                }
                Err(e) => {
                    self.diagnostics.push(Diagnostic::file_level(
                        &p.display().to_string(),
                        Severity::Error,
                        format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
                    ));
                    None
                }
            },
            Err(_) => None,
        };
        cache.insert(p.to_path_buf(), entry);
    }

    /// fail2ban's `_getIncludes`: each file with its `.local` twin, each
    /// expanded to before-includes, itself, after-includes.
    fn includes(
        &mut self,
        files: &[PathBuf],
        seen: &[PathBuf],
        cache: &mut BTreeMap<PathBuf, Option<(usize, IniFile)>>,
    ) -> Vec<PathBuf> {
        let mut expanded: Vec<PathBuf> = Vec::new();
        for f in files {
            expanded.push(f.clone());
            let local = with_ext(&f.with_extension(""), "local");
            if !files.contains(&local) && local.is_file() && !expanded.contains(&local) {
                expanded.push(local);
            }
        }
        let mut out = Vec::new();
        for f in expanded {
            self.load(&f, cache);
            let Some(Some((_, ini))) = cache.get(&f).cloned() else {
                continue;
            };
            let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut before = Vec::new();
            let mut after = Vec::new();
            if let Some(inc) = ini.section("INCLUDES") {
                for (which, list) in [("before", &mut before), ("after", &mut after)] {
                    let Some(o) = inc.options.iter().find(|o| o.name == which) else {
                        continue;
                    };
                    for name in o.value.split('\n').filter(|s| !s.trim().is_empty()) {
                        let r = if Path::new(name).is_absolute() {
                            PathBuf::from(name)
                        } else {
                            dir.join(name.trim())
                        };
                        if seen.contains(&r) {
                            continue;
                        }
                        let mut s = seen.to_vec();
                        s.push(f.clone());
                        list.extend(self.includes(&[r], &s, cache));
                    }
                }
            }
            out.extend(before);
            out.push(f);
            out.extend(after);
        }
        out
    }

    fn merge(&mut self, file: usize, ini: &IniFile) {
        for s in &ini.sections {
            let vals: Section = s
                .options
                .iter()
                .map(|o| {
                    (
                        o.name.clone(),
                        Val {
                            text: o.value.clone(),
                            origin: ValOrigin { file, span: o.span },
                        },
                    )
                })
                .collect();
            if s.name == "DEFAULT" {
                self.defaults.extend(vals);
                continue;
            }
            if let Some(i) = self.sections.iter().position(|(n, _)| *n == s.name) {
                let old: Section = self.sections[i]
                    .1
                    .iter()
                    .filter(|(k, _)| vals.contains_key(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let known = format!("KNOWN/{}", s.name);
                match self.sections.iter().position(|(n, _)| *n == known) {
                    Some(k) => self.sections[k].1.extend(old),
                    None => self.sections.push((known, old)),
                }
                self.sections[i].1.extend(vals);
            } else {
                self.sections.push((s.name.clone(), vals));
            }
        }
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    pub fn has_section(&self, name: &str) -> bool {
        self.section(name).is_some()
    }

    /// The raw (uninterpolated) value as `configparser` looks it up:
    /// variables, then the section, then `[DEFAULT]`.
    pub fn raw<'a>(
        &'a self,
        section: &str,
        opt: &str,
        vars: &'a BTreeMap<String, String>,
    ) -> Option<(&'a str, Option<ValOrigin>)> {
        if let Some(v) = vars.get(opt) {
            return Some((v.as_str(), None));
        }
        if let Some(v) = self.section(section).and_then(|s| s.get(opt)) {
            return Some((v.text.as_str(), Some(v.origin)));
        }
        self.defaults
            .get(opt)
            .map(|v| (v.text.as_str(), Some(v.origin)))
    }

    /// Where an option is defined (section first, then `[DEFAULT]`).
    pub fn origin(&self, section: &str, opt: &str) -> Option<ValOrigin> {
        self.section(section)
            .and_then(|s| s.get(opt))
            .or_else(|| self.defaults.get(opt))
            .map(|v| v.origin)
    }

    /// `ConfigParser.get(section, opt, vars=vars)`: the interpolated value.
    pub fn get(
        &self,
        section: &str,
        opt: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<Option<String>, String> {
        if section != "DEFAULT" && !self.has_section(section) {
            return Ok(None);
        }
        let opt = opt.to_lowercase();
        let Some((raw, _)) = self.raw(section, &opt, vars) else {
            return Ok(None);
        };
        self.interpolate(section, &opt, raw, vars, 1).map(Some)
    }

    fn interpolate(
        &self,
        section: &str,
        opt: &str,
        raw: &str,
        vars: &BTreeMap<String, String>,
        depth: usize,
    ) -> Result<String, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "`%(...)s` references nest deeper than {MAX_DEPTH} levels in option `{opt}` (a reference loop?)"
            ));
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(p) = rest.find('%') {
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            if let Some(r) = rest.strip_prefix("%%") {
                out.push('%');
                rest = r;
                continue;
            }
            let Some(body) = rest.strip_prefix("%(") else {
                return Err(format!(
                    "`%` must be followed by `%` or `(` in option `{opt}`: {rest:.30}"
                ));
            };
            let Some(close) = body.find(")s") else {
                return Err(format!(
                    "bad interpolation syntax in option `{opt}`: {rest:.30}"
                ));
            };
            let name = &body[..close];
            rest = &body[close + 2..];
            let value = self.lookup_ref(section, name, vars).ok_or_else(|| {
                format!("option `{opt}` in section `[{section}]` refers to `%({name})s`, which is not defined")
            })?;
            if value.contains('%') {
                out.push_str(&self.interpolate(section, name, &value, vars, depth + 1)?);
            } else {
                out.push_str(&value);
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The raw value a `%(name)s` reference stands for.
    fn lookup_ref(
        &self,
        section: &str,
        name: &str,
        vars: &BTreeMap<String, String>,
    ) -> Option<String> {
        let lname = name.to_lowercase();
        if lname == "__name__" {
            return Some(section.to_string());
        }
        if let Some((v, _)) = self.raw(section, &lname, vars) {
            return Some(v.to_string());
        }
        let (sec, o) = name.split_once('/')?;
        let o = o.to_lowercase();
        match sec.to_lowercase().as_str() {
            "default" => self.defaults.get(&o).map(|v| v.text.clone()),
            "known" => self
                .section(&format!("KNOWN/{section}"))
                .and_then(|s| s.get(&o))
                .or_else(|| self.defaults.get(&o))
                .map(|v| v.text.clone()),
            _ => self
                .section(sec)
                .and_then(|s| s.get(&o))
                .map(|v| v.text.clone()),
        }
    }

    /// `get_ex`: like [`get`](Self::get) but `SECTION/OPT` names another
    /// section's option (`known/OPT`: the value before the last override).
    pub fn get_ex(
        &self,
        section: &str,
        opt: &str,
        vars: &BTreeMap<String, String>,
    ) -> Result<Option<String>, String> {
        if let Some((sec, o)) = opt.split_once('/') {
            let ok_sec = !sec.is_empty()
                && sec
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
            let ok_opt = !o.is_empty() && !o.contains(|c: char| c.is_whitespace() || c == '>');
            if ok_sec && ok_opt {
                let empty = BTreeMap::new();
                let tries: Vec<String> = match sec.to_lowercase().as_str() {
                    "known" => vec![format!("KNOWN/{section}"), section.to_string()],
                    "default" => vec!["DEFAULT".to_string()],
                    _ => vec![sec.to_string()],
                };
                for s in tries {
                    if s != "DEFAULT" && !self.has_section(&s) {
                        continue;
                    }
                    if let Some(v) = self.get(&s, o, &empty)? {
                        return Ok(Some(v));
                    }
                }
            }
        }
        self.get(section, opt, vars)
    }

    /// A diagnostic located at an option's value.
    pub fn error_at(&self, origin: Option<ValOrigin>, path: &str, msg: String) -> Diagnostic {
        match origin.and_then(|o| self.files.get(o.file).map(|f| (f, o.span))) {
            Some((f, span)) => f.error(span, msg),
            None => Diagnostic::file_level(path, Severity::Error, msg),
        }
    }
}

fn with_ext(base: &Path, ext: &str) -> PathBuf {
    PathBuf::from(format!("{}.{ext}", base.display()))
}

fn sorted_glob(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == ext))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    #[test]
    fn interpolation_section_default_known_and_vars() {
        let set = ConfigSet::from_text(
            "t.conf",
            "[DEFAULT]\nd = dd\n[A]\nx = %(d)s-%(y)s\ny = Y%%\nz = %(B/q)s\nn = %(__name__)s\nloop = %(loop)s\n[B]\nq = %(d)s!\n",
        );
        assert!(set.diagnostics.is_empty());
        assert_eq!(set.get("A", "x", &vars()).unwrap().unwrap(), "dd-Y%");
        assert_eq!(set.get("A", "z", &vars()).unwrap().unwrap(), "dd!");
        assert_eq!(set.get("A", "n", &vars()).unwrap().unwrap(), "A");
        assert!(set.get("A", "loop", &vars()).is_err());
        let mut v = vars();
        v.insert("d".into(), "VAR".into());
        assert_eq!(set.get("A", "x", &v).unwrap().unwrap(), "VAR-Y%");
        assert_eq!(set.get_ex("A", "B/q", &vars()).unwrap().unwrap(), "dd!");
    }
}
