//! `rampart lint` and `rampart matrix`: load a policy like every other
//! command, run `rampart_analyze` over it, print text or JSON.

use crate::cli::{InputOpts, LintSeverity};
use crate::input;
use anyhow::{bail, Result};
use rampart_analyze::lint::{self, Code, Severity};
use rampart_analyze::matrix::{self, Service};
use rampart_syntax::SourceFile;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Loads the policy; `None` (after printing the errors) when it has errors.
fn load(inp: &InputOpts, file: &Path) -> Result<Option<rampart_model::Policy>> {
    let loaded = input::load(file, inp)?;
    if !loaded.diagnostics.is_empty() {
        eprint!("{}", loaded.diagnostics);
    }
    if loaded.diagnostics.has_errors() {
        eprintln!(
            "{}: the policy has errors; fix them before linting",
            file.display()
        );
        return Ok(None);
    }
    Ok(Some(loaded.policy))
}

pub fn lint(
    inp: &InputOpts,
    file: &Path,
    json: bool,
    allow: &[String],
    severity: LintSeverity,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let mut codes = Vec::new();
    for a in allow {
        match Code::parse(a) {
            Some(c) => codes.push(c),
            None => bail!(
                "--allow {a}: no such lint code (R001-R009 or a name such as exposed-admin-port)"
            ),
        }
    }
    let Some(policy) = load(inp, file)? else {
        return Ok(ExitCode::from(2));
    };
    let min = match severity {
        LintSeverity::Note => Severity::Note,
        LintSeverity::Warning => Severity::Warning,
        LintSeverity::Error => Severity::Error,
    };
    let findings: Vec<_> = lint::lint(&policy, &lint::Options { allow: codes })
        .into_iter()
        .filter(|f| f.severity >= min)
        .collect();
    if json {
        serde_json::to_writer_pretty(&mut *out, &findings)?;
        writeln!(out)?;
    } else {
        let main = file.display().to_string();
        let mut sources: BTreeMap<String, Option<SourceFile>> = BTreeMap::new();
        for f in &findings {
            let src = f.origin.as_ref().and_then(|o| {
                sources
                    .entry(o.file.clone())
                    .or_insert_with(|| {
                        std::fs::read_to_string(&o.file)
                            .ok()
                            .map(|t| SourceFile::new(o.file.clone(), t))
                    })
                    .as_ref()
            });
            writeln!(out, "{}", rampart_analyze::render::render(f, src, &main))?;
        }
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        eprintln!(
            "{main}: {} finding(s): {} error(s), {} warning(s), {} note(s)",
            findings.len(),
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Note)
        );
    }
    Ok(ExitCode::from(u8::from(!findings.is_empty())))
}

pub fn matrix(
    inp: &InputOpts,
    file: &Path,
    port: Option<&str>,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let service = match port {
        Some(p) => match Service::parse(p) {
            Ok(s) => Some(s),
            Err(e) => bail!("--port: {e}"),
        },
        None => None,
    };
    let Some(policy) = load(inp, file)? else {
        return Ok(ExitCode::from(2));
    };
    let m = matrix::matrix(&policy, service.as_ref());
    if json {
        serde_json::to_writer_pretty(&mut *out, &m)?;
        writeln!(out)?;
    } else if m.chains.is_empty() {
        writeln!(
            out,
            "{}: no filter table: everything is accepted",
            file.display()
        )?;
    } else {
        out.write_all(matrix::render(&m).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
