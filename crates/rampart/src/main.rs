//! # rampart
//!
//! The `rampart` binary: CLI glue over the library crates. Everything that
//! decides something lives in the libraries; this crate reads files, picks
//! the front end, prints, and maps outcomes to exit codes
//! (0 clean, 1 findings, 2 bad input or failure).

mod apply_cmd;
mod cidr_cmd;
mod cli;
mod demo;
mod guard_cmd;
mod harden;
mod import_cmd;
mod input;
mod lint_cmd;
mod lockout;
mod replay_cmd;
mod save;
mod set_cmd;
mod setindex;
mod show;
mod state;
mod status_cmd;
mod why_cmd;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use cli::{Cli, Cmd, Generate, OutputFormat};
use rampart_model::Family;
use rampart_syntax::native::Loader;
use rampart_syntax::{iptables, native, script, Diagnostics};
use std::io::Write;
use std::process::ExitCode;

/// The boot unit, `dist/rampart.service`.
const SYSTEMD_UNIT: &str = include_str!("../../../dist/rampart.service");

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rampart: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Exit code for a set of diagnostics.
fn status(diags: &Diagnostics) -> u8 {
    if diags.has_errors() {
        2
    } else if !diags.is_empty() {
        1
    } else {
        0
    }
}

fn print_diags(diags: &Diagnostics) {
    if !diags.is_empty() {
        eprint!("{diags}");
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let out = std::io::stdout();
    let mut out = out.lock();
    match cli.command {
        Cmd::Check { input, files, json } => {
            let mut worst = 0u8;
            let mut all = Vec::new();
            for f in &files {
                let loaded = input::load(f, &input)?;
                worst = worst.max(status(&loaded.diagnostics));
                if json {
                    all.extend(loaded.diagnostics.0.iter().cloned());
                } else {
                    print_diags(&loaded.diagnostics);
                    let errors = loaded.diagnostics.errors().count();
                    let warnings = loaded.diagnostics.len() - errors;
                    eprintln!(
                        "{}: {} ({}): {} rule(s), {} set(s), {} error(s), {} warning(s)",
                        f.display(),
                        if errors > 0 { "FAILED" } else { "ok" },
                        loaded.format.name(),
                        loaded.policy.rule_count(),
                        loaded.policy.sets.len(),
                        errors,
                        warnings
                    );
                }
            }
            if json {
                serde_json::to_writer_pretty(&mut out, &all)?;
                writeln!(out)?;
            }
            Ok(ExitCode::from(worst))
        }
        Cmd::Convert {
            input,
            to,
            file,
            json,
        } => {
            let loaded = input::load(&file, &input)?;
            print_diags(&loaded.diagnostics);
            if loaded.diagnostics.has_errors() {
                return Ok(ExitCode::from(2));
            }
            if json {
                serde_json::to_writer_pretty(&mut out, &loaded.policy)?;
                writeln!(out)?;
                return Ok(ExitCode::from(status(&loaded.diagnostics)));
            }
            let text = match to {
                OutputFormat::IptablesSave => iptables::save_text(&loaded.policy, Family::Ipv4),
                OutputFormat::Ip6tablesSave => iptables::save_text(&loaded.policy, Family::Ipv6),
                OutputFormat::Ipset => script::ipset_save_text(&loaded.policy),
                OutputFormat::Native => match native::to_native(&loaded.policy) {
                    Ok(t) => t,
                    Err(problems) => {
                        for p in &problems {
                            eprintln!("{}: error: {p}", file.display());
                        }
                        eprintln!(
                            "{}: {} construct(s) cannot be expressed in the native format; convert to iptables-save instead",
                            file.display(),
                            problems.len()
                        );
                        return Ok(ExitCode::from(2));
                    }
                },
            };
            out.write_all(text.as_bytes())?;
            Ok(ExitCode::from(status(&loaded.diagnostics)))
        }
        Cmd::Show { input, file, json } => {
            let loaded = input::load(&file, &input)?;
            print_diags(&loaded.diagnostics);
            if json {
                serde_json::to_writer_pretty(&mut out, &loaded.policy)?;
                writeln!(out)?;
            } else {
                out.write_all(show::render(&loaded.policy).as_bytes())?;
            }
            Ok(ExitCode::from(status(&loaded.diagnostics)))
        }
        Cmd::Compile {
            input,
            file,
            json,
            no_optimize,
        } => {
            let loaded = input::load(&file, &input)?;
            print_diags(&loaded.diagnostics);
            if loaded.diagnostics.has_errors() {
                return Ok(ExitCode::from(2));
            }
            match rampart_nft::lower(&loaded.policy) {
                Ok(rs) => {
                    let rs = if no_optimize {
                        rs
                    } else {
                        rampart_nft::optimize(rs)
                    };
                    if json {
                        serde_json::to_writer_pretty(&mut out, &rampart_nft::to_json(&rs))?;
                        writeln!(out)?;
                    } else {
                        out.write_all(rampart_nft::to_text(&rs).as_bytes())?;
                    }
                    Ok(ExitCode::from(status(&loaded.diagnostics)))
                }
                Err(errors) => {
                    for e in &errors {
                        eprintln!("error: {e}");
                    }
                    eprintln!(
                        "{}: {} construct(s) cannot be lowered to nftables faithfully",
                        file.display(),
                        errors.len()
                    );
                    Ok(ExitCode::from(2))
                }
            }
        }
        Cmd::Apply {
            input,
            file,
            no_optimize,
            confirm,
            force,
            state,
        } => apply_cmd::run(&input, &file, no_optimize, confirm, force, &state),
        Cmd::Harden(args) => harden::run(&args),
        Cmd::Save(args) => save::run(&args),
        Cmd::Replay(args) => replay_cmd::run(&args).map(ExitCode::from),
        Cmd::Demo => demo::run(),
        Cmd::Diff {
            input,
            file,
            no_optimize,
            state,
        } => apply_cmd::diff(&input, &file, no_optimize, &state, &mut out),
        Cmd::Rollback { state } => apply_cmd::rollback(&state),
        Cmd::Confirm { state } => apply_cmd::confirm(&state),
        Cmd::Status { state, json } => status_cmd::run(&state, json, &mut out),
        Cmd::RollbackGuard {
            state,
            deadline,
            token,
        } => apply_cmd::guard(&state, deadline, &token),
        Cmd::Why(args) => why_cmd::run(&args, &mut out),
        Cmd::Examples { dir } => examples(&mut out, dir),
        Cmd::Cidr { op } => {
            drop(out);
            cidr_cmd::run(op)
        }
        Cmd::Lint {
            input,
            file,
            json,
            allow,
            severity,
        } => lint_cmd::lint(&input, &file, json, &allow, severity, &mut out),
        Cmd::Matrix {
            input,
            file,
            port,
            json,
        } => lint_cmd::matrix(&input, &file, port.as_deref(), json, &mut out),
        Cmd::Guard { op } => match op {
            cli::GuardOp::Test(args) => guard_cmd::test(&args, &mut out),
            cli::GuardOp::List => guard_cmd::list(&mut out),
            cli::GuardOp::Check(args) => guard_cmd::check(&args, &mut out),
            cli::GuardOp::Run(args) => guard_cmd::run(&args),
        },
        Cmd::Ban(args) => guard_cmd::ban(&args, &mut out),
        Cmd::Unban(args) => guard_cmd::unban(&args, &mut out),
        Cmd::Bans(args) => guard_cmd::bans(&args, &mut out),
        Cmd::Import { what } => match what {
            cli::ImportWhat::Fail2ban(args) => {
                drop(out);
                import_cmd::fail2ban(&args)
            }
        },
        Cmd::Set { op, state } => set_cmd::run(op, &state, &mut out),
        Cmd::Generate { what } => {
            let mut cmd = Cli::command();
            match what {
                Generate::Man => clap_mangen::Man::new(cmd).render(&mut out)?,
                Generate::Completions { shell } => {
                    clap_complete::generate(shell, &mut cmd, "rampart", &mut out)
                }
                Generate::Systemd => out.write_all(SYSTEMD_UNIT.as_bytes())?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The built-in default job: check every example policy (bundled in the
/// binary, or the `*.toml` files of `dir`) and print its iptables-save form.
fn examples(out: &mut impl Write, dir: Option<std::path::PathBuf>) -> Result<ExitCode> {
    let mut worst = 0;
    let names: Vec<String> = match &dir {
        Some(d) => {
            let mut v = Vec::new();
            for e in std::fs::read_dir(d).with_context(|| format!("reading {}", d.display()))? {
                let p = e?.path();
                if p.extension().is_some_and(|x| x == "toml") {
                    v.push(p.display().to_string());
                }
            }
            v.sort();
            v
        }
        None => input::BUNDLED_FILES
            .iter()
            .filter(|(n, _)| n.ends_with(".toml") && !n.contains('/'))
            .map(|(n, _)| format!("examples/{n}"))
            .collect(),
    };
    for name in names {
        let parsed = match &dir {
            Some(_) => {
                let text =
                    std::fs::read_to_string(&name).with_context(|| format!("reading {name}"))?;
                native::parse_native(&rampart_syntax::SourceFile::new(name.clone(), text))
            }
            None => {
                let mut loader = input::BundledLoader;
                let text = loader.read(&name).map_err(anyhow::Error::msg)?;
                native::parse_native_with(
                    &rampart_syntax::SourceFile::new(name.clone(), text),
                    &mut loader,
                )
            }
        };
        print_diags(&parsed.diagnostics);
        worst = worst.max(status(&parsed.diagnostics));
        writeln!(
            out,
            "# ===== {name}: {} rule(s), {} set(s), {} problem(s)",
            parsed.value.rule_count(),
            parsed.value.sets.len(),
            parsed.diagnostics.len()
        )?;
        for fam in parsed.value.families() {
            out.write_all(iptables::save_text(&parsed.value, fam).as_bytes())?;
        }
        if !parsed.value.sets.is_empty() {
            out.write_all(script::ipset_save_text(&parsed.value).as_bytes())?;
        }
    }
    Ok(ExitCode::from(worst))
}
