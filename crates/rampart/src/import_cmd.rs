//! `rampart import fail2ban DIR`: an installed fail2ban setup (jail.conf,
//! jail.local, jail.d/, filter.d/) as rampart guard configuration
//! (`docs/guard.md`). Enabled jails become `[jail.NAME]` tables whose filters
//! stay fail2ban's own files (`filter = "fail2ban:NAME"`, each checked to
//! compile); what has no rampart counterpart (actions, ignorecommand,
//! other backends ...) is reported with its file:line.
//!
//! Exit codes: 0 everything carried over, 1 something was not, 2 errors.

use crate::guard_cmd;
use anyhow::{Context, Result};
use rampart_guard::{BantimeIncrement, Duration, GuardConfig, JailConfig};
use rampart_syntax::fail2ban::{read_jails, split_with_options, JailDef};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Fail2banArgs {
    /// fail2ban's configuration directory.
    #[arg(default_value = "/etc/fail2ban")]
    pub dir: PathBuf,
    /// Write the configuration here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also import jails that are not enabled (as `enabled = false`).
    #[arg(long)]
    pub all: bool,
}

pub fn fail2ban(args: &Fail2banArgs) -> Result<ExitCode> {
    let (jails, diags) = read_jails(&args.dir);
    if !diags.is_empty() {
        eprint!("{diags}");
    }
    if diags.has_errors() {
        return Ok(ExitCode::from(2));
    }
    let mut notes: BTreeSet<String> = BTreeSet::new();
    let mut errors = 0;
    let mut cfg = GuardConfig {
        fail2ban_dir: Some(args.dir.display().to_string()),
        ..GuardConfig::default()
    };
    let mut skipped_disabled = 0;
    for j in &jails {
        let enabled = j.options.get("enabled").is_some_and(|v| truthy(v));
        if !enabled && !args.all {
            skipped_disabled += 1;
            continue;
        }
        match convert(j, enabled, &args.dir, &mut notes) {
            Ok(jc) => {
                cfg.jail.insert(j.name.clone(), jc);
            }
            Err(e) => {
                errors += 1;
                eprintln!(
                    "{}: error: jail [{}] not imported: {e:#}",
                    origin(j, "filter"),
                    j.name
                );
            }
        }
    }
    for n in &notes {
        eprintln!("{n}");
    }
    let mut text = format!(
        "# rampart guard configuration imported from {} by `rampart import fail2ban`.\n# {} jail(s) imported, {} disabled jail(s) left out, {} not imported, {} item(s) not carried over (listed on standard error).\n",
        args.dir.display(),
        cfg.jail.len(),
        skipped_disabled,
        errors,
        notes.len()
    );
    text.push_str(&toml::to_string(&cfg).context("printing the configuration")?);
    // The printed file must read back.
    GuardConfig::load("imported", &text).map_err(|e| {
        anyhow::anyhow!(
            "internal: the imported configuration does not read back: {}",
            e[0]
        )
    })?;
    match &args.out {
        Some(p) => std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::from(if errors > 0 {
        2
    } else {
        u8::from(!notes.is_empty())
    }))
}

/// The jail options the import reads.
const USED: &[&str] = &[
    "enabled",
    "filter",
    "logpath",
    "maxretry",
    "findtime",
    "bantime",
    "bantime.increment",
    "bantime.factor",
    "bantime.formula",
    "bantime.multipliers",
    "bantime.maxtime",
    "bantime.rndtime",
    "bantime.overalljails",
    "ignoreip",
    "port",
    "protocol",
    "usedns",
    "backend",
    "journalmatch",
    "logencoding",
    "ignoreself",
    "ignorecommand",
    "logtimezone",
    "action",
];

fn truthy(v: &str) -> bool {
    matches!(
        v.trim().to_lowercase().as_str(),
        "true" | "yes" | "1" | "on"
    )
}

fn origin(j: &JailDef, key: &str) -> String {
    j.origins
        .get(key)
        .cloned()
        .unwrap_or_else(|| format!("[{}]", j.name))
}

fn list(v: &str) -> Vec<String> {
    v.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn convert(
    j: &JailDef,
    enabled: bool,
    dir: &Path,
    notes: &mut BTreeSet<String>,
) -> Result<JailConfig> {
    for (k, e) in &j.errors {
        if USED.contains(&k.as_str()) {
            notes.insert(format!(
                "{e}\n  = note: jail [{}]: `{k}` is not carried over",
                j.name
            ));
        }
    }
    let get = |k: &str| j.options.get(k).map(String::as_str);
    let filter_spec = get("filter").unwrap_or(&j.name).trim().to_string();
    let (fname, fargs) = split_with_options(&filter_spec).map_err(anyhow::Error::msg)?;
    guard_cmd::check_filter(&filter_spec, dir)?;
    let mut jc = JailConfig {
        enabled,
        filter: Some(format!("fail2ban:{fname}")),
        filter_options: fargs,
        ..JailConfig::default()
    };
    let backend = get("backend").unwrap_or("auto").trim().to_string();
    if backend.starts_with("systemd") {
        jc.logpath = vec!["journal".to_string()];
        // fail2ban's journalmatch: `+` separates alternatives, spaces
        // separate the matches of one.
        jc.journalmatch = get("journalmatch")
            .map(|m| {
                m.split_whitespace()
                    .filter(|x| !x.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
    } else {
        if !matches!(backend.as_str(), "auto" | "polling" | "pyinotify" | "gamin") {
            notes.insert(format!("{}: warning: jail [{}]: backend `{backend}` is not carried over (rampart follows log files itself)", origin(j, "backend"), j.name));
        }
        jc.logpath = get("logpath")
            .map(|v| {
                v.split('\n')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
    }
    let num = |k: &str, d: u32| -> Result<u32> {
        match get(k) {
            Some(v) => v
                .trim()
                .parse()
                .with_context(|| format!("{}: {k} = `{v}` is not a number", origin(j, k))),
            None => Ok(d),
        }
    };
    jc.maxretry = num("maxretry", 5)?;
    let dur = |k: &str, v: &str| -> Result<Duration> {
        Duration::parse(v).map_err(|e| anyhow::anyhow!("{}: {k}: {e}", origin(j, k)))
    };
    jc.findtime = dur("findtime", get("findtime").unwrap_or("10m"))?;
    jc.bantime = dur("bantime", get("bantime").unwrap_or("10m"))?;
    if get("bantime.increment").is_some_and(truthy) {
        let f = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let factor = match f("bantime.factor") {
            Some(v) => Some(v.parse::<f64>().with_context(|| {
                format!("{}: bantime.factor `{v}`", origin(j, "bantime.factor"))
            })?),
            None => None,
        };
        let multipliers = match f("bantime.multipliers") {
            Some(v) => list(&v)
                .iter()
                .map(|m| {
                    m.parse::<u64>().with_context(|| {
                        format!(
                            "{}: bantime.multipliers `{v}` (whole numbers)",
                            origin(j, "bantime.multipliers")
                        )
                    })
                })
                .collect::<Result<Vec<u64>>>()?,
            None => Vec::new(),
        };
        let maxtime = f("bantime.maxtime")
            .map(|v| dur("bantime.maxtime", &v))
            .transpose()?;
        let rndtime = f("bantime.rndtime")
            .map(|v| dur("bantime.rndtime", &v))
            .transpose()?;
        jc.bantime_increment = Some(BantimeIncrement {
            enabled: true,
            factor: factor.unwrap_or(1.0),
            formula: f("bantime.formula"),
            multipliers,
            maxtime,
            rndtime,
            overalljails: f("bantime.overalljails").is_some_and(|v| truthy(&v)),
        });
    }
    jc.ignoreip = get("ignoreip").map(list).unwrap_or_default();
    jc.port = get("port").map(list).unwrap_or_default();
    if jc.port == ["0:65535"] {
        jc.port.clear();
    }
    jc.protocol = get("protocol").unwrap_or("tcp").trim().to_string();
    if !matches!(jc.protocol.as_str(), "tcp" | "udp" | "sctp" | "all") {
        anyhow::bail!(
            "{}: protocol `{}` (tcp, udp, sctp or all)",
            origin(j, "protocol"),
            jc.protocol
        );
    }
    if let Err(e) = jc.ban_scope() {
        anyhow::bail!("{}: port: {e}", origin(j, "port"));
    }
    jc.usedns = get("usedns").unwrap_or("warn").trim().to_lowercase();
    if rampart_guard::filter::UseDns::parse(&jc.usedns).is_none() {
        anyhow::bail!(
            "{}: usedns `{}` (yes, warn, no or raw)",
            origin(j, "usedns"),
            jc.usedns
        );
    }
    if let Some(cmd) = get("ignorecommand").filter(|c| !c.trim().is_empty()) {
        notes.insert(format!("{}: warning: jail [{}]: ignorecommand `{cmd}` is not carried over (rampart runs no external commands to decide bans)", origin(j, "ignorecommand"), j.name));
    }
    if get("ignoreself").is_some_and(|v| !truthy(v)) {
        notes.insert(format!("{}: warning: jail [{}]: ignoreself = false is not carried over (rampart never bans the host's own addresses)", origin(j, "ignoreself"), j.name));
    }
    if let Some(enc) = get("logencoding").map(str::trim).filter(|e| {
        !matches!(
            e.to_lowercase().as_str(),
            "auto" | "utf-8" | "utf8" | "ascii"
        )
    }) {
        notes.insert(format!("{}: warning: jail [{}]: logencoding `{enc}` is not carried over (rampart reads UTF-8 and skips other lines)", origin(j, "logencoding"), j.name));
    }
    if let Some(tz) = get("logtimezone").filter(|v| !v.trim().is_empty()) {
        notes.insert(format!(
            "{}: warning: jail [{}]: logtimezone `{tz}` is not carried over",
            origin(j, "logtimezone"),
            j.name
        ));
    }
    if get("action").is_some_and(|a| !a.trim().is_empty()) {
        notes.insert(format!(
            "{}: warning: `action` is not carried over (rampart bans in its own nftables set; fail2ban actions such as mail or firewall commands are not run)",
            origin(j, "action")
        ));
    }
    Ok(jc)
}
