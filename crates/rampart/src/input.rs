//! Reading a policy file: UTF-8 check, the `--fix` rewrite of web-pasted
//! characters, format detection and the front end.

use crate::cli::{InputFormat, InputOpts};
use anyhow::{Context, Result};
use rampart_model::Policy;
use rampart_syntax::diag::{Diagnostics, SourceFile};
use rampart_syntax::{script, Format, Span};
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/bundled_examples.rs"));

/// A file read into the model, with its diagnostics.
#[derive(Debug)]
pub struct Loaded {
    pub policy: Policy,
    pub diagnostics: Diagnostics,
    pub format: Format,
}

impl From<InputFormat> for Format {
    fn from(f: InputFormat) -> Format {
        match f {
            InputFormat::IptablesSave => Format::IptablesSave,
            InputFormat::Ip6tablesSave => Format::Ip6tablesSave,
            InputFormat::IptablesScript => Format::IptablesScript,
            InputFormat::Ipset => Format::Ipset,
            InputFormat::Native => Format::Native,
        }
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
                .error(Span::new(good, good + 3), "file is not valid UTF-8 text")
                .with_help("policy files, scripts and save files are text; is this a binary file?");
            return Ok(Loaded {
                policy: Policy::default(),
                diagnostics: Diagnostics(vec![d]),
                format: opts.from.map_or(Format::IptablesScript, Format::from),
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
    let format = opts
        .from
        .map_or_else(|| Format::detect(&name, &text), Format::from);
    let file = SourceFile::new(name, text);
    let parsed = format.parse(&file);
    Ok(Loaded {
        policy: parsed.value,
        diagnostics: parsed.diagnostics,
        format,
    })
}

/// Serves the bundled `examples/` files to the native front end (includes
/// and set files resolve against `examples/NAME`).
#[derive(Debug, Clone, Copy)]
pub struct BundledLoader;

impl rampart_syntax::native::Loader for BundledLoader {
    fn read(&mut self, path: &str) -> Result<String, String> {
        let rel = path.strip_prefix("examples/").unwrap_or(path);
        BUNDLED_FILES
            .iter()
            .find(|(n, _)| *n == rel)
            .map(|(_, t)| (*t).to_string())
            .ok_or_else(|| format!("no bundled file `{path}`"))
    }

    fn list(&mut self, dir: &str) -> Result<Vec<String>, String> {
        let rel = dir
            .strip_prefix("examples")
            .unwrap_or(dir)
            .trim_start_matches('/');
        let prefix = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        Ok(BUNDLED_FILES
            .iter()
            .filter_map(|(n, _)| n.strip_prefix(prefix.as_str()))
            .filter(|rest| !rest.contains('/'))
            .map(str::to_string)
            .collect())
    }
}
