//! `rampart apply FILE`: load, lower, optimise (as `compile` does), encode
//! and send one netlink batch.
//! The batch is one nf_tables transaction (see `rampart_sys`), so the kernel
//! holds either the old or the new ruleset at every moment.

use crate::cli::InputOpts;
use crate::input;
use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;

pub fn run(opts: &InputOpts, file: &Path, no_optimize: bool) -> Result<ExitCode> {
    let loaded = input::load(file, opts)?;
    if !loaded.diagnostics.is_empty() {
        eprint!("{}", loaded.diagnostics);
    }
    if loaded.diagnostics.has_errors() {
        return Ok(ExitCode::from(2));
    }
    let rs = match rampart_nft::lower(&loaded.policy) {
        Ok(rs) if no_optimize => rs,
        Ok(rs) => rampart_nft::optimize(rs),
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!(
                "{}: {} construct(s) cannot be lowered to nftables faithfully; nothing applied",
                file.display(),
                errors.len()
            );
            return Ok(ExitCode::from(2));
        }
    };
    match rampart_sys::apply(&rs) {
        Ok(bytes) => {
            let tables: Vec<String> = rs
                .tables
                .iter()
                .map(|t| format!("{} {}", t.family.name(), t.name))
                .collect();
            eprintln!(
                "{}: applied table(s) {} in one transaction ({bytes} bytes)",
                file.display(),
                tables.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("rampart: error: {}: {e}", file.display());
            eprintln!("nothing was changed");
            Ok(ExitCode::from(2))
        }
    }
}
