//! Reading a policy file: format detection, the `--fix` rewrite of
//! web-pasted characters, and dispatch to the right front end.

use crate::cli::{InputFormat, InputOpts};
use anyhow::{Context, Result};
use rampart_model::{Family, Policy};
use rampart_syntax::diag::{Diagnostic, Diagnostics, Severity, SourceFile};
use rampart_syntax::{iptables, native, script, Parsed};
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/bundled_examples.rs"));

/// A file read into the model, with its diagnostics.
#[derive(Debug)]
pub struct Loaded {
    pub policy: Policy,
    pub diagnostics: Diagnostics,
    pub format: InputFormat,
}

impl InputFormat {
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::IptablesSave => "iptables-save",
            InputFormat::Ip6tablesSave => "ip6tables-save",
            InputFormat::IptablesScript => "iptables-script",
            InputFormat::Ipset => "ipset",
            InputFormat::Native => "native",
        }
    }
}

/// Guesses the format of a file from its name and first meaningful lines.
pub fn detect(path: &Path, text: &str) -> InputFormat {
    if path.extension().is_some_and(|e| e == "toml") {
        return InputFormat::Native;
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    match first {
        Some(l) if l.starts_with('*') || l.starts_with(':') || l.starts_with("-A ") || l.starts_with("-I ") || l.starts_with("-N ") || l.starts_with('[') => {
            match iptables::detect_family(text) {
                Family::Ipv4 => InputFormat::IptablesSave,
                Family::Ipv6 => InputFormat::Ip6tablesSave,
            }
        }
        Some(l) if l.starts_with("create ") || l.starts_with("add ") => InputFormat::Ipset,
        Some(l) if l.starts_with('[') || l.contains(" = ") => InputFormat::Native,
        _ => InputFormat::IptablesScript,
    }
}

/// Reads `path` with the options of the command line.
pub fn load(path: &Path, opts: &InputOpts) -> Result<Loaded> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.display().to_string();
    let mut text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            // Point at the first byte that is not UTF-8.
            let good = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let prefix = String::from_utf8_lossy(&bytes[..good]).into_owned();
            let shown = SourceFile::new(name.clone(), format!("{prefix}\u{fffd}"));
            let d = shown
                .error(rampart_syntax::Span::new(good, good + 3), "file is not valid UTF-8 text")
                .with_help("policy files, scripts and save files must be text; is this a binary file?");
            return Ok(Loaded {
                policy: Policy::default(),
                diagnostics: Diagnostics(vec![d]),
                format: opts.from.unwrap_or(InputFormat::IptablesScript),
            });
        }
    };
    if opts.fix {
        let (fixed, n) = script::fix_pasted_text(&text);
        if n > 0 {
            let orig = format!("{name}.orig");
            std::fs::write(&orig, &text).with_context(|| format!("cannot write {orig}"))?;
            std::fs::write(path, &fixed).with_context(|| format!("cannot write {name}"))?;
            eprintln!("{name}: replaced {n} pasted character(s); the original is in {orig}");
            text = fixed;
        }
    }
    let format = opts.from.unwrap_or_else(|| detect(path, &text));
    let file = SourceFile::new(name, text);
    let parsed: Parsed<Policy> = match format {
        InputFormat::IptablesSave => iptables::parse_save(&file, Family::Ipv4),
        InputFormat::Ip6tablesSave => iptables::parse_save(&file, Family::Ipv6),
        InputFormat::IptablesScript => script::parse_script(&file),
        InputFormat::Ipset => script::parse_ipset_save(&file),
        InputFormat::Native => native::parse_native(&file),
    };
    Ok(Loaded {
        policy: parsed.value,
        diagnostics: parsed.diagnostics,
        format,
    })
}

/// A diagnostic about a whole file.
#[allow(dead_code)]
pub fn file_error(path: &str, msg: &str) -> Diagnostic {
    Diagnostic::file_level(path, Severity::Error, msg)
}
