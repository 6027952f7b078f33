//! `rampart save [--to FILE]`: store the policy rampart last applied where
//! the boot unit reads it (`/etc/rampart/policy.toml`).
//!
//! The live policy is the current entry of the state store (see
//! [`crate::state`]). A native policy is stored as the text that was
//! applied (included files keep their paths, relative to the saved file);
//! an imported one (iptables-save, script) is converted to the native
//! format when it is expressible there, else `save` refuses and says why.
//! rampart does not reverse-engineer a policy from the kernel's ruleset:
//! when nothing was applied, `save` says so and changes nothing.

use crate::state::{self, Store};
use anyhow::Result;
use rampart_syntax::native;
use std::path::PathBuf;
use std::process::ExitCode;

/// The options of `rampart save` (documented on `Cmd::Save`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to store it.
    #[arg(long, value_name = "FILE", default_value = state::BOOT_POLICY)]
    pub to: PathBuf,
    /// State directory (default: $RAMPART_STATE_DIR, else /var/lib/rampart).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let dir = state::dir_of(args.state_dir.as_deref());
    let entry = if dir.join("current").exists() {
        Store::open(&dir)?.current()?
    } else {
        None
    };
    // An entry of `harden` before any apply holds kernel settings only.
    let Some(entry) = entry.filter(state::Entry::has_policy) else {
        eprintln!(
            "rampart: error: nothing to save: no policy was applied by this rampart (state directory {}); \
             apply one with `rampart apply FILE` first",
            dir.display()
        );
        return Ok(ExitCode::from(2));
    };
    let to_name = args.to.display().to_string();
    let text = match (entry.format.as_str(), entry.sources.first()) {
        ("native", Some(src)) => src.text.clone(),
        _ => match native::to_native(&entry.policy) {
            Ok(t) => t,
            Err(problems) => {
                for p in &problems {
                    eprintln!("rampart: error: {p}");
                }
                eprintln!(
                    "rampart: error: the applied policy ({}, entry {}) cannot be expressed in rampart's TOML, \
                     so it cannot be stored as {to_name} for the boot unit",
                    entry.format, entry.id
                );
                return Ok(ExitCode::from(2));
            }
        },
    };
    if std::fs::read_to_string(&args.to).is_ok_and(|old| old == text) {
        eprintln!("{to_name}: already holds the applied policy; unchanged");
        return Ok(ExitCode::SUCCESS);
    }
    state::write_atomic(&args.to, text.as_bytes())?;
    eprintln!(
        "{to_name}: stored the applied policy (entry {}, {}, {} bytes)",
        entry.id,
        state::fmt_time(entry.time),
        text.len()
    );
    Ok(ExitCode::SUCCESS)
}
