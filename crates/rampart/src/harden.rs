//! `rampart harden --check|--apply|--restore`: the kernel settings that
//! belong to a host firewall, per interface, current against recommended.
//!
//! `--apply` writes only the settings that differ and first records their
//! previous values in `STATE/harden.json`; `--restore` writes those back
//! and removes the record. A second `--apply` keeps the oldest previous
//! value of a key, so `--restore` always returns to the settings from
//! before rampart touched them.
//!
//! Both are also steps of the state history (`crate::state`): each that
//! writes something records a settings-only entry (kind `harden` /
//! `harden-restore`, the rules of the current entry) with the previous
//! values, before writing, so `rampart rollback` undoes the last step
//! whichever it was, and rolling back further also writes back the
//! settings an earlier `apply` or `harden` changed. Not while an `apply
//! --confirm` awaits confirmation (its automatic rollback would undo the
//! hardening too). All reads and writes go through
//! `rampart_sys::sysctl` (the `net.*` keys are those of the network
//! namespace rampart runs in).

use anyhow::{Context, Result};
use rampart_sys::sysctl::{iface_key, SysctlError, Sysctls};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The options of `rampart harden` (documented on `Cmd::Harden`).
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("mode").args(["check", "apply", "restore"]))]
pub struct Args {
    /// Report only (the default).
    #[arg(long)]
    pub check: bool,
    /// Write the settings that differ; record the previous values first.
    #[arg(long)]
    pub apply: bool,
    /// Write back the values recorded by --apply and remove the record.
    #[arg(long)]
    pub restore: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// State directory (default: $RAMPART_STATE_DIR, else /var/lib/rampart).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// How a setting compares with the recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Differs,
    /// The key does not exist here (IPv6 off, an interface that went away).
    Missing,
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `global`, `ipv4 all`, `ipv4 default`, `ipv4 eth0`, `ipv6 eth0`...
    pub scope: String,
    pub key: String,
    pub current: Option<String>,
    /// The value `--apply` writes.
    pub recommended: String,
    /// Values that count as fine (the recommended one among them).
    pub acceptable: Vec<String>,
    pub status: Status,
    pub why: &'static str,
}

/// A per-interface rule: setting name, value to write, values accepted.
struct Rule {
    name: &'static str,
    want: &'static str,
    ok: &'static [&'static str],
    why: &'static str,
}

const GLOBAL: &[(&str, Rule)] = &[
    (
        "net.ipv4.tcp_syncookies",
        Rule {
            name: "tcp_syncookies",
            want: "1",
            ok: &["1"],
            why: "answer a SYN flood with SYN cookies once the backlog is full, instead of dropping new connections",
        },
    ),
    (
        "net.ipv4.icmp_echo_ignore_broadcasts",
        Rule {
            name: "icmp_echo_ignore_broadcasts",
            want: "1",
            ok: &["1"],
            why: "do not answer pings sent to broadcast addresses (smurf amplification)",
        },
    ),
    (
        "net.ipv4.icmp_ignore_bogus_error_responses",
        Rule {
            name: "icmp_ignore_bogus_error_responses",
            want: "1",
            ok: &["1"],
            why: "do not log ICMP errors that answer broadcast frames (RFC 1122 violations), which fill the log",
        },
    ),
];

const RP_WHY: &str = "reverse-path filter: drop packets whose source address would not be routed back \
out of the interface they came in on (spoofed sources). 1 = strict (RFC 3704), written on a host with \
one interface besides lo; 2 = loose (the source must be routable by some interface), written on a \
multi-homed host, where strict mode drops legitimate replies that arrive on another interface than \
the route back. Both count as fine; the kernel uses the larger of conf.all and conf.IFACE";

const V4_CONF: &[Rule] = &[
    Rule {
        name: "rp_filter",
        want: "1",
        ok: &["1", "2"],
        why: RP_WHY,
    },
    Rule {
        name: "accept_redirects",
        want: "0",
        ok: &["0"],
        why: "ignore ICMP redirects: a host takes its routes from its configuration, not from the network (route hijacking)",
    },
    Rule {
        name: "send_redirects",
        want: "0",
        ok: &["0"],
        why: "a host is not a router and does not tell others how to route",
    },
    Rule {
        name: "accept_source_route",
        want: "0",
        ok: &["0"],
        why: "drop source-routed packets: the sender must not choose the path through this host",
    },
    Rule {
        name: "log_martians",
        want: "1",
        ok: &["1"],
        why: "log packets with impossible source addresses (what rp_filter drops), rate-limited by the kernel",
    },
];

const V6_CONF: &[Rule] = &[
    Rule {
        name: "accept_redirects",
        want: "0",
        ok: &["0"],
        why: "ignore ICMPv6 redirects: a host takes its routes from its configuration, not from the network",
    },
    Rule {
        name: "accept_source_route",
        want: "0",
        ok: &["0", "-1"],
        why: "no routing headers except type 2 (Mobile IPv6); -1 refuses those too",
    },
];

const V6_ACCEPT_RA: Rule = Rule {
    name: "accept_ra",
    want: "0",
    ok: &["0", "2"],
    why: "checked only where IPv6 forwarding is on: a router configures its own addresses and routes; \
router advertisements from the network would let any neighbour reroute it (2 is a deliberate \
override for an uplink that gets its address by SLAAC)",
};

/// Interfaces rampart reports under `conf/`: every one but `lo` (packets
/// on lo never come from the network; `all` covers it).
fn report_ifaces(entries: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = ["all", "default"]
        .into_iter()
        .filter(|s| entries.iter().any(|e| e == s))
        .collect();
    v.extend(
        entries
            .iter()
            .map(String::as_str)
            .filter(|e| !matches!(*e, "all" | "default" | "lo")),
    );
    v
}

fn item(
    sys: &Sysctls,
    scope: String,
    key: String,
    rule: &Rule,
    want: &str,
) -> Result<Item, SysctlError> {
    let current = match sys.read(&key) {
        Ok(v) => Some(v),
        Err(SysctlError::Missing { .. }) => None,
        Err(e) => return Err(e),
    };
    let status = match &current {
        None => Status::Missing,
        Some(v) if rule.ok.contains(&v.as_str()) => Status::Ok,
        Some(_) => Status::Differs,
    };
    Ok(Item {
        scope,
        key,
        current,
        recommended: want.to_string(),
        acceptable: rule.ok.iter().map(|s| s.to_string()).collect(),
        status,
        why: rule.why,
    })
}

/// Reads every recommended setting of `sys` and compares it.
pub fn survey(sys: &Sysctls) -> Result<Vec<Item>, SysctlError> {
    let mut items = Vec::new();
    for (key, rule) in GLOBAL {
        items.push(item(
            sys,
            "global".into(),
            key.to_string(),
            rule,
            rule.want,
        )?);
    }
    let v4 = sys.conf_entries("ipv4")?;
    let uplinks = v4
        .iter()
        .filter(|e| !matches!(e.as_str(), "all" | "default" | "lo"))
        .count();
    for iface in report_ifaces(&v4) {
        for rule in V4_CONF {
            let want = if rule.name == "rp_filter" && uplinks > 1 {
                "2"
            } else {
                rule.want
            };
            let key = format!("net.ipv4.conf.{}.{}", iface_key(iface), rule.name);
            items.push(item(sys, format!("ipv4 {iface}"), key, rule, want)?);
        }
    }
    let v6 = sys.conf_entries("ipv6")?;
    for iface in report_ifaces(&v6) {
        let base = format!("net.ipv6.conf.{}", iface_key(iface));
        for rule in V6_CONF {
            let key = format!("{base}.{}", rule.name);
            items.push(item(sys, format!("ipv6 {iface}"), key, rule, rule.want)?);
        }
        if sys.read(&format!("{base}.forwarding")).ok().as_deref() == Some("1") {
            let key = format!("{base}.accept_ra");
            let rule = &V6_ACCEPT_RA;
            items.push(item(sys, format!("ipv6 {iface}"), key, rule, rule.want)?);
        }
    }
    Ok(items)
}

/// One recorded change: the value before rampart wrote `applied`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    pub key: String,
    pub previous: String,
    pub applied: String,
}

/// `STATE/harden.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub version: u32,
    pub changes: Vec<Recorded>,
}

const RECORD_VERSION: u32 = 1;

pub fn record_path(state_dir: &Path) -> PathBuf {
    state_dir.join("harden.json")
}

fn load_record(path: &Path) -> Result<Option<Record>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let rec: Record = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a rampart harden record", path.display()))?;
    anyhow::ensure!(
        rec.version == RECORD_VERSION,
        "{}: record version {} (this rampart reads version {RECORD_VERSION})",
        path.display(),
        rec.version
    );
    Ok(Some(rec))
}

fn save_record(path: &Path, rec: &Record) -> Result<()> {
    let mut text = serde_json::to_string_pretty(rec)?;
    text.push('\n');
    crate::state::write_atomic(path, text.as_bytes())
}

/// Adds `new` to `rec`: a key already recorded keeps its oldest previous
/// value and gets the new applied one.
fn merge(rec: &mut Record, new: Vec<Recorded>) {
    for n in new {
        match rec.changes.iter_mut().find(|c| c.key == n.key) {
            Some(c) => c.applied = n.applied,
            None => rec.changes.push(n),
        }
    }
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let state = crate::state::dir_of(args.state_dir.as_deref());
    let sys = Sysctls::proc();
    let out = std::io::stdout();
    let mut out = out.lock();
    if args.restore {
        return restore(&sys, &state, args.json, &mut out);
    }
    let items = survey(&sys)?;
    if !args.apply {
        print_report(&mut out, &items, args.json, &state)?;
        let differ = items.iter().any(|i| i.status == Status::Differs);
        return Ok(ExitCode::from(u8::from(differ)));
    }
    apply(&sys, &state, &items, args.json, &mut out)
}

fn apply(
    sys: &Sysctls,
    state: &Path,
    items: &[Item],
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let todo: Vec<&Item> = items
        .iter()
        .filter(|i| i.status == Status::Differs)
        .collect();
    let path = record_path(state);
    let store = crate::state::Store::open(state)?;
    let _lock = store.lock()?;
    let mut entry = None;
    if !todo.is_empty() {
        crate::apply_cmd::settle_expired(&store)?;
        if let Some(p) = store.pending()? {
            eprintln!(
                "rampart: an apply is awaiting confirmation until {} (entry {}); run `rampart confirm` or `rampart rollback` first; nothing written",
                crate::state::fmt_time(p.deadline),
                p.applied
            );
            return Ok(ExitCode::from(2));
        }
        let changes = todo
            .iter()
            .map(|i| crate::state::SettingChange {
                key: i.key.clone(),
                previous: i.current.clone().unwrap_or_default(),
                value: i.recommended.clone(),
                by: None,
            })
            .collect();
        entry = Some(crate::apply_cmd::record_settings(
            &store,
            crate::state::Kind::Harden,
            crate::apply_cmd::with_side_effects(sys, changes),
        )?);
        // Record first: a crash after some writes still leaves every
        // previous value on disk (restoring an unchanged key is harmless).
        let mut rec = load_record(&path)?.unwrap_or(Record {
            version: RECORD_VERSION,
            changes: vec![],
        });
        merge(
            &mut rec,
            todo.iter()
                .map(|i| Recorded {
                    key: i.key.clone(),
                    previous: i.current.clone().unwrap_or_default(),
                    applied: i.recommended.clone(),
                })
                .collect(),
        );
        save_record(&path, &rec)?;
    }
    let mut changed = Vec::new();
    let mut failed = Vec::new();
    for i in &todo {
        match sys.write(&i.key, &i.recommended) {
            Ok(()) => changed.push(serde_json::json!({
                "key": i.key, "previous": i.current, "value": i.recommended,
            })),
            Err(e) => failed.push(e.to_string()),
        }
    }
    let entry_id = entry.map(|e| e.id);
    if let Some(id) = entry_id {
        store.set_current(id)?;
    }
    if json {
        let v = serde_json::json!({
            "changed": changed, "failed": failed, "record": path, "state_entry": entry_id,
        });
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
    } else {
        for c in &changed {
            writeln!(
                out,
                "{} = {} (was {})",
                c["key"].as_str().unwrap_or_default(),
                c["value"].as_str().unwrap_or_default(),
                c["previous"].as_str().unwrap_or("?")
            )?;
        }
        for f in &failed {
            eprintln!("rampart: error: {f}");
        }
        if todo.is_empty() {
            writeln!(
                out,
                "every setting already matches the recommendation; nothing written"
            )?;
        } else {
            writeln!(
                out,
                "{} setting(s) written; previous values recorded in {} (`rampart harden --restore` writes them back) and in state entry {} (`rampart rollback` undoes this step)",
                changed.len(),
                path.display(),
                entry_id.unwrap_or_default()
            )?;
        }
    }
    Ok(ExitCode::from(if failed.is_empty() { 0 } else { 2 }))
}

fn restore(sys: &Sysctls, state: &Path, json: bool, out: &mut impl Write) -> Result<ExitCode> {
    let path = record_path(state);
    let Some(rec) = load_record(&path)? else {
        if json {
            writeln!(out, "{{\"restored\": [], \"failed\": []}}")?;
        } else {
            writeln!(
                out,
                "nothing to restore: {} does not exist (no `rampart harden --apply` recorded here)",
                path.display()
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    let store = crate::state::Store::open(state)?;
    let _lock = store.lock()?;
    crate::apply_cmd::settle_expired(&store)?;
    if let Some(p) = store.pending()? {
        eprintln!(
            "rampart: an apply is awaiting confirmation until {} (entry {}); run `rampart confirm` or `rampart rollback` first; nothing written",
            crate::state::fmt_time(p.deadline),
            p.applied
        );
        return Ok(ExitCode::from(2));
    }
    // The history step, recorded before writing: the values now, and the
    // ones written back.
    let mut plan = Vec::new();
    for c in &rec.changes {
        if let Ok(now) = sys.read(&c.key) {
            if now != c.previous {
                plan.push(crate::state::SettingChange {
                    key: c.key.clone(),
                    previous: now,
                    value: c.previous.clone(),
                    by: None,
                });
            }
        }
    }
    let entry = if plan.is_empty() {
        None
    } else {
        Some(crate::apply_cmd::record_settings(
            &store,
            crate::state::Kind::HardenRestore,
            crate::apply_cmd::with_side_effects(sys, plan),
        )?)
    };
    let mut restored = Vec::new();
    let mut skipped = Vec::new();
    let mut left = Vec::new();
    let mut failed = Vec::new();
    for c in &rec.changes {
        let now = match sys.read(&c.key) {
            Ok(v) => v,
            Err(SysctlError::Missing { .. }) => {
                skipped.push(format!("{}: no longer exists (interface gone?)", c.key));
                continue;
            }
            Err(e) => {
                failed.push(e.to_string());
                left.push(c.clone());
                continue;
            }
        };
        if now != c.applied {
            eprintln!(
                "rampart: warning: {} is {now}, not the {} rampart wrote; something else changed it since; restoring {} anyway",
                c.key, c.applied, c.previous
            );
        }
        match sys.write(&c.key, &c.previous) {
            Ok(()) => restored.push(c.clone()),
            Err(e) => {
                failed.push(e.to_string());
                left.push(c.clone());
            }
        }
    }
    if let Some(e) = &entry {
        store.set_current(e.id)?;
    }
    if left.is_empty() {
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    } else {
        save_record(
            &path,
            &Record {
                version: RECORD_VERSION,
                changes: left,
            },
        )?;
    }
    if json {
        let v = serde_json::json!({
            "restored": restored, "skipped": skipped, "failed": failed,
        });
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
    } else {
        for r in &restored {
            writeln!(out, "{} = {} (restored)", r.key, r.previous)?;
        }
        for s in &skipped {
            writeln!(out, "skipped {s}")?;
        }
        for f in &failed {
            eprintln!("rampart: error: {f}");
        }
        writeln!(out, "{} setting(s) restored", restored.len())?;
    }
    Ok(ExitCode::from(if failed.is_empty() { 0 } else { 2 }))
}

fn print_report(out: &mut impl Write, items: &[Item], json: bool, state: &Path) -> Result<()> {
    let differ: Vec<&Item> = items
        .iter()
        .filter(|i| i.status == Status::Differs)
        .collect();
    if json {
        let v = serde_json::json!({ "settings": items, "differing": differ.len() });
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    let width = items.iter().map(|i| i.key.len()).max().unwrap_or(0);
    writeln!(
        out,
        "{:<width$}  {:>7}  {:>11}  STATUS",
        "SETTING", "CURRENT", "RECOMMENDED"
    )?;
    let mut scope = "";
    for i in items {
        if i.scope != scope {
            scope = &i.scope;
            writeln!(out, "# {scope}")?;
        }
        let rec = if i.acceptable.len() > 1 {
            i.acceptable.join("|")
        } else {
            i.recommended.clone()
        };
        let status = match i.status {
            Status::Ok => "ok".to_string(),
            Status::Differs => format!("DIFFERS (--apply writes {})", i.recommended),
            Status::Missing => "missing".to_string(),
        };
        writeln!(
            out,
            "{:<width$}  {:>7}  {:>11}  {status}",
            i.key,
            i.current.as_deref().unwrap_or("-"),
            rec
        )?;
    }
    if differ.is_empty() {
        writeln!(out, "\nevery setting matches the recommendation")?;
        return Ok(());
    }
    writeln!(out, "\nwhy:")?;
    let mut seen = Vec::new();
    for i in &differ {
        let name = i.key.rsplit('.').next().unwrap_or(&i.key);
        if !seen.contains(&name) {
            seen.push(name);
            writeln!(out, "  {name}: {}", i.why)?;
        }
    }
    writeln!(
        out,
        "\n{} setting(s) differ; `rampart harden --apply` writes them and records the previous values in {}",
        differ.len(),
        record_path(state).display()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(tag: &str, files: &[(&str, &str)]) -> (PathBuf, Sysctls) {
        let d = std::env::temp_dir().join(format!("rampart-harden-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for (f, v) in files {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().expect("has a parent")).expect("mkdir");
            std::fs::write(p, format!("{v}\n")).expect("write");
        }
        let s = Sysctls::at(&d);
        (d, s)
    }

    fn conf(ifaces: &[&str], v: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for i in ifaces {
            for r in V4_CONF {
                out.push((format!("net/ipv4/conf/{i}/{}", r.name), v.to_string()));
            }
        }
        out
    }

    #[test]
    fn rp_filter_is_strict_with_one_uplink_and_loose_when_multi_homed() {
        for (ifaces, want) in [
            (&["all", "default", "lo", "eth0"][..], "1"),
            (&["all", "default", "lo", "eth0", "wg0"][..], "2"),
        ] {
            let files = conf(ifaces, "0");
            let files: Vec<(&str, &str)> = files
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            let (d, s) = tree(want, &files);
            let items = survey(&s).expect("survey");
            let rp: Vec<&Item> = items
                .iter()
                .filter(|i| i.key.ends_with(".rp_filter"))
                .collect();
            // all, default and every interface but lo
            assert_eq!(rp.len(), ifaces.len() - 1);
            assert!(rp.iter().all(|i| i.recommended == want));
            assert!(!items.iter().any(|i| i.scope == "ipv4 lo"));
            // the global keys are absent in this tree
            assert!(items
                .iter()
                .filter(|i| i.scope == "global")
                .all(|i| i.status == Status::Missing));
            std::fs::remove_dir_all(d).expect("cleanup");
        }
    }

    #[test]
    fn accept_ra_is_checked_only_where_forwarding() {
        let (d, s) = tree(
            "ra",
            &[
                ("net/ipv6/conf/eth0/forwarding", "1"),
                ("net/ipv6/conf/eth0/accept_ra", "1"),
                ("net/ipv6/conf/eth1/forwarding", "0"),
                ("net/ipv6/conf/eth1/accept_ra", "1"),
            ],
        );
        let items = survey(&s).expect("survey");
        let ra: Vec<&str> = items
            .iter()
            .filter(|i| i.key.ends_with("accept_ra"))
            .map(|i| i.key.as_str())
            .collect();
        assert_eq!(ra, ["net.ipv6.conf.eth0.accept_ra"]);
        std::fs::remove_dir_all(d).expect("cleanup");
    }

    #[test]
    fn apply_then_restore_round_trips_and_keeps_the_oldest_previous_value() {
        let (d, s) = tree(
            "rt",
            &[
                ("net/ipv4/tcp_syncookies", "0"),
                ("net/ipv4/conf/all/rp_filter", "0"),
                ("net/ipv4/conf/all/log_martians", "1"),
            ],
        );
        let state = d.join("state");
        let mut sink = Vec::new();
        let items = survey(&s).expect("survey");
        apply(&s, &state, &items, false, &mut sink).expect("apply");
        assert_eq!(s.read("net.ipv4.tcp_syncookies").expect("read"), "1");
        assert_eq!(s.read("net.ipv4.conf.all.rp_filter").expect("read"), "1");
        // someone loosens rp_filter; a second apply leaves it (2 is fine)
        // but a changed syncookies is rewritten and its first previous kept
        s.write("net.ipv4.tcp_syncookies", "2").expect("write");
        let items = survey(&s).expect("survey");
        apply(&s, &state, &items, false, &mut sink).expect("apply again");
        let rec = load_record(&record_path(&state))
            .expect("load")
            .expect("exists");
        let sc = rec
            .changes
            .iter()
            .find(|c| c.key == "net.ipv4.tcp_syncookies")
            .expect("recorded");
        assert_eq!((sc.previous.as_str(), sc.applied.as_str()), ("0", "1"));
        assert!(!rec.changes.iter().any(|c| c.key.ends_with("log_martians")));
        restore(&s, &state, false, &mut sink).expect("restore");
        assert_eq!(s.read("net.ipv4.tcp_syncookies").expect("read"), "0");
        assert_eq!(s.read("net.ipv4.conf.all.rp_filter").expect("read"), "0");
        assert!(!record_path(&state).exists());
        std::fs::remove_dir_all(d).expect("cleanup");
    }
}
