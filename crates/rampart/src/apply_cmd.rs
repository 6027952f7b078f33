//! `rampart apply`, `diff`, `rollback`, `confirm` and the hidden
//! `rollback-guard`: load, lower, optimise (as `compile` does), check the
//! admin's SSH connection ([`crate::lockout`]), encode and send one netlink
//! batch, and record what was applied in the state store ([`crate::state`]).
//!
//! The batch is one nf_tables transaction (see `rampart_sys`), so the kernel
//! holds either the old or the new ruleset at every moment; it also removes
//! rampart's tables the new ruleset does not have, so rampart's tables are
//! exactly the applied policy.
//!
//! Safe apply (`--confirm DURATION`): before the batch is sent, a pending
//! record (token, deadline, entry to restore) is written to the state
//! directory and a helper (`rampart rollback-guard`) is started in a new
//! session, detached from the terminal. It polls the record and, at the
//! deadline, restores the previous policy unless `rampart confirm` removed
//! the record. Because the record is on disk, a guard that was killed is
//! replaced by the next `apply`, `rollback`, `confirm` or `status`: each
//! first rolls back an expired pending apply. Between the guard's death
//! and such a command nothing rolls back (no boot hook is installed).
//!
//! Kernel settings: `apply` writes the policy's `Sysctl`s (e.g.
//! `net.ipv4.ip_forward = 1` of a NAT policy) that differ from the running
//! kernel, and `harden --apply|--restore` writes its own; either way the
//! previous values are recorded in the state entry *before* anything is
//! written ([`state::SettingChange`]). Rolling back from an entry restores
//! the target's rules and then writes back every setting changed since
//! (newest first). The order, for both directions, is rules first, then
//! settings: the ruleset swap is the one step the kernel may refuse as a
//! whole, so a refusal leaves rules *and* settings as they were (never
//! settings rolled back under the rules they belonged to), and on a
//! rollback the rules that let the admin back in are in place before any
//! setting is touched — a setting that cannot be written (an interface
//! that is gone, a read-only `/proc/sys`) is reported and never stops them.
//! Steps that changed settings only (`harden`) do not reload the rules,
//! so their rollback keeps counters and dynamic sets.

use crate::cli::{InputOpts, StateOpts};
use crate::input;
use crate::lockout::{self, SshConn};
use crate::state::{self, Kind, Pending, SettingChange, Source, Store};
use anyhow::{bail, Context, Result};
use rampart_nft::Ruleset;
use rampart_sys::sysctl::{SysctlError, Sysctls};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// A policy file compiled for the kernel.
struct Compiled {
    loaded: input::Loaded,
    rs: Ruleset,
    text: String,
    source: Source,
}

/// Loads and lowers `file`; `Err(code)` after printing the problems.
fn compile(
    opts: &InputOpts,
    file: &Path,
    no_optimize: bool,
) -> Result<std::result::Result<Compiled, ExitCode>> {
    let loaded = input::load(file, opts)?;
    if !loaded.diagnostics.is_empty() {
        eprint!("{}", loaded.diagnostics);
    }
    if loaded.diagnostics.has_errors() {
        return Ok(Err(ExitCode::from(2)));
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
            return Ok(Err(ExitCode::from(2)));
        }
    };
    let text = rampart_nft::to_text(&rs);
    // `input::load` read it already; a file that changed in between is
    // recorded as read now, which is what the model was built from at most
    // a moment ago.
    let source = Source {
        path: file.display().to_string(),
        text: std::fs::read_to_string(file).unwrap_or_default(),
    };
    Ok(Ok(Compiled {
        loaded,
        rs,
        text,
        source,
    }))
}

/// Parses `60s`, `2m`, `1h` or `90` (seconds).
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 60s, 5m or 1h"))?;
    let secs = n.saturating_mul(mult);
    if secs == 0 || secs > 86_400 {
        return Err(format!("`{s}`: the confirmation time must be 1s to 24h"));
    }
    Ok(Duration::from_secs(secs))
}

/// The admin's SSH connection: `SSH_CONNECTION` of this process, else of
/// the nearest ancestor that has it (`sudo` drops it). An empty
/// `SSH_CONNECTION` means "not over SSH" and stops the search.
fn ssh_connection() -> Option<(SshConn, String)> {
    match std::env::var("SSH_CONNECTION") {
        Ok(v) if v.trim().is_empty() => None,
        Ok(v) => SshConn::parse(&v).map(|c| (c, "SSH_CONNECTION".to_string())),
        Err(_) => {
            let (pid, v) = rampart_sys::process::env_of_ancestors("SSH_CONNECTION")?;
            SshConn::parse(&v).map(|c| (c, format!("SSH_CONNECTION of process {pid}")))
        }
    }
}

/// The kernel settings of `policy` whose running value differs, with that
/// value (recorded before anything is written). A key set twice keeps its
/// first previous value and its last value. Only `net.*` keys: they belong
/// to the network namespace rampart applies in; anything else is an error
/// naming the key and its line. A key this kernel lacks (IPv6 disabled) is
/// a warning and is skipped.
pub(crate) fn plan_settings(
    sys: &Sysctls,
    sysctls: &[rampart_model::Sysctl],
) -> std::result::Result<Vec<SettingChange>, Vec<String>> {
    let mut plan: Vec<SettingChange> = Vec::new();
    let mut errors = Vec::new();
    for s in sysctls {
        let at = s
            .origin
            .as_ref()
            .map_or_else(String::new, |o| format!("{o}: "));
        if !s.key.starts_with("net.") {
            errors.push(format!(
                "{at}{} = {}: rampart applies only the network settings (net.*) of a policy, which belong to the network namespace it applies in; set this one with sysctl.d",
                s.key, s.value
            ));
            continue;
        }
        if let Some(p) = plan.iter_mut().find(|p| p.key == s.key) {
            p.value = s.value.clone();
            continue;
        }
        match sys.read(&s.key) {
            Ok(v) => plan.push(SettingChange {
                key: s.key.clone(),
                previous: v,
                value: s.value.clone(),
                by: None,
            }),
            Err(e @ SysctlError::Missing { .. }) => {
                eprintln!("rampart: warning: {at}{e}; not set");
            }
            Err(e) => errors.push(format!("{at}{e}")),
        }
    }
    plan.retain(|p| p.previous != p.value);
    if errors.is_empty() {
        Ok(with_side_effects(sys, plan))
    } else {
        Err(errors)
    }
}

/// `changes` with, after each, the keys the kernel rewrites when it is
/// written ([`Sysctls::side_effects`]) and their values now, marked
/// [`SettingChange::by`]: a rollback writes them back after the key.
pub(crate) fn with_side_effects(sys: &Sysctls, changes: Vec<SettingChange>) -> Vec<SettingChange> {
    let mut out = Vec::new();
    for c in changes {
        let keys = sys.side_effects(&c.key).unwrap_or_default();
        let key = c.key.clone();
        out.push(c);
        for k in keys {
            if let Ok(v) = sys.read(&k) {
                out.push(SettingChange {
                    key: k,
                    previous: v.clone(),
                    value: v,
                    by: Some(key.clone()),
                });
            }
        }
    }
    out
}

/// Writes `changes` in order; returns one line per failure.
pub(crate) fn write_settings(sys: &Sysctls, changes: &[SettingChange]) -> Vec<String> {
    let mut failed = Vec::new();
    for c in changes.iter().filter(|c| c.by.is_none()) {
        match sys.write(&c.key, &c.value) {
            Ok(()) => eprintln!("{} = {} (was {})", c.key, c.value, c.previous),
            Err(e) => failed.push(e.to_string()),
        }
    }
    failed
}

/// Writes back the previous values of `changes`, last change first;
/// returns what was restored and the failures. A key that no longer exists
/// (an interface that is gone) is reported and skipped.
pub(crate) fn undo_settings(
    sys: &Sysctls,
    changes: &[SettingChange],
) -> (Vec<String>, Vec<String>) {
    let mut done = Vec::new();
    let mut failed = Vec::new();
    // Groups of a written key and the keys the kernel rewrote with it,
    // last group first; within a group the key, then its side effects
    // (writing the key back rewrites them again).
    let mut groups: Vec<Vec<&SettingChange>> = Vec::new();
    for c in changes {
        match groups.last_mut() {
            Some(g) if c.by.as_deref() == Some(g[0].key.as_str()) => g.push(c),
            _ => groups.push(vec![c]),
        }
    }
    for c in groups.into_iter().rev().flatten() {
        match sys.write(&c.key, &c.previous) {
            Ok(()) => done.push(format!("{} = {}", c.key, c.previous)),
            Err(e @ SysctlError::Missing { .. }) => {
                done.push(format!("{} skipped ({e})", c.key));
            }
            Err(e) => failed.push(e.to_string()),
        }
    }
    (done, failed)
}

/// Records a settings-only entry (`harden`): the rules of the current
/// entry (or no policy) and `changes`. Not current until
/// [`Store::set_current`], which the caller does once the settings are
/// written; recorded first so that a crash in between still has every
/// previous value on disk.
pub(crate) fn record_settings(
    store: &Store,
    kind: Kind,
    changes: Vec<SettingChange>,
) -> Result<state::Entry> {
    let now = state::now();
    match store.current()? {
        Some(cur) => store.add(
            now,
            kind,
            Some(cur.id),
            None,
            &cur.format,
            cur.no_optimize,
            cur.sources,
            cur.policy,
            cur.nft,
            changes,
        ),
        None => store.add(
            now,
            kind,
            None,
            None,
            state::NO_POLICY,
            false,
            vec![],
            rampart_model::Policy::default(),
            String::new(),
            changes,
        ),
    }
}

/// Sends `rs` so that rampart's tables become exactly its tables: only the
/// changed set elements when that is all that differs from the applied
/// entry, else the tables replaced in one transaction
/// ([`crate::set_cmd::load_into_kernel`]).
fn load_into_kernel(
    store: &Store,
    rs: &Ruleset,
) -> std::result::Result<usize, rampart_sys::ApplyError> {
    crate::set_cmd::load_into_kernel(store, rs)
}

/// `rampart apply [--confirm D] [--force] FILE`.
pub fn run(
    opts: &InputOpts,
    file: &Path,
    no_optimize: bool,
    confirm: Option<Duration>,
    force: bool,
    st: &StateOpts,
) -> Result<ExitCode> {
    let store = Store::open(&state::dir_of(st.state_dir.as_deref()))?;
    let lock = store.lock()?;
    settle_expired(&store)?;
    if let Some(p) = store.pending()? {
        eprintln!(
            "rampart: an apply is awaiting confirmation until {} (entry {}); run `rampart confirm` or `rampart rollback` first; nothing applied",
            state::fmt_time(p.deadline),
            p.applied
        );
        return Ok(ExitCode::from(2));
    }
    let c = match compile(opts, file, no_optimize)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    if let Some((conn, from)) = ssh_connection() {
        let report = lockout::check(&c.loaded.policy, conn);
        if report.is_safe() {
            eprintln!("lock-out guard: your SSH connection {conn} ({from}) stays reachable");
        } else {
            eprint!("{report}");
            if !force {
                eprintln!(
                    "rampart: refusing to apply {}: it may cut your SSH connection ({from}); nothing applied. Fix the policy, or use --force (with --confirm) if you have checked the rules above",
                    file.display()
                );
                return Ok(ExitCode::from(2));
            }
            eprintln!("--force: applying anyway");
        }
    }
    let sys = Sysctls::proc();
    let planned = match plan_settings(&sys, &c.loaded.policy.sysctls) {
        Ok(p) => p,
        Err(errors) => {
            for e in &errors {
                eprintln!("rampart: error: {e}");
            }
            eprintln!("{}: nothing applied", file.display());
            return Ok(ExitCode::from(2));
        }
    };
    let now = state::now();
    let parent = store.current_id()?;
    let entry = store.add(
        now,
        Kind::Apply,
        parent,
        None,
        c.loaded.format.name(),
        no_optimize,
        vec![c.source],
        c.loaded.policy,
        c.text,
        planned.clone(),
    )?;
    let token = confirm.map(|_| new_token());
    if let (Some(d), Some(token)) = (confirm, &token) {
        let deadline = now + d.as_secs();
        store.set_pending(&Pending::new(token.clone(), deadline, parent, entry.id))?;
        if let Err(e) = spawn_guard(&store, deadline, token) {
            store.clear_pending()?;
            store.remove_entry(entry.id)?;
            return Err(e.context("cannot start the rollback guard; nothing applied"));
        }
    }
    match load_into_kernel(&store, &c.rs) {
        Ok(bytes) => {
            store.set_current(entry.id)?;
            let tables: Vec<String> =
                c.rs.tables
                    .iter()
                    .map(|t| format!("{} {}", t.family.name(), t.name))
                    .collect();
            eprintln!(
                "{}: applied table(s) {} in one transaction ({bytes} bytes); state entry {} sha256 {}",
                file.display(),
                tables.join(", "),
                entry.id,
                &entry.sha256[..16]
            );
        }
        Err(e) => {
            if token.is_some() {
                store.clear_pending()?;
            }
            store.remove_entry(entry.id)?;
            eprintln!("rampart: error: {}: {e}", file.display());
            eprintln!("nothing was changed");
            return Ok(ExitCode::from(2));
        }
    }
    // The rules are in; now the settings (see the module documentation).
    let failed = write_settings(&sys, &planned);
    for f in &failed {
        eprintln!("rampart: error: {f}");
    }
    if !failed.is_empty() {
        eprintln!(
            "rampart: the rules are applied but {} kernel setting(s) could not be written; `rampart rollback` restores the previous rules and settings",
            failed.len()
        );
    }
    let code = |ok: ExitCode| {
        if failed.is_empty() {
            ok
        } else {
            ExitCode::from(2)
        }
    };
    drop(lock);
    let (Some(d), Some(token)) = (confirm, token) else {
        return Ok(code(ExitCode::SUCCESS));
    };
    let deadline = now + d.as_secs();
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "run `rampart confirm` by {} ({}s) to keep it; otherwise the previous ruleset is restored",
            state::fmt_time(deadline),
            d.as_secs()
        );
        return Ok(code(ExitCode::SUCCESS));
    }
    eprint!(
        "Keep this ruleset? [y/N] (rolls back by itself at {}) ",
        state::fmt_time(deadline)
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    let _lock = store.lock()?;
    match store.pending()? {
        Some(p) if p.token == token => {
            if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
                && state::now() < p.deadline
            {
                store.clear_pending()?;
                eprintln!("confirmed: keeping entry {}", p.applied);
                Ok(code(ExitCode::SUCCESS))
            } else {
                settle(&store, &p, "not confirmed at the prompt")?;
                Ok(ExitCode::from(1))
            }
        }
        _ => {
            eprintln!("too late: the apply was already rolled back (see `rampart status`)");
            Ok(ExitCode::from(1))
        }
    }
}

/// 16 hex digits naming one pending apply.
fn new_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    state::sha256_hex(&format!("{}-{nanos}", std::process::id()))[..16].to_string()
}

/// Starts `rampart rollback-guard` with standard input closed and output
/// to `guard.log`; it leaves this session itself.
fn spawn_guard(store: &Store, deadline: u64, token: &str) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the rampart executable")?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(store.dir().join("guard.log"))
        .context("cannot open guard.log")?;
    let child = std::process::Command::new(exe)
        .arg("rollback-guard")
        .arg("--state-dir")
        .arg(store.dir())
        .args(["--deadline", &deadline.to_string(), "--token", token])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot spawn the rollback guard")?;
    store.log(&format!(
        "guard {} started for token {token}, deadline {}",
        child.id(),
        state::fmt_time(deadline)
    ));
    Ok(())
}

/// The entries whose settings a move from the current entry back to
/// `target` undoes: the current one and its ancestors up to (without)
/// `target`. When the chain does not lead to `target` (a pruned or
/// hand-edited history), only the current entry's.
fn entries_since(store: &Store, cur: Option<u64>, target: Option<u64>) -> Vec<state::Head> {
    let Some(cur) = cur.and_then(|id| store.head(id).ok()) else {
        return Vec::new();
    };
    let mut out = vec![cur.clone()];
    let mut parent = cur.parent;
    while parent != target && out.len() <= state::KEEP + 1 {
        match parent.map(|id| store.head(id)) {
            Some(Ok(e)) => {
                parent = e.parent;
                out.push(e);
            }
            _ => return vec![cur],
        }
    }
    if parent == target {
        out
    } else {
        vec![cur]
    }
}

/// Restores entry `target` (or removes rampart's tables for `None`),
/// records it as the new current entry, then writes back the kernel
/// settings changed since (see the module documentation for the order).
/// Returns what happened and the settings that could not be written back.
fn restore(store: &Store, target: Option<u64>, kind: Kind) -> Result<(String, Vec<String>)> {
    let undo = entries_since(store, store.current_id()?, target);
    // Steps that changed settings only have the target's rules already.
    let rules_kept = !undo.is_empty() && undo.iter().all(|e| e.kind.settings_only());
    let mut msg = match target {
        None => {
            if !rules_kept {
                load_into_kernel(store, &Ruleset::default())
                    .context("cannot remove rampart's tables from the kernel")?;
            }
            store.clear_current()?;
            if rules_kept {
                "no rules were applied before".to_string()
            } else {
                "removed rampart's tables (nothing was applied before)".to_string()
            }
        }
        Some(id) => {
            if let Some(msg) = restore_by_reference(store, id, kind, rules_kept)? {
                msg
            } else {
                let e = store.entry(id)?;
                let rs = relower(&e)?;
                let text = if e.has_policy() {
                    rampart_nft::to_text(&rs)
                } else {
                    e.nft.clone()
                };
                let same = text == e.nft;
                if !rules_kept {
                    load_into_kernel(store, &rs)
                        .with_context(|| format!("cannot re-apply entry {id}"))?;
                }
                // What was loaded is the stored entry: a reference to it (no
                // copy of its elements); compiled differently, a snapshot of
                // what was loaded.
                let head = store.head(id)?;
                let new = if same && !head.legacy && head.depth + 1 < state::MAX_DELTAS {
                    store.add_ref(state::now(), kind, &head)?
                } else {
                    store
                        .add(
                            state::now(),
                            kind,
                            e.parent,
                            Some(id),
                            &e.format,
                            e.no_optimize,
                            e.sources,
                            e.policy,
                            text,
                            e.settings,
                        )?
                        .id
                };
                store.set_current(new)?;
                let mut msg = format!(
                    "restored entry {id} (applied {}) as entry {new}",
                    state::fmt_time(e.time),
                );
                if rules_kept {
                    msg.push_str(" (same rules, not reloaded)");
                }
                if !same {
                    msg.push_str(
                    "; note: this rampart compiles it differently from when it was applied (see `rampart status`)",
                );
                }
                msg
            }
        }
    };
    let changes: Vec<SettingChange> = undo.iter().rev().flat_map(|e| e.settings.clone()).collect();
    let (done, failed) = undo_settings(&Sysctls::proc(), &changes);
    if !done.is_empty() {
        msg.push_str(&format!(
            "; kernel settings written back: {}",
            done.join(", ")
        ));
    }
    Ok((msg, failed))
}

/// Restores entry `target` without reading or writing it whole: when the
/// applied entry is built on the same snapshot (they differ by `set`
/// changes only), the kernel gets the element difference
/// ([`crate::set_cmd::revert`]: the touched elements only, the rules not
/// compiled) and the new entry is a reference to `target`
/// ([`Store::add_ref`]: no element is copied). `None` when this does not
/// apply (the caller restores the entry whole).
fn restore_by_reference(
    store: &Store,
    target: u64,
    kind: Kind,
    rules_kept: bool,
) -> Result<Option<String>> {
    let Some(cur) = store.current_id()? else {
        return Ok(None);
    };
    let head = store.head(target)?;
    if head.legacy || head.depth + 1 >= state::MAX_DELTAS {
        return Ok(None);
    }
    let now = state::now();
    if !rules_kept {
        match crate::set_cmd::revert(store, cur, target, now) {
            Ok(Some(_)) => {}
            Ok(None) => return Ok(None),
            Err(e) => {
                eprintln!(
                    "rampart: the incremental rollback failed ({e:#}); restoring entry {target} whole"
                );
                return Ok(None);
            }
        }
    }
    let id = store.add_ref(now, kind, &head)?;
    store.set_current(id)?;
    let mut msg = format!(
        "restored entry {target} (applied {}) as entry {id}",
        state::fmt_time(head.time)
    );
    if rules_kept {
        msg.push_str(" (same rules, not reloaded)");
    }
    Ok(Some(msg))
}

/// The ruleset of a stored entry, lowered again from its policy model (as
/// it was applied: optimised unless `--no-optimize`), with every rule's
/// origins; empty for an entry without a policy.
pub(crate) fn relower(e: &state::Entry) -> Result<Ruleset> {
    if !e.has_policy() {
        return Ok(Ruleset::default());
    }
    match rampart_nft::lower(&e.policy) {
        Ok(rs) if e.no_optimize => Ok(rs),
        Ok(rs) => Ok(rampart_nft::optimize(rs)),
        Err(errors) => bail!(
            "entry {} no longer lowers to nftables ({} error(s), first: {})",
            e.id,
            errors.len(),
            errors.first().map(ToString::to_string).unwrap_or_default()
        ),
    }
}

/// Set in the `rollback-guard` process.
static IN_GUARD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Rolls back the pending apply `p` (the lock is held) and logs why.
fn settle(store: &Store, p: &Pending, why: &str) -> Result<()> {
    let (msg, failed) = restore(store, p.previous, Kind::AutoRollback)?;
    store.clear_pending()?;
    let line = format!(
        "rolled back entry {} ({why}, deadline {}): {msg}",
        p.applied,
        state::fmt_time(p.deadline)
    );
    store.log(&line);
    for f in &failed {
        store.log(&format!("cannot write back a kernel setting: {f}"));
    }
    if !IN_GUARD.load(std::sync::atomic::Ordering::Relaxed) {
        // The guard's standard error is guard.log itself.
        eprintln!("rampart: {line}");
        for f in &failed {
            eprintln!("rampart: error: cannot write back a kernel setting: {f}");
        }
    }
    Ok(())
}

/// Rolls back a pending apply whose deadline has passed (its guard died).
pub(crate) fn settle_expired(store: &Store) -> Result<bool> {
    match store.pending()? {
        Some(p) if state::now() >= p.deadline => {
            settle(store, &p, "not confirmed in time")?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// `rampart rollback-guard`: wait for the deadline, roll back unless
/// confirmed.
pub fn guard(st: &StateOpts, deadline: u64, token: &str) -> Result<ExitCode> {
    IN_GUARD.store(true, std::sync::atomic::Ordering::Relaxed);
    let store = Store::open(&state::dir_of(st.state_dir.as_deref()))?;
    if let Err(e) = rampart_sys::process::leave_session() {
        store.log(&format!("guard: setsid failed: {e}"));
    }
    loop {
        match store.pending() {
            Ok(Some(p)) if p.token == token => {}
            Ok(_) => {
                store.log(&format!(
                    "guard for {token}: confirmed or replaced; exiting"
                ));
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => store.log(&format!("guard for {token}: {e:#}; retrying")),
        }
        let now = state::now();
        if now >= deadline {
            let _lock = store.lock()?;
            match store.pending()? {
                Some(p) if p.token == token => {
                    if let Err(e) = settle(&store, &p, "not confirmed in time") {
                        store.log(&format!("guard for {token}: ROLLBACK FAILED: {e:#}"));
                        return Ok(ExitCode::from(2));
                    }
                }
                _ => store.log(&format!("guard for {token}: confirmed at the deadline")),
            }
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `rampart confirm`.
pub fn confirm(st: &StateOpts) -> Result<ExitCode> {
    let store = Store::open(&state::dir_of(st.state_dir.as_deref()))?;
    let _lock = store.lock()?;
    if settle_expired(&store)? {
        eprintln!("rampart: too late: the deadline had passed, the previous ruleset is back");
        return Ok(ExitCode::from(2));
    }
    match store.pending()? {
        Some(p) => {
            store.clear_pending()?;
            store.log(&format!("confirmed entry {} ({})", p.applied, p.token));
            eprintln!("confirmed: keeping entry {}", p.applied);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("rampart: no apply is awaiting confirmation");
            Ok(ExitCode::from(2))
        }
    }
}

/// `rampart rollback`.
pub fn rollback(st: &StateOpts) -> Result<ExitCode> {
    let store = Store::open(&state::dir_of(st.state_dir.as_deref()))?;
    let _lock = store.lock()?;
    if settle_expired(&store)? {
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(p) = store.pending()? {
        settle(&store, &p, "`rampart rollback`")?;
        return Ok(ExitCode::SUCCESS);
    }
    // The entry's head only: its elements are not needed to know what to
    // restore.
    let Some(cur) = store.current_id()?.map(|id| store.head(id)).transpose()? else {
        eprintln!("rampart: nothing applied yet; nothing to roll back");
        return Ok(ExitCode::from(2));
    };
    let target = match cur.parent {
        Some(p) => Some(p),
        // A `harden` before any apply: back to no policy, the settings
        // written back.
        None if cur.kind.settings_only() && cur.format == state::NO_POLICY => None,
        None => {
            eprintln!(
                "rampart: entry {} is the first applied policy; there is no previous one",
                cur.id
            );
            return Ok(ExitCode::from(2));
        }
    };
    let (msg, failed) = restore(&store, target, Kind::Rollback)?;
    eprintln!("rampart: {msg}");
    for f in &failed {
        eprintln!("rampart: error: cannot write back a kernel setting: {f}");
    }
    Ok(ExitCode::from(if failed.is_empty() { 0 } else { 2 }))
}

/// `rampart diff FILE`: 0 no change, 1 changes, 2 errors.
pub fn diff(
    opts: &InputOpts,
    file: &Path,
    no_optimize: bool,
    st: &StateOpts,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let store = Store::open(&state::dir_of(st.state_dir.as_deref()))?;
    let c = match compile(opts, file, no_optimize)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let (old, label) = match store.current()? {
        Some(e) => (
            e.nft,
            format!("applied (entry {}, {})", e.id, state::fmt_time(e.time)),
        ),
        None => {
            writeln!(out, "# nothing applied yet")?;
            (String::new(), "nothing applied".to_string())
        }
    };
    if old == c.text {
        eprintln!("{}: no change from the applied policy", file.display());
        return Ok(ExitCode::SUCCESS);
    }
    let d = similar::TextDiff::from_lines(&old, &c.text);
    write!(
        out,
        "{}",
        d.unified_diff()
            .context_radius(3)
            .header(&label, &file.display().to_string())
    )?;
    Ok(ExitCode::from(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("2d").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("25h").is_err());
    }

    fn change(key: &str, previous: &str, value: &str, by: Option<&str>) -> SettingChange {
        SettingChange {
            key: key.into(),
            previous: previous.into(),
            value: value.into(),
            by: by.map(Into::into),
        }
    }

    #[test]
    fn issue3_settings_plan_records_side_effects_and_undo_writes_them_back_after_their_key() {
        let d = std::env::temp_dir().join(format!("rampart-apply-settings-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for (f, v) in [
            ("net/ipv4/ip_forward", "0"),
            ("net/ipv4/conf/all/accept_redirects", "0"),
            ("net/ipv4/conf/default/forwarding", "0"),
            ("net/ipv4/conf/eth0/forwarding", "0"),
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, format!("{v}\n")).expect("write");
        }
        let sys = Sysctls::at(&d);
        let sysctl = |key: &str, value: &str| rampart_model::Sysctl {
            key: key.into(),
            value: value.into(),
            origin: None,
        };
        let plan = plan_settings(
            &sys,
            &[
                sysctl("net.ipv4.ip_forward", "1"),
                sysctl("net.ipv4.conf.all.accept_redirects", "0"),
            ],
        )
        .expect("plan");
        assert_eq!(
            plan,
            [
                change("net.ipv4.ip_forward", "0", "1", None),
                change(
                    "net.ipv4.conf.all.accept_redirects",
                    "0",
                    "0",
                    Some("net.ipv4.ip_forward")
                ),
                change(
                    "net.ipv4.conf.default.forwarding",
                    "0",
                    "0",
                    Some("net.ipv4.ip_forward")
                ),
                change(
                    "net.ipv4.conf.eth0.forwarding",
                    "0",
                    "0",
                    Some("net.ipv4.ip_forward")
                ),
            ]
        );
        let err = plan_settings(&sys, &[sysctl("kernel.panic", "1")]).expect_err("not net.*");
        assert!(err[0].contains("only the network settings"), "{err:?}");
        // An older step hardened accept_redirects (1 -> 0); the newer one
        // turned forwarding on. Undoing both, newest first: forwarding off
        // (the kernel would turn redirects on), redirects back to 0 right
        // after it, then the older step's 1.
        assert!(write_settings(&sys, &plan).is_empty());
        let mut all = vec![change("net.ipv4.conf.all.accept_redirects", "1", "0", None)];
        all.extend(plan);
        let (done, failed) = undo_settings(&sys, &all);
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(
            done,
            [
                "net.ipv4.ip_forward = 0",
                "net.ipv4.conf.all.accept_redirects = 0",
                "net.ipv4.conf.default.forwarding = 0",
                "net.ipv4.conf.eth0.forwarding = 0",
                "net.ipv4.conf.all.accept_redirects = 1",
            ]
        );
        assert_eq!(
            sys.read("net.ipv4.conf.all.accept_redirects")
                .expect("read"),
            "1"
        );
        assert_eq!(sys.read("net.ipv4.ip_forward").expect("read"), "0");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn issue3_stored_policy_model_re_lowers_to_the_same_nft_text() {
        // Rollback re-lowers the policy model kept as JSON in the state
        // store: it must give the text that was applied.
        let dir = format!("{}/../../testdata", env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        for e in std::fs::read_dir(&dir).expect("testdata") {
            let p = e.expect("entry").path();
            if !p.is_file() {
                continue;
            }
            let opts = InputOpts {
                from: None,
                fix: false,
            };
            let loaded = input::load(&p, &opts).expect("load");
            let Ok(rs) = rampart_nft::lower(&loaded.policy) else {
                continue;
            };
            let json = serde_json::to_string(&loaded.policy).expect("to json");
            let back: rampart_model::Policy = serde_json::from_str(&json).expect("from json");
            let again = rampart_nft::lower(&back).expect("lowers again");
            assert_eq!(
                rampart_nft::to_text(&rampart_nft::optimize(rs)),
                rampart_nft::to_text(&rampart_nft::optimize(again)),
                "{}",
                p.display()
            );
            n += 1;
        }
        assert!(n >= 4, "only {n} testdata policies lower");
    }
}
