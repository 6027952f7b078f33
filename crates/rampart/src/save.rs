//! `rampart save [--to FILE]`: store the policy rampart last applied where
//! the boot unit reads it (`/etc/rampart/policy.toml`).
//!
//! The live policy is the source text `rampart apply` recorded in
//! `STATE/current.source`. rampart does not reverse-engineer a policy from
//! the kernel's ruleset: when nothing was recorded, `save` says so and
//! changes nothing.

use crate::paths;
use anyhow::{Context, Result};
use rampart_syntax::Format;
use std::path::PathBuf;
use std::process::ExitCode;

/// The options of `rampart save` (documented on `Cmd::Save`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to store it.
    #[arg(long, value_name = "FILE", default_value = paths::BOOT_POLICY)]
    pub to: PathBuf,
    /// State directory (default: $RAMPART_STATE_DIR, else /var/lib/rampart).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let state = paths::state_dir(args.state_dir.as_deref());
    let src = state.join("current.source");
    let text = match std::fs::read_to_string(&src) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "rampart: error: nothing to save: {} does not exist, so no policy was applied by this rampart \
                 (with this state directory); apply one with `rampart apply FILE` first",
                src.display()
            );
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", src.display())),
    };
    // The boot unit detects the format from the file name: a `.toml` target
    // must hold the native format, or boot would misread it.
    let to_name = args.to.display().to_string();
    let format = Format::detect("current.source", &text);
    if to_name.ends_with(".toml") && format != Format::Native {
        eprintln!(
            "rampart: error: the applied policy is {}, not rampart's TOML, so it cannot be stored as {to_name}; \
             convert it (`rampart convert --to native {}`) and apply that, or save it --to a file named for its format",
            format.name(),
            src.display()
        );
        return Ok(ExitCode::from(2));
    }
    if std::fs::read_to_string(&args.to).is_ok_and(|old| old == text) {
        eprintln!("{to_name}: already holds the applied policy; unchanged");
        return Ok(ExitCode::SUCCESS);
    }
    paths::write_atomic(&args.to, text.as_bytes())
        .with_context(|| format!("cannot write {to_name}"))?;
    eprintln!(
        "{to_name}: stored the applied policy ({} bytes, from {})",
        text.len(),
        src.display()
    );
    Ok(ExitCode::SUCCESS)
}
