//! A jail's filter: the `filter` and `filter_options` of a
//! [`crate::JailConfig`] (or a command-line FILTER argument) resolved to a
//! fail2ban filter definition and compiled. The jail schema itself is
//! [`crate::GuardConfig`] (`crates/guard/src/config.rs`).
//!
//! A filter is `NAME` (a built-in detector, else a fail2ban filter of the
//! fail2ban directory), `builtin:NAME`, `fail2ban:NAME`
//! (`DIR/filter.d/NAME.conf` with its `.local` and includes) or a path to a
//! fail2ban-syntax filter file, optionally with fail2ban's options
//! (`sshd[mode=aggressive]`).
//!
//! ```
//! use rampart_guard::filter::jail::{compile, resolve};
//! let def = resolve("sshd[mode=aggressive]", None, true).expect("a built-in detector");
//! let filter = compile(&def, 2026, false).expect("compiles");
//! assert!(!filter.failregex.is_empty());
//! ```

use super::builtin::builtin;
use super::{CompileOptions, Filter};
use rampart_syntax::fail2ban::{split_with_options, FilterDef};
use std::path::{Path, PathBuf};

/// fail2ban's configuration directory when none is given.
pub const FAIL2BAN_DIR: &str = "/etc/fail2ban";

/// Resolves a filter name (with options) to a definition. `dir` is the
/// fail2ban directory (default [`FAIL2BAN_DIR`]); with `prefer_builtin` a
/// bare name is a built-in detector when one has that name. Errors are
/// printable text: located diagnostics of the filter files.
pub fn resolve(spec: &str, dir: Option<&Path>, prefer_builtin: bool) -> Result<FilterDef, String> {
    let (name, args) = split_with_options(spec)?;
    let show = |d: rampart_syntax::Diagnostics| d.to_string().trim_end().to_string();
    if let Some(n) = name.strip_prefix("builtin:") {
        return builtin(n, &args).ok_or_else(|| format!("no built-in detector `{n}`"));
    }
    let dir = dir.map_or_else(|| PathBuf::from(FAIL2BAN_DIR), Path::to_path_buf);
    if let Some(n) = name.strip_prefix("fail2ban:") {
        return FilterDef::load(&dir, n, &args).map_err(show);
    }
    if name.contains('/') || Path::new(&name).is_file() {
        return FilterDef::load_file(Path::new(&name), &args).map_err(show);
    }
    if prefer_builtin {
        if let Some(def) = builtin(&name, &args) {
            return Ok(def);
        }
    }
    FilterDef::load(&dir, &name, &args).map_err(show)
}

/// Compiles a definition; `year` is the current year (for fail2ban's
/// date templates), `all` tries every failregex on every line. Every
/// problem is listed.
pub fn compile(def: &FilterDef, year: i32, all: bool) -> Result<Filter, String> {
    Filter::compile(
        def,
        &CompileOptions {
            year,
            check_all: all,
            ..CompileOptions::default()
        },
    )
    .map_err(|errs| {
        let text: Vec<String> = errs.iter().map(|e| format!("error: {e}")).collect();
        format!(
            "filter `{}` does not compile:\n{}",
            def.name,
            text.join("\n")
        )
    })
}

/// The compiled filter of jail `name` of a configuration, with the jail's
/// `usedns` applied.
pub fn jail_filter(
    config: &crate::GuardConfig,
    name: &str,
    jail: &crate::JailConfig,
    year: i32,
) -> Result<Filter, String> {
    let dir = config.fail2ban_dir.as_deref().map(Path::new);
    let spec = jail.filter_spec(name);
    let def =
        resolve(&spec, dir, true).map_err(|e| format!("jail {name}: filter `{spec}`: {e}"))?;
    let filter = Filter::compile(
        &def,
        &CompileOptions {
            year,
            use_dns: super::UseDns::parse(&jail.usedns),
            check_all: false,
        },
    )
    .map_err(|errs| {
        let text: Vec<String> = errs.iter().map(|e| format!("error: {e}")).collect();
        format!(
            "jail {name}: filter `{}` does not compile:\n{}",
            def.name,
            text.join("\n")
        )
    })?;
    if filter.failregex.is_empty() {
        return Err(format!("jail {name}: filter `{spec}` has no failregex"));
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_filter_name_resolves() {
        assert!(resolve("sshd", None, true).is_ok());
        assert!(resolve("builtin:sshd", None, false).is_ok());
        let e = resolve("builtin:nope", None, true).expect_err("unknown");
        assert!(e.contains("no built-in detector `nope`"), "{e}");
        let dir = std::env::temp_dir().join(format!("rampart-jail-filter-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("filter.d")).expect("mkdir");
        std::fs::write(
            dir.join("filter.d/app.conf"),
            "[Definition]\nfailregex = ^bad login from <HOST>$\n",
        )
        .expect("write");
        let def = resolve("fail2ban:app", Some(&dir), true).expect("fail2ban filter");
        let f = compile(&def, 2026, false).expect("compiles");
        assert_eq!(f.failregex.len(), 1);
        let cfg = crate::GuardConfig {
            fail2ban_dir: Some(dir.display().to_string()),
            ..crate::GuardConfig::default()
        };
        let jail = crate::JailConfig {
            filter: Some("app".into()),
            ..crate::JailConfig::default()
        };
        assert!(jail_filter(&cfg, "app", &jail, 2026).is_ok());
        let jail = crate::JailConfig {
            filter: Some("fail2ban:missing".into()),
            ..crate::JailConfig::default()
        };
        let e = jail_filter(&cfg, "x", &jail, 2026).expect_err("missing");
        assert!(e.starts_with("jail x: filter `fail2ban:missing`"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
