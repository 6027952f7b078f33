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

use crate::cli::{InputOpts, StateOpts};
use crate::input;
use crate::lockout::{self, SshConn};
use crate::state::{self, Kind, Pending, Source, Store};
use anyhow::{bail, Context, Result};
use rampart_nft::Ruleset;
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
    drop(lock);
    let (Some(d), Some(token)) = (confirm, token) else {
        return Ok(ExitCode::SUCCESS);
    };
    let deadline = now + d.as_secs();
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "run `rampart confirm` by {} ({}s) to keep it; otherwise the previous ruleset is restored",
            state::fmt_time(deadline),
            d.as_secs()
        );
        return Ok(ExitCode::SUCCESS);
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
                Ok(ExitCode::SUCCESS)
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

/// Restores entry `target` (or removes rampart's tables for `None`) and
/// records it as the new current entry.
fn restore(store: &Store, target: Option<u64>, kind: Kind) -> Result<String> {
    let Some(id) = target else {
        load_into_kernel(store, &Ruleset::default())
            .context("cannot remove rampart's tables from the kernel")?;
        store.clear_current()?;
        return Ok("removed rampart's tables (nothing was applied before)".into());
    };
    let e = store.entry(id)?;
    let rs = relower(&e)?;
    let text = rampart_nft::to_text(&rs);
    let same = text == e.nft;
    load_into_kernel(store, &rs).with_context(|| format!("cannot re-apply entry {id}"))?;
    let new = store.add(
        state::now(),
        kind,
        e.parent,
        Some(id),
        &e.format,
        e.no_optimize,
        e.sources,
        e.policy,
        text,
    )?;
    store.set_current(new.id)?;
    let mut msg = format!(
        "restored entry {id} (applied {}) as entry {}",
        state::fmt_time(e.time),
        new.id
    );
    if !same {
        msg.push_str(
            "; note: this rampart compiles it differently from when it was applied (see `rampart status`)",
        );
    }
    Ok(msg)
}

/// The ruleset of a stored entry, lowered again from its policy model (as
/// it was applied: optimised unless `--no-optimize`), with every rule's
/// origins.
pub(crate) fn relower(e: &state::Entry) -> Result<Ruleset> {
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
    let msg = restore(store, p.previous, Kind::AutoRollback)?;
    store.clear_pending()?;
    let line = format!(
        "rolled back entry {} ({why}, deadline {}): {msg}",
        p.applied,
        state::fmt_time(p.deadline)
    );
    store.log(&line);
    if !IN_GUARD.load(std::sync::atomic::Ordering::Relaxed) {
        // The guard's standard error is guard.log itself.
        eprintln!("rampart: {line}");
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
    let Some(cur) = store.current()? else {
        eprintln!("rampart: nothing applied yet; nothing to roll back");
        return Ok(ExitCode::from(2));
    };
    let Some(parent) = cur.parent else {
        eprintln!(
            "rampart: entry {} is the first applied policy; there is no previous one",
            cur.id
        );
        return Ok(ExitCode::from(2));
    };
    let msg = restore(&store, Some(parent), Kind::Rollback)?;
    eprintln!("rampart: {msg}");
    Ok(ExitCode::SUCCESS)
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
