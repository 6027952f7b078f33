//! `rampart status [--json]`: what is applied (source files, SHA-256, time,
//! format), every rule of rampart's tables with its packet and byte
//! counters and the policy lines it came from, the sizes of the named
//! sets, a pending confirmation and the history.
//!
//! Counters are read from the kernel over netlink
//! ([`rampart_sys::list_rules`], [`rampart_sys::list_sets`]) and mapped back
//! by chain and position: rampart's tables are written only by rampart, in
//! one batch, in the order of the lowered [`Ruleset`], so the n-th live
//! rule of a chain is the n-th rule of that chain in the entry's ruleset
//! (lowered again from the stored policy model, which keeps the origins).
//! When the live tables do not have the applied shape (a chain with another
//! number of rules, a missing or extra table, or the entry now compiling to
//! other text) status says "the live ruleset differs from the applied one",
//! lists why, and maps only the chains whose rule counts agree.

use crate::apply_cmd::{relower, settle_expired};
use crate::cli::StateOpts;
use crate::state::{self, Kind, Store};
use anyhow::Result;
use rampart_model::Origin;
use rampart_nft::Ruleset;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;

/// Everything `status` reports; `--json` prints it as is.
#[derive(Debug, Serialize)]
struct Report {
    applied: Option<Applied>,
    pending: Option<PendingInfo>,
    live: Live,
    /// The guard daemon's table `inet rampart-guard` (not part of any
    /// applied policy; `apply` and `rollback` leave it alone).
    guard: Option<GuardTable>,
    state_dir: String,
    history: Vec<HistoryItem>,
}

#[derive(Debug, Serialize)]
struct Applied {
    id: u64,
    kind: Kind,
    /// Seconds since the Unix epoch.
    time: u64,
    time_text: String,
    sha256: String,
    format: String,
    no_optimize: bool,
    sources: Vec<String>,
    /// Kernel settings this entry changed (what a rollback writes back).
    settings: Vec<state::SettingChange>,
}

#[derive(Debug, Serialize)]
struct PendingInfo {
    applied: u64,
    previous: Option<u64>,
    deadline: u64,
    deadline_text: String,
}

#[derive(Debug, Default, Serialize)]
struct Live {
    /// The kernel holds exactly the applied tables, chain for chain.
    matches: bool,
    /// Why it does not.
    differences: Vec<String>,
    /// The live tables could not be read (not root, ...).
    error: Option<String>,
    tables: Vec<LiveTable>,
}

#[derive(Debug, Serialize)]
struct LiveTable {
    family: &'static str,
    name: String,
    chains: Vec<LiveChain>,
    sets: Vec<SetSize>,
}

#[derive(Debug, Serialize)]
struct LiveChain {
    name: String,
    rules: Vec<RuleStatus>,
}

#[derive(Debug, Serialize)]
struct RuleStatus {
    /// 0-based position in the chain.
    position: usize,
    handle: u64,
    packets: Option<u64>,
    bytes: Option<u64>,
    /// Every policy line this rule stands for (several for merged rules);
    /// empty when the chain could not be mapped.
    origins: Vec<Origin>,
    /// The rule as nft text, from the applied ruleset.
    nft: Option<String>,
}

#[derive(Debug, Serialize)]
struct GuardTable {
    /// Banned networks in `ban4` and `ban6`.
    ban4: usize,
    ban6: usize,
    /// Packets and bytes dropped by its rules (input and forward).
    dropped_packets: u64,
    dropped_bytes: u64,
}

/// The guard's table, when it is loaded and readable.
fn read_guard() -> Option<GuardTable> {
    use rampart_sys::banset::{SET4, SET6, TABLE};
    let fam = rampart_nft::TableFamily::Inet;
    let sets = rampart_sys::list_sets(fam, TABLE).ok()?;
    let rules = rampart_sys::list_rules(fam, TABLE).ok()?;
    let count = |n: &str| sets.iter().find(|s| s.name == n).map_or(0, |s| s.elements);
    Some(GuardTable {
        ban4: count(SET4),
        ban6: count(SET6),
        dropped_packets: rules.iter().filter_map(|r| r.packets).sum(),
        dropped_bytes: rules.iter().filter_map(|r| r.bytes).sum(),
    })
}

#[derive(Debug, Serialize)]
struct SetSize {
    name: String,
    /// Elements of the applied entry's set (the state store's count: the
    /// kernel is not asked, and elements that expired since are counted);
    /// `None` for a set the entry does not have.
    elements: Option<usize>,
}

#[derive(Debug, Serialize)]
struct HistoryItem {
    id: u64,
    current: bool,
    kind: Option<Kind>,
    time: Option<u64>,
    sha256: Option<String>,
    source: Option<String>,
    error: Option<String>,
}

/// `rampart status [--json]`.
pub fn run(st: &StateOpts, json: bool, out: &mut impl Write) -> Result<ExitCode> {
    let store = Store::open(&state::dir_of(st.state_dir.as_deref()))?;
    let _lock = store.lock()?;
    settle_expired(&store)?;
    let cur = store.current_id()?;
    let mut live = Live::default();
    let applied = match cur {
        Some(id) => {
            let (e, rs, counts) = applied_entry(&store, id, &mut live.differences)?;
            read_live(&rs, &counts, &mut live);
            Some(e)
        }
        None => {
            read_live(&Ruleset::default(), &HashMap::new(), &mut live);
            None
        }
    };
    live.matches = live.error.is_none() && live.differences.is_empty();
    let pending = store.pending()?.map(|p| PendingInfo {
        applied: p.applied,
        previous: p.previous,
        deadline: p.deadline,
        deadline_text: state::fmt_time(p.deadline),
    });
    let mut history = Vec::new();
    for id in store.ids()?.iter().rev() {
        history.push(match store.head(*id) {
            Ok(e) => HistoryItem {
                id: e.id,
                current: Some(*id) == cur,
                kind: Some(e.kind),
                time: Some(e.time),
                sha256: Some(e.sha256),
                source: e.sources.first().map(|s| s.path.clone()),
                error: None,
            },
            Err(err) => HistoryItem {
                id: *id,
                current: Some(*id) == cur,
                kind: None,
                time: None,
                sha256: None,
                source: None,
                error: Some(format!("{err:#}")),
            },
        });
    }
    let report = Report {
        applied,
        pending,
        live,
        guard: read_guard(),
        state_dir: store.dir().display().to_string(),
        history,
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        print_text(&report, out)?;
    }
    if report.live.error.is_some() {
        eprintln!(
            "rampart: cannot read the live ruleset: {}",
            report.live.error.as_deref().unwrap_or_default()
        );
    }
    Ok(if report.live.differences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Element counts by nft set name.
type Counts = HashMap<String, usize>;

/// Entry `id` as status shows it, its ruleset lowered again (sets without
/// elements) and its sets' element counts by nft name. Read from the
/// entry's JSON files only ([`Store::summary`]): no element is read and
/// only the rules are compiled, whatever the size of the sets. A legacy
/// entry is read whole. Adds to `differences` when this rampart compiles
/// the entry differently than when it was stored.
fn applied_entry(
    store: &Store,
    id: u64,
    differences: &mut Vec<String>,
) -> Result<(Applied, Ruleset, Counts)> {
    let lowered =
        |policy: &rampart_model::Policy, no_optimize: bool| match rampart_nft::lower(policy) {
            Ok(rs) if no_optimize => Ok(rs),
            Ok(rs) => Ok(rampart_nft::optimize(rs)),
            Err(errors) => Err(format!(
                "entry {id} no longer lowers to nftables ({} error(s), first: {})",
                errors.len(),
                errors.first().map(ToString::to_string).unwrap_or_default()
            )),
        };
    let differs = |id: u64| {
        format!(
            "entry {id} compiles differently with this rampart than when it was applied; source lines may be off"
        )
    };
    let (head, rs, counts) = match store.summary(id)? {
        Some(sum) if sum.rules_sha256.is_some() || sum.head.format == state::NO_POLICY => {
            let h = sum.head;
            let counts: Counts = sum
                .skeleton
                .sets
                .iter()
                .zip(&sum.counts)
                .map(|(s, n)| (rampart_nft::lower::nft_set_name(&s.name), *n))
                .collect();
            let rs = if h.format == state::NO_POLICY {
                Ruleset::default()
            } else {
                match lowered(&sum.skeleton, h.no_optimize) {
                    Ok(rs) => {
                        let text = rampart_nft::to_text(&rs);
                        if sum.rules_sha256.as_deref() != Some(state::sha256_hex(&text).as_str()) {
                            differences.push(differs(h.id));
                        }
                        rs
                    }
                    Err(err) => {
                        differences.push(err);
                        Ruleset::default()
                    }
                }
            };
            (h, rs, counts)
        }
        // Entries written before the rules' SHA-256 was kept: whole.
        _ => {
            let e = store.entry(id)?;
            let rs = match relower(&e) {
                Ok(rs) => {
                    if e.has_policy() && rampart_nft::to_text(&rs) != e.nft {
                        differences.push(differs(e.id));
                    }
                    rs
                }
                Err(err) => {
                    differences.push(format!("{err:#}"));
                    Ruleset::default()
                }
            };
            let counts: Counts = rs
                .tables
                .iter()
                .flat_map(|t| t.sets.iter().map(|s| (s.name.clone(), s.elements.len())))
                .collect();
            let h = store.head(id)?;
            (h, rs, counts)
        }
    };
    let applied = Applied {
        id: head.id,
        kind: head.kind,
        time: head.time,
        time_text: state::fmt_time(head.time),
        sha256: head.sha256.clone(),
        format: head.format.clone(),
        no_optimize: head.no_optimize,
        sources: head.sources.iter().map(|s| s.path.clone()).collect(),
        settings: head.settings.clone(),
    };
    Ok((applied, rs, counts))
}

/// Reads rampart's tables from the kernel and maps them onto `rs`
/// (`counts`: the applied sets' element counts by nft name).
fn read_live(rs: &Ruleset, counts: &Counts, live: &mut Live) {
    for t in &rs.tables {
        let rules = match rampart_sys::list_rules(t.family, &t.name) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                live.differences.push(e.to_string());
                continue;
            }
            Err(e) => {
                live.error = Some(format!("table {} {}: {e}", t.family.name(), t.name));
                return;
            }
        };
        // Set names only (a `GETSET` dump): dumping a million-element
        // interval set to count it takes the kernel minutes. The sizes are
        // the applied entry's.
        let sets = match rampart_sys::setsync::set_names(t.family, &t.name) {
            Ok(s) => s,
            Err(e) => {
                live.error = Some(format!("sets of table {} {}: {e}", t.family.name(), t.name));
                return;
            }
        };
        let tname = format!("table {} {}", t.family.name(), t.name);
        let mut chains: Vec<LiveChain> = Vec::new();
        for r in &rules {
            if !chains.iter().any(|c| c.name == r.chain) {
                chains.push(LiveChain {
                    name: r.chain.clone(),
                    rules: Vec::new(),
                });
            }
        }
        for c in &t.chains {
            if !chains.iter().any(|l| l.name == c.name) && !c.rules.is_empty() {
                live.differences.push(format!(
                    "{tname} chain {}: no rules loaded, {} applied",
                    c.name,
                    c.rules.len()
                ));
            }
        }
        for lc in &mut chains {
            let live_rules: Vec<_> = rules.iter().filter(|r| r.chain == lc.name).collect();
            let applied = t.chains.iter().find(|c| c.name == lc.name);
            let mapped = match applied {
                Some(c) if c.rules.len() == live_rules.len() => Some(c),
                Some(c) => {
                    live.differences.push(format!(
                        "{tname} chain {}: {} rule(s) loaded, {} applied",
                        lc.name,
                        live_rules.len(),
                        c.rules.len()
                    ));
                    None
                }
                None => {
                    live.differences.push(format!(
                        "{tname} chain {}: not part of the applied policy",
                        lc.name
                    ));
                    None
                }
            };
            lc.rules = live_rules
                .iter()
                .map(|l| {
                    let r = mapped.and_then(|c| c.rules.get(l.position));
                    RuleStatus {
                        position: l.position,
                        handle: l.handle,
                        packets: l.packets,
                        bytes: l.bytes,
                        origins: r.map_or_else(Vec::new, |r| {
                            if r.origins.is_empty() {
                                r.origin.iter().cloned().collect()
                            } else {
                                r.origins.clone()
                            }
                        }),
                        nft: r.map(rampart_nft::print::rule),
                    }
                })
                .collect();
        }
        let applied_sets: Vec<&str> = t.sets.iter().map(|s| s.name.as_str()).collect();
        let live_sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        if applied_sets != live_sets {
            live.differences.push(format!(
                "{tname}: sets loaded [{}], applied [{}]",
                live_sets.join(", "),
                applied_sets.join(", ")
            ));
        }
        live.tables.push(LiveTable {
            family: t.family.name(),
            name: t.name.clone(),
            chains,
            sets: sets
                .into_iter()
                .map(|name| SetSize {
                    elements: t
                        .sets
                        .iter()
                        .find(|s| s.name == name)
                        .and_then(|s| counts.get(&s.name).copied()),
                    name,
                })
                .collect(),
        });
    }
    // rampart's tables that the applied entry does not have.
    for (fam, name) in rampart_sys::OWN_TABLES {
        if rs.table(fam, name).is_some() {
            continue;
        }
        match rampart_sys::list_rules(fam, name) {
            Ok(_) => live.differences.push(format!(
                "table {} {name} is loaded but not part of the applied policy",
                fam.name()
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                live.error = Some(format!("table {} {name}: {e}", fam.name()));
                return;
            }
        }
    }
}

fn print_text(r: &Report, out: &mut impl Write) -> std::io::Result<()> {
    match &r.applied {
        Some(a) if a.format == state::NO_POLICY => {
            writeln!(
                out,
                "applied: no policy; entry {} ({:?}) at {} changed kernel settings only",
                a.id, a.kind, a.time_text
            )?;
            for c in &a.settings {
                writeln!(
                    out,
                    "  kernel setting {} = {} (was {}; `rampart rollback` writes it back)",
                    c.key, c.value, c.previous
                )?;
            }
        }
        Some(a) => {
            writeln!(
                out,
                "applied: entry {} ({:?}) from {} at {}, sha256 {}",
                a.id,
                a.kind,
                a.sources.first().map_or("<unknown>", String::as_str),
                a.time_text,
                a.sha256
            )?;
            writeln!(
                out,
                "  format {}{}; source file(s): {}",
                a.format,
                if a.no_optimize { ", not optimised" } else { "" },
                a.sources.join(", ")
            )?;
            for c in &a.settings {
                writeln!(
                    out,
                    "  kernel setting {} = {} (was {}; `rampart rollback` writes it back)",
                    c.key, c.value, c.previous
                )?;
            }
        }
        None => writeln!(out, "applied: nothing")?,
    }
    if let Some(p) = &r.pending {
        writeln!(
            out,
            "pending: entry {} rolls back to {} at {} unless `rampart confirm` runs",
            p.applied,
            p.previous.map_or_else(
                || "no rampart tables".to_string(),
                |id| format!("entry {id}")
            ),
            p.deadline_text
        )?;
    }
    match &r.guard {
        Some(g) => writeln!(
            out,
            "guard: table inet {} holds {} IPv4 and {} IPv6 ban(s); {} packet(s), {} byte(s) dropped",
            rampart_sys::banset::TABLE,
            g.ban4,
            g.ban6,
            g.dropped_packets,
            g.dropped_bytes
        )?,
        None => writeln!(
            out,
            "guard: table inet {} is not loaded (`rampart guard run` creates it)",
            rampart_sys::banset::TABLE
        )?,
    }
    let l = &r.live;
    if let Some(e) = &l.error {
        writeln!(out, "live: cannot read the kernel's ruleset: {e}")?;
    } else if l.differences.is_empty() {
        writeln!(out, "live: matches the applied entry")?;
    } else {
        writeln!(out, "live: the live ruleset differs from the applied one:")?;
        for d in &l.differences {
            writeln!(out, "  - {d}")?;
        }
    }
    for t in &l.tables {
        writeln!(out, "table {} {}", t.family, t.name)?;
        for c in &t.chains {
            writeln!(out, "  chain {}", c.name)?;
            writeln!(
                out,
                "    {:>4} {:>7} {:>12} {:>14}  source / rule",
                "#", "handle", "packets", "bytes"
            )?;
            for rule in &c.rules {
                let num = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |n| n.to_string());
                let origins = if rule.origins.is_empty() {
                    "(no source line)".to_string()
                } else {
                    rule.origins
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                writeln!(
                    out,
                    "    {:>4} {:>7} {:>12} {:>14}  {origins}",
                    rule.position + 1,
                    rule.handle,
                    num(rule.packets),
                    num(rule.bytes),
                )?;
                if let Some(n) = &rule.nft {
                    writeln!(out, "    {:>40}  {n}", "")?;
                }
            }
        }
        for s in &t.sets {
            match s.elements {
                Some(n) => writeln!(out, "  set {}: {n} element(s) (state store)", s.name)?,
                None => writeln!(out, "  set {}: not in the applied entry", s.name)?,
            }
        }
    }
    writeln!(out, "history ({}):", r.state_dir)?;
    for h in &r.history {
        match (&h.error, h.kind, h.time, &h.sha256) {
            (None, Some(kind), Some(time), Some(sha)) => writeln!(
                out,
                "{} {:>4} {:<13} {} {} {}",
                if h.current { "*" } else { " " },
                h.id,
                format!("{kind:?}").to_lowercase(),
                state::fmt_time(time),
                &sha[..sha.len().min(12)],
                h.source.as_deref().unwrap_or("")
            )?,
            _ => writeln!(
                out,
                "  {:>4} unreadable: {}",
                h.id,
                h.error.as_deref().unwrap_or("")
            )?,
        }
    }
    Ok(())
}
