//! `rampart set list|add|del|test|load|flush NAME` on the live sets of
//! rampart's tables, and the kernel step of `apply`/`rollback`
//! ([`load_into_kernel`]): send only the elements that changed when a new
//! ruleset differs from the applied one in set elements alone.
//!
//! **Two paths.** `apply` of an edited policy, `set load|flush` and
//! `rollback` record a snapshot entry (the whole policy model) and call
//! [`load_into_kernel`]: it lowers the applied entry again, asks
//! [`rampart_sys::setsync::diff_ruleset`] whether the two rulesets differ
//! only in set elements, and if so sends the element difference (the
//! loaded contents come from the state store, never from a dump of the
//! set); otherwise it replaces rampart's tables in one transaction.
//! `set add|del` ([`edit`]) never read, lower or write the whole policy:
//! the set is read through its snapshot's index ([`crate::setindex`]) and
//! the deltas since, only the elements the change touches
//! ([`neighbourhood`]) are lowered before and after the change, and the
//! entry is a delta of the change ([`Store::add_delta`]).
//!
//! **State.** `set add|del|load|flush` record a new entry of kind `set`
//! (parent: the entry it changed), so `apply`, `diff`, `status` and
//! `rollback` know the contents: `rollback` after `set add` takes the
//! element out again (incrementally); `apply` of the policy file makes the
//! set what the file says, dropping elements added at run time. Elements
//! with timeouts keep the time they have left (expired ones are dropped
//! when the entry is read). The source file is not rewritten: `rampart
//! save` and the boot unit load the file as written.

use crate::apply_cmd;
use crate::cli::{SetOp, StateOpts};
use crate::state::{self, Kind, Store};
use anyhow::{bail, Context, Result};
use rampart_model::{ElemPart, IpNet, IpSet, Policy, SetElement, SetKind};
use rampart_nft::{Ruleset, TableFamily};
use rampart_syntax::diag::{Diagnostics, SourceFile};
use rampart_sys::setsync::{self, SetSync, SyncOpts};
use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// Sends `rs` so that rampart's tables become exactly its tables: only the
/// element difference when the applied entry of `store` differs from it in
/// set elements alone (and its tables and sets are loaded), else a
/// replacement of the tables in one transaction. Returns bytes sent.
pub(crate) fn load_into_kernel(
    store: &Store,
    rs: &Ruleset,
) -> std::result::Result<usize, rampart_sys::ApplyError> {
    send_or_replace(incremental_plan(store, rs), rs)
}

/// Sends `diffs` when given (and the kernel takes them), else replaces
/// rampart's tables with `rs` in one transaction.
fn send_or_replace(
    diffs: Option<Vec<SetSync>>,
    rs: &Ruleset,
) -> std::result::Result<usize, rampart_sys::ApplyError> {
    if let Some(diffs) = diffs {
        match send(&diffs) {
            Ok(st) => return Ok(st.bytes),
            Err(e) => eprintln!(
                "rampart: the incremental set update failed ({e}); replacing rampart's tables instead"
            ),
        }
    }
    rampart_sys::apply_replacing(rs, &rampart_sys::OWN_TABLES)
}

/// The element changes from the applied entry to `rs`, when that is all
/// that differs and the kernel holds the applied tables and sets; `None`
/// means "replace the tables". An unchanged ruleset is `None` too: an
/// apply of the same policy loads it again whole, which also repairs
/// anything changed behind rampart's back.
fn incremental_plan(store: &Store, rs: &Ruleset) -> Option<Vec<SetSync>> {
    let cur = store.current().ok()??;
    let old = apply_cmd::relower(&cur).ok()?;
    let diffs = setsync::diff_ruleset(&old, rs)?.ok()?;
    if diffs.is_empty() || !loaded(rs) {
        return None;
    }
    Some(diffs)
}

/// Every table and named set of `rs` exists in the kernel (table and set
/// names only: no elements are read).
fn loaded(rs: &Ruleset) -> bool {
    rs.tables.iter().all(|t| {
        rampart_sys::setsync::set_names(t.family, &t.name)
            .is_ok_and(|names| t.sets.iter().all(|s| names.contains(&s.name)))
    })
}

/// Sends the changes with a progress bar on a terminal and a summary line.
fn send(diffs: &[SetSync]) -> std::result::Result<setsync::SyncStats, rampart_sys::SendError> {
    let t0 = Instant::now();
    let mut bar = Progress::new();
    let st = setsync::sync(diffs, &SyncOpts::default(), &mut |d, t| bar.show(d, t))?;
    bar.finish();
    let sets: Vec<String> = diffs
        .iter()
        .map(|d| format!("{} (+{} -{})", d.set, d.added(), d.deleted()))
        .collect();
    eprintln!(
        "set update: {} in {} transaction(s), {} bytes, {:.3}s (only the changed elements were sent)",
        sets.join(", "),
        st.batches,
        st.bytes,
        t0.elapsed().as_secs_f64()
    );
    Ok(st)
}

/// A progress bar on standard error when it is a terminal.
struct Progress {
    tty: bool,
    shown: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    fn show(&mut self, done: usize, total: usize) {
        if !self.tty || total == 0 {
            return;
        }
        let width = 40;
        let filled = done.saturating_mul(width) / total;
        eprint!(
            "\r[{}{}] {:>3}% {done}/{total} elements",
            "#".repeat(filled),
            " ".repeat(width - filled.min(width)),
            done.saturating_mul(100) / total
        );
        let _ = std::io::stderr().flush();
        self.shown = true;
    }

    fn finish(&mut self) {
        if self.shown {
            eprintln!();
        }
    }
}

/// `rampart set ...`.
pub fn run(op: SetOp, st: &StateOpts, out: &mut impl Write) -> Result<ExitCode> {
    let store = Store::open(&state::dir_of(st.state_dir.as_deref()))?;
    match op {
        SetOp::List { name, json, count } => list(&store, &name, json, count, out),
        SetOp::Test { name, addr } => test(&store, &name, &addr, out),
        SetOp::Add {
            name,
            elements,
            timeout,
            comment,
        } => {
            let timeout = match timeout {
                Some(t) => Some(parse_timeout(&t).map_err(anyhow::Error::msg)?),
                None => None,
            };
            edit(
                &store,
                &name,
                &Edit::Add {
                    elements,
                    timeout,
                    comment,
                },
            )
        }
        SetOp::Del { name, elements } => edit(&store, &name, &Edit::Del { elements }),
        SetOp::Load { name, file } => change(&store, &name, |set| read_set_file(set, &file)),
        SetOp::Flush { name } => change(&store, &name, |_| Ok(Vec::new())),
    }
}

/// `1h`, `30m`, `90s`, `2d` or seconds.
fn parse_timeout(s: &str) -> std::result::Result<u32, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        Some((i, 'd')) => (&s[..i], 86_400),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a timeout like 90s, 30m, 1h or 2d"))?;
    match u32::try_from(n.saturating_mul(mult)) {
        Ok(0) => Err(format!("`{s}`: a timeout must be at least 1s")),
        Ok(v) if v <= 2_000_000 => Ok(v),
        _ => Err(format!("`{s}`: a timeout is at most 2000000s (23 days)")),
    }
}

/// Elements given on the command line, in ipset's element syntax for the
/// set's type (`192.0.2.7`, `10.0.0.0/8`, `10.0.0.1-10.0.0.9`,
/// `192.0.2.7,tcp:22`), parsed by the ipset front end.
fn parse_cli_elements(
    set: &IpSet,
    elements: &[String],
    timeout: Option<u32>,
    comment: Option<&str>,
) -> Result<Vec<SetElement>> {
    if matches!(set.kind, SetKind::Port | SetKind::Iface) {
        // Native kinds, not ipset types: `tcp:443`, `443/tcp`, `80`
        // (tcp), `udp:5000-5100`; an interface name.
        return elements
            .iter()
            .map(|t| {
                let part = if set.kind == SetKind::Iface {
                    if t.is_empty()
                        || t.len() > 15
                        || t.contains(|c: char| c.is_whitespace() || c == '"')
                    {
                        bail!("{t:?} is not an interface name");
                    }
                    ElemPart::Iface(t.clone())
                } else {
                    port_part(t).ok_or_else(|| {
                        anyhow::anyhow!(
                            "{t:?} is not a port like tcp:443, 443/tcp or udp:5000-5100"
                        )
                    })?
                };
                Ok(SetElement {
                    parts: vec![part],
                    timeout,
                    comment: comment.map(str::to_string),
                    nomatch: false,
                })
            })
            .collect();
    }
    let mut text = String::new();
    for e in elements {
        if e.contains(['\n', '"']) {
            bail!("element {e:?}: newlines and quotes are not allowed");
        }
        text.push_str(&format!("add {} {e}", set.name));
        if let Some(t) = timeout {
            text.push_str(&format!(" timeout {t}"));
        }
        if let Some(c) = comment {
            if c.contains(['\n', '"']) {
                bail!("comment {c:?}: newlines and quotes are not allowed");
            }
            text.push_str(&format!(" comment \"{c}\""));
        }
        text.push('\n');
    }
    parse_ipset_lines(set, "<command line>", &text)
}

/// `tcp:443`, `443/tcp`, `80` (tcp), `udp:5000-5100`.
fn port_part(t: &str) -> Option<ElemPart> {
    let (proto, ports) = match (t.split_once(':'), t.split_once('/')) {
        (Some((p, n)), None) => (p, n),
        (None, Some((n, p))) => (p, n),
        (None, None) => ("tcp", t),
        _ => return None,
    };
    let proto = match proto {
        "tcp" => 6,
        "udp" => 17,
        "sctp" => 132,
        "udplite" => 136,
        _ => return None,
    };
    let (first, last) = match ports.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let p = ports.parse().ok()?;
            (p, p)
        }
    };
    (first <= last).then_some(ElemPart::Port {
        proto: Some(proto),
        first,
        last,
    })
}

/// Parses `add NAME ...` lines into a copy of `set` without elements.
fn parse_ipset_lines(set: &IpSet, path: &str, text: &str) -> Result<Vec<SetElement>> {
    let mut mini = Policy::default();
    let mut empty = set.clone();
    empty.elements.clear();
    if empty.timeout.is_none() && text.contains(" timeout ") {
        // ipset refuses per-element timeouts in a set created without
        // one; the nft set may still take them (flags timeout), which the
        // declaration check below decides.
        empty.timeout = Some(0);
    }
    if text.contains(" comment ") {
        empty.options.comment = true;
    }
    mini.sets.push(empty);
    let file = SourceFile::new(path.to_string(), text.to_string());
    let mut diags = Diagnostics::default();
    rampart_syntax::script::parse_ipset_save_into(&file, &mut mini, &mut diags);
    if diags.has_errors() {
        eprint!("{diags}");
        bail!("bad element(s) for set {} ({})", set.name, set.kind.name());
    }
    Ok(mini.sets.pop().map(|s| s.elements).unwrap_or_default())
}

/// The elements of a list file: one address, network or range per line
/// (`#`/`;` comments) for address sets, read with rampart-cidr (errors
/// located as `path:line:col`); for `hash:net` aggregated first, for
/// `hash:ip` only single addresses. Other set types take one ipset element
/// per line (`192.0.2.7,tcp:22`).
fn read_set_file(set: &IpSet, path: &Path) -> Result<Vec<SetElement>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, f);
    match set.kind {
        SetKind::HashIp | SetKind::HashNet | SetKind::BitmapIp => {}
        _ => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let mut lines = String::with_capacity(text.len() * 2);
            for l in text.lines() {
                let t = l.trim();
                if t.is_empty() || t.starts_with('#') {
                    lines.push('\n');
                } else {
                    lines.push_str(&format!("add {} {t}\n", set.name));
                }
            }
            return parse_ipset_lines(set, &path.display().to_string(), &lines);
        }
    }
    let single = set.kind != SetKind::HashNet;
    let mut b = rampart_cidr::Builder::default();
    let mut errors = 0usize;
    let name = path.display().to_string();
    let mut hosts: Vec<IpAddr> = Vec::new();
    rampart_cidr::read_list(reader, |line, r| match r {
        Ok(entry) => {
            if single {
                let host = match entry {
                    rampart_cidr::Entry::V4(iv) if iv.lo() == iv.hi() => {
                        Some(IpAddr::from(std::net::Ipv4Addr::from(iv.lo())))
                    }
                    rampart_cidr::Entry::V6(iv) if iv.lo() == iv.hi() => {
                        Some(IpAddr::from(std::net::Ipv6Addr::from(iv.lo())))
                    }
                    _ => None,
                };
                match host {
                    Some(h) => hosts.push(h),
                    None => {
                        errors += 1;
                        if errors <= 20 {
                            eprintln!(
                                "{name}:{line}: error: set {} is {} (single addresses); this line holds a network or range",
                                set.name,
                                set.kind.name()
                            );
                        }
                    }
                }
            } else {
                b.push(entry);
            }
        }
        Err(e) => {
            errors += 1;
            if errors <= 20 {
                eprintln!(
                    "{name}:{}:{}: error: {}\n {:>4} | {}\n      | {}{}",
                    e.line,
                    e.column,
                    e.kind,
                    e.line,
                    e.text,
                    " ".repeat(e.column.saturating_sub(1) as usize),
                    "^".repeat(e.width.max(1) as usize)
                );
            }
        }
    })
    .with_context(|| format!("cannot read {}", path.display()))?;
    if errors > 0 {
        bail!(
            "{}: {errors} bad line(s); set {} unchanged",
            path.display(),
            set.name
        );
    }
    let want_v6 = set.family == Some(rampart_model::Family::Ipv6);
    let fam_ok = |a: &IpAddr| a.is_ipv6() == want_v6;
    let mut out = Vec::new();
    let elem = |net: IpNet| SetElement {
        parts: vec![ElemPart::Net(net)],
        timeout: None,
        comment: None,
        nomatch: false,
    };
    if single {
        hosts.sort_unstable();
        hosts.dedup();
        if let Some(bad) = hosts.iter().find(|a| !fam_ok(a)) {
            bail!(
                "{}: {bad} is not of the family of set {}",
                path.display(),
                set.name
            );
        }
        out.extend(hosts.into_iter().map(|a| elem(IpNet::host(a))));
        return Ok(out);
    }
    let all = b.build();
    if (want_v6 && !all.v4.is_empty()) || (!want_v6 && !all.v6.is_empty()) {
        bail!(
            "{}: the list holds addresses of the other family than set {} ({})",
            path.display(),
            set.name,
            if want_v6 { "inet6" } else { "inet" }
        );
    }
    for p in all.v4.prefixes() {
        let a = IpAddr::from(std::net::Ipv4Addr::from(p.addr));
        out.extend(IpNet::new(a, p.len).map(elem));
    }
    for p in all.v6.prefixes() {
        let a = IpAddr::from(std::net::Ipv6Addr::from(p.addr));
        out.extend(IpNet::new(a, p.len).map(elem));
    }
    Ok(out)
}

/// Elements with a timeout, as they stand at `now` in an entry applied at
/// `then`: the time left, expired ones dropped (the kernel dropped them).
fn carry_timeouts(set: &IpSet, then: u64, now: u64) -> Vec<SetElement> {
    let mut s = set.clone();
    state::carry_timeouts_in(&mut s, then, now);
    s.elements
}

/// Changes the elements of set `name` of the applied policy to what `f`
/// returns, as a new state entry sent incrementally.
fn change(
    store: &Store,
    name: &str,
    f: impl FnOnce(&IpSet) -> Result<Vec<SetElement>>,
) -> Result<ExitCode> {
    let _lock = store.lock()?;
    if let Some(code) = ready(store)? {
        return Ok(code);
    }
    change_locked(store, name, f)
}

/// Settles an expired `apply --confirm`; `Some(2)` (after saying why)
/// when another one awaits confirmation.
fn ready(store: &Store) -> Result<Option<ExitCode>> {
    apply_cmd::settle_expired(store)?;
    if let Some(p) = store.pending()? {
        eprintln!(
            "rampart: an apply is awaiting confirmation until {} (entry {}); run `rampart confirm` or `rampart rollback` first; nothing changed",
            state::fmt_time(p.deadline),
            p.applied
        );
        return Ok(Some(ExitCode::from(2)));
    }
    Ok(None)
}

/// [`change`] with the state lock held: a snapshot entry of the whole
/// policy, the ruleset lowered again and compared.
fn change_locked(
    store: &Store,
    name: &str,
    f: impl FnOnce(&IpSet) -> Result<Vec<SetElement>>,
) -> Result<ExitCode> {
    let Some(mut cur) = store.current()? else {
        bail!("nothing is applied (state directory {}): `rampart set` changes the sets of the applied policy; run `rampart apply` first", store.dir().display());
    };
    let now = state::now();
    if cur.policy.set(name).is_none() {
        bail!("{}", no_such_set(&cur.policy, name));
    }
    let old = apply_cmd::relower(&cur)?;
    // Every set's timed elements with the time they have left: they are
    // sent again with it (see `rampart_sys::setsync`), keeping their expiry.
    let mut policy = std::mem::take(&mut cur.policy);
    for s in &mut policy.sets {
        state::carry_timeouts_in(s, cur.time, now);
    }
    let Some(set) = policy.set(name) else {
        bail!("{}", no_such_set(&policy, name));
    };
    let before = set.elements.len();
    let elems = f(set)?;
    let after = elems.len();
    if let Some(s) = policy.set_mut(name) {
        s.elements = elems;
    }
    let new = lower_like(&cur, &policy)?;
    let diffs = match setsync::diff_ruleset(&old, &new) {
        Some(Ok(d)) => d,
        Some(Err(e)) => bail!("set {name}: {e}"),
        None => bail!(
            "set {name}: this change needs the set created again (a network in a set of single addresses, a timeout in a set without `flags timeout`, ...); change the policy and `rampart apply` it"
        ),
    };
    drop(old);
    // Nothing to send (an element added again with the same data): the
    // tables stay as they are.
    let plan = if diffs.is_empty() {
        None
    } else if loaded(&new) {
        Some(diffs)
    } else {
        bail!("rampart's tables or set {name} are not loaded in the kernel (rebooted without the boot unit, or removed by hand); run `rampart apply` first; nothing changed");
    };
    let text = rampart_nft::to_text(&new);
    let entry = store.add(
        now,
        Kind::Set,
        Some(cur.id),
        None,
        &cur.format,
        cur.no_optimize,
        cur.sources.clone(),
        policy,
        text,
        // A set change writes no kernel setting.
        vec![],
    )?;
    let sent = match plan {
        Some(p) => send_or_replace(Some(p), &new).map(|_| ()),
        None => Ok(()),
    };
    match sent {
        Ok(_) => {
            store.set_current(entry.id)?;
            eprintln!(
                "set {name}: {before} -> {after} element(s); state entry {} (`rampart rollback` undoes it)",
                entry.id
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            store.remove_entry(entry.id)?;
            eprintln!("rampart: error: set {name}: {e}");
            eprintln!("nothing was changed");
            Ok(ExitCode::from(2))
        }
    }
}

/// The elements a change removes (by parts) and adds.
type Change = (Vec<Vec<ElemPart>>, Vec<SetElement>);

/// A change given on the command line.
enum Edit {
    /// Adding an element again replaces it (a new timeout or comment), as
    /// `ipset add -exist` does.
    Add {
        elements: Vec<String>,
        timeout: Option<u32>,
        comment: Option<String>,
    },
    /// Only elements that are there.
    Del { elements: Vec<String> },
}

impl Edit {
    /// The change for set `decl` (its declaration; elements are not
    /// read); `exists` says whether an element with given parts is there.
    fn change(&self, decl: &IpSet, exists: impl Fn(&[ElemPart]) -> Result<bool>) -> Result<Change> {
        match self {
            Edit::Add {
                elements,
                timeout,
                comment,
            } => Ok((
                Vec::new(),
                parse_cli_elements(decl, elements, *timeout, comment.as_deref())?,
            )),
            Edit::Del { elements } => {
                let gone = parse_cli_elements(decl, elements, None, None)?;
                for (e, text) in gone.iter().zip(elements) {
                    if !exists(&e.parts)? {
                        bail!(
                            "{text} is not an element of set {}; `rampart set test {} ADDR` shows which element holds an address",
                            decl.name,
                            decl.name
                        );
                    }
                }
                Ok((gone.into_iter().map(|e| e.parts).collect(), Vec::new()))
            }
        }
    }
}

/// `set add|del`: changes a few elements of set `name` without reading
/// the other sets, compiling the policy or writing it whole. The set is
/// read through its snapshot's index ([`Store::set_index`]: a few binary
/// searches) or, without one, whole ([`Store::set_view`]); the elements
/// the change touches ([`neighbourhood`]) are lowered in the policy
/// skeleton before and after the change and the difference is sent; the
/// state entry is a delta of the change. Every [`state::MAX_DELTAS`]th
/// change in a row, a change of many elements, or a change on an entry
/// of an older rampart goes the whole way instead ([`change_locked`]),
/// which writes a snapshot.
fn edit(store: &Store, name: &str, op: &Edit) -> Result<ExitCode> {
    let _lock = store.lock()?;
    if let Some(code) = ready(store)? {
        return Ok(code);
    }
    let Some(cur) = store.current_id()? else {
        bail!("nothing is applied (state directory {}): `rampart set` changes the sets of the applied policy; run `rampart apply` first", store.dir().display());
    };
    let now = state::now();
    if let Some((head, skeleton, decl, ix)) = store.set_index(cur, name, now)? {
        if head.depth < state::MAX_DELTAS {
            let (removed, added) = op.change(&decl, |p| Ok(ix.exact(p)?.is_some()))?;
            if removed.len() + added.len() <= state::MAX_DELTA_ELEMENTS {
                if let Some((sub, matched)) = neighbourhood_indexed(&ix, &decl, &removed, &added)? {
                    let before = ix.count()?;
                    let d = Delta {
                        head,
                        skeleton,
                        decl,
                        old_sub: sub,
                        before,
                        matched,
                        removed,
                        added,
                    };
                    return send_delta(store, name, d, now);
                }
            }
        }
    }
    let view = store.set_view(cur, name)?;
    let mut set = view.set;
    state::carry_timeouts_in(&mut set, view.head.time, now);
    let (removed, added) = op.change(&set, |p| {
        Ok(set.elements.iter().any(|x| state::same_parts(&x.parts, p)))
    })?;
    if view.head.legacy
        || view.head.depth >= state::MAX_DELTAS
        || removed.len() + added.len() > state::MAX_DELTA_ELEMENTS
    {
        return change_locked(store, name, |s| {
            let mut s = s.clone();
            state::apply_change(&mut s, &removed, &added);
            Ok(s.elements)
        });
    }
    let before = set.elements.len();
    let (old_sub, matched) = neighbourhood(&set, &removed, &added);
    set.elements = Vec::new();
    let d = Delta {
        head: view.head,
        skeleton: view.skeleton,
        decl: set,
        old_sub,
        before,
        matched,
        removed,
        added,
    };
    send_delta(store, name, d, now)
}

/// `rollback` from entry `from` (applied) to entry `to` when both are
/// built on the same snapshot: only the elements the deltas between them
/// changed are read (through the sets' indexes where they have one),
/// lowered before and after in the policy skeleton (no compilation of
/// the whole policy, no read of the kernel's sets) and their difference
/// sent. `Ok(None)`: not this case (different snapshots or rules, a very
/// large change): restore the entry whole. Returns the bytes sent.
pub(crate) fn revert(store: &Store, from: u64, to: u64, now: u64) -> Result<Option<usize>> {
    let Some(changes) = store.changed_between(from, to)? else {
        return Ok(None);
    };
    let total: usize = changes.iter().map(|(_, p)| p.len()).sum();
    if total > state::MAX_DELTA_ELEMENTS * 4 {
        return Ok(None);
    }
    let mut diffs = Vec::new();
    let mut new_rs = Vec::new();
    for (name, parts) in &changes {
        let d = match store.set_index(from, name, now)? {
            Some((head, skeleton, decl, cur)) => {
                let target = store.set_index(to, name, now)?;
                let (removed, added) = match &target {
                    Some((_, _, _, tgt)) => {
                        revert_change(parts, |p| cur.exact(p), |p| tgt.exact(p))?
                    }
                    None => {
                        let t = view_at(store, to, name, now)?;
                        revert_change(parts, |p| cur.exact(p), |p| Ok(find(&t, p)))?
                    }
                };
                let before = cur.count()?;
                let Some((sub, matched)) = neighbourhood_indexed(&cur, &decl, &removed, &added)?
                else {
                    return Ok(None);
                };
                Delta {
                    head,
                    skeleton,
                    decl,
                    old_sub: sub,
                    before,
                    matched,
                    removed,
                    added,
                }
            }
            None => {
                let view = store.set_view(from, name)?;
                let mut set = view.set;
                state::carry_timeouts_in(&mut set, view.head.time, now);
                let t = view_at(store, to, name, now)?;
                let (removed, added) =
                    revert_change(parts, |p| Ok(find(&set, p)), |p| Ok(find(&t, p)))?;
                let before = set.elements.len();
                let (old_sub, matched) = neighbourhood(&set, &removed, &added);
                set.elements = Vec::new();
                Delta {
                    head: view.head,
                    skeleton: view.skeleton,
                    decl: set,
                    old_sub,
                    before,
                    matched,
                    removed,
                    added,
                }
            }
        };
        let (d, new, _) = delta_diffs(name, d)?;
        diffs.extend(d);
        new_rs.push(new);
    }
    if diffs.is_empty() {
        return Ok(Some(0));
    }
    if !new_rs.iter().all(loaded) {
        return Ok(None);
    }
    Ok(Some(
        send(&diffs).map_err(|e| anyhow::anyhow!("{e}"))?.bytes,
    ))
}

/// Set `name` of entry `id` as it stands `now`.
fn view_at(store: &Store, id: u64, name: &str, now: u64) -> Result<IpSet> {
    let v = store.set_view(id, name)?;
    let mut set = v.set;
    state::carry_timeouts_in(&mut set, v.head.time, now);
    Ok(set)
}

fn find(set: &IpSet, parts: &[ElemPart]) -> Option<SetElement> {
    set.elements
        .iter()
        .find(|e| state::same_parts(&e.parts, parts))
        .cloned()
}

/// The change that makes the elements with `parts` what they are in the
/// target (`tgt`) rather than the current state (`cur`).
fn revert_change(
    parts: &[Vec<ElemPart>],
    cur: impl Fn(&[ElemPart]) -> Result<Option<SetElement>>,
    tgt: impl Fn(&[ElemPart]) -> Result<Option<SetElement>>,
) -> Result<Change> {
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for p in parts {
        match (cur(p)?, tgt(p)?) {
            (Some(c), Some(t)) if c == t => {}
            (_, Some(t)) => added.push(t),
            (Some(_), None) => removed.push(p.clone()),
            (None, None) => {}
        }
    }
    Ok((removed, added))
}

/// A set change ready to be lowered, sent and stored as a delta.
struct Delta {
    head: state::Head,
    /// The policy without elements.
    skeleton: Policy,
    /// The set without elements.
    decl: IpSet,
    /// The elements the change touches ([`neighbourhood`]).
    old_sub: Vec<SetElement>,
    /// Elements before the change, and how many of them it takes out or
    /// replaces.
    before: usize,
    matched: usize,
    removed: Vec<Vec<ElemPart>>,
    added: Vec<SetElement>,
}

/// Lowers the skeleton with the touched elements before and after the
/// change, sends the difference and records the delta.
fn send_delta(store: &Store, name: &str, d: Delta, now: u64) -> Result<ExitCode> {
    let (head, before, removed, added) =
        (d.head.clone(), d.before, d.removed.clone(), d.added.clone());
    let (diffs, new, after) = delta_diffs(name, d)?;
    if !diffs.is_empty() && !loaded(&new) {
        bail!("rampart's tables or set {name} are not loaded in the kernel (rebooted without the boot unit, or removed by hand); run `rampart apply` first; nothing changed");
    }
    let id = store.add_delta(now, &head, name, removed, added, after)?;
    // No fallback to replacing the tables: `new` holds only the touched
    // elements of one set.
    let sent = if diffs.is_empty() {
        Ok(())
    } else {
        send(&diffs).map(|_| ())
    };
    match sent {
        Ok(()) => {
            store.set_current(id)?;
            eprintln!(
                "set {name}: {before} -> {after} element(s); state entry {id} (`rampart rollback` undoes it)"
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            store.remove_entry(id)?;
            eprintln!("rampart: error: set {name}: {e}");
            eprintln!("nothing was changed");
            Ok(ExitCode::from(2))
        }
    }
}

/// The element changes of `d` (the skeleton lowered with the touched
/// elements before and after), the ruleset after (touched elements
/// only) and the set's element count after.
fn delta_diffs(name: &str, d: Delta) -> Result<(Vec<SetSync>, Ruleset, usize)> {
    let Delta {
        head,
        skeleton,
        decl,
        old_sub,
        before,
        matched,
        removed,
        added,
    } = d;
    let mut new_set = IpSet {
        elements: old_sub.clone(),
        ..decl
    };
    state::apply_change(&mut new_set, &removed, &added);
    let added_n = added
        .iter()
        .enumerate()
        .filter(|(i, e)| {
            !added[i + 1..]
                .iter()
                .any(|l| state::same_parts(&l.parts, &e.parts))
        })
        .count();
    let after = before.saturating_sub(matched) + added_n;
    let lower_with = |elems: Vec<SetElement>| -> Result<Ruleset> {
        let mut p = skeleton.clone();
        if let Some(s) = p.set_mut(name) {
            s.elements = elems;
        }
        lower_policy(&p, head.no_optimize)
    };
    let old = lower_with(old_sub)?;
    let new = lower_with(new_set.elements)?;
    let diffs = match setsync::diff_ruleset(&old, &new) {
        Some(Ok(d)) => d,
        Some(Err(e)) => bail!("set {name}: {e}"),
        None => bail!(
            "set {name}: this change needs the set created again (a network in a set of single addresses, a timeout in a set without `flags timeout`, ...); change the policy and `rampart apply` it"
        ),
    };
    Ok((diffs, new, after))
}

/// [`neighbourhood`] answered by the set's index: the same elements,
/// found with binary searches. `None` when the index cannot tell (every
/// witness it keeps was changed): read the set whole.
fn neighbourhood_indexed(
    ix: &crate::setindex::IndexedSet,
    decl: &IpSet,
    removed: &[Vec<ElemPart>],
    added: &[SetElement],
) -> Result<Option<(Vec<SetElement>, usize)>> {
    let mut sub: Vec<SetElement> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut push = |e: SetElement, sub: &mut Vec<SetElement>| -> bool {
        let k = crate::setindex::net_range(&e.parts);
        if seen.insert(k) {
            sub.push(e);
            true
        } else {
            false
        }
    };
    let mut matched = 0;
    let mut changed: Vec<&[ElemPart]> = Vec::new();
    for p in removed
        .iter()
        .map(Vec::as_slice)
        .chain(added.iter().map(|e| e.parts.as_slice()))
    {
        if !changed.contains(&p) {
            changed.push(p);
        }
    }
    for p in &changed {
        if let Some(e) = ix.exact(p)? {
            push(e, &mut sub);
            matched += 1;
        }
    }
    let mut has_network = false;
    // A set with a default timeout is declared with timeouts whatever
    // its elements: no witness of a timeout needed.
    let kinds: &[bool] = if decl.timeout.is_some() {
        &[true]
    } else {
        &[true, false]
    };
    for &network in kinds {
        match ix.witness(network, removed)? {
            Ok(Some(e)) => {
                has_network |= network;
                push(e, &mut sub);
            }
            Ok(None) => {}
            Err(()) => return Ok(None),
        }
    }
    let interval = matches!(decl.kind, SetKind::HashNet | SetKind::HashNetPort)
        || has_network
        || sub.iter().any(interval_element)
        || added.iter().any(interval_element);
    if !interval {
        return Ok(Some((sub, matched)));
    }
    let mut regions = Regions::default();
    for p in &changed {
        match elem_range(p) {
            Some(r) => regions.add(r),
            None => return Ok(None),
        }
    }
    let firsts = [ix.first(&[])?, ix.first(removed)?];
    for e in firsts.into_iter().flatten() {
        push(e, &mut sub);
    }
    for e in &sub {
        if let Some(r) = elem_range(&e.parts) {
            regions.add(r);
        }
    }
    loop {
        let mut grew = false;
        for (lo, hi) in regions.0.clone() {
            for e in ix.touching(lo, hi)? {
                let r = elem_range(&e.parts);
                if push(e, &mut sub) {
                    if let Some(r) = r {
                        regions.add(r);
                    }
                    grew = true;
                }
            }
        }
        if !grew {
            break;
        }
    }
    Ok(Some((sub, matched)))
}

/// Whether an element makes its set an interval set when lowered (a
/// network, a range, a port range).
fn interval_element(e: &SetElement) -> bool {
    e.parts.iter().any(|p| match p {
        ElemPart::Net(n) => !n.is_host(),
        ElemPart::Range(..) => true,
        ElemPart::Port { first, last, .. } => first != last,
        _ => false,
    })
}

/// The addresses an element of an address set covers.
fn elem_range(parts: &[ElemPart]) -> Option<(u128, u128)> {
    match parts.first() {
        Some(ElemPart::Net(n)) => Some(net_bounds(n)),
        Some(ElemPart::Range(a, b)) => Some((ip_int(*a), ip_int(*b))),
        _ => None,
    }
}

/// The elements of `set` a change (`removed`, `added`) touches, with
/// everything that decides how the kernel holds them, and how many of the
/// set's elements the change takes out or replaces. Lowering only these,
/// before and after the change, gives the same element changes as
/// lowering the whole set:
///
/// * the elements with the parts changed;
/// * one element that makes the set an interval set and one with a
///   timeout, if the set has them (they decide the set's declaration);
/// * for an interval set, every element whose addresses overlap or touch
///   those of a change, transitively (the kernel merges them into one
///   interval), and the elements at the start of the set before and
///   after the change (they decide nft's leading end element at 0).
///
/// An interval set with an element that is not an address, network or
/// range is returned whole.
fn neighbourhood(
    set: &IpSet,
    removed: &[Vec<ElemPart>],
    added: &[SetElement],
) -> (Vec<SetElement>, usize) {
    let changed: Vec<&[ElemPart]> = removed
        .iter()
        .map(Vec::as_slice)
        .chain(added.iter().map(|e| e.parts.as_slice()))
        .collect();
    let fps: std::collections::HashSet<u64> =
        changed.iter().map(|p| state::fingerprint(p)).collect();
    let is_changed = |x: &SetElement| {
        fps.contains(&state::fingerprint(&x.parts))
            && changed.iter().any(|p| state::same_parts(p, &x.parts))
    };
    let is_removed = |x: &SetElement| removed.iter().any(|p| state::same_parts(p, &x.parts));
    let mut pick = vec![false; set.elements.len()];
    let mut matched = 0;
    for (i, x) in set.elements.iter().enumerate() {
        if is_changed(x) {
            pick[i] = true;
            matched += 1;
        }
    }
    // Witnesses of the declaration, preferring elements that stay.
    let timed = |e: &SetElement| e.timeout.is_some();
    let wants: &[fn(&SetElement) -> bool] = if set.timeout.is_some() {
        &[interval_element]
    } else {
        &[interval_element, timed]
    };
    for want in wants {
        let stays = set.elements.iter().position(|e| want(e) && !is_removed(e));
        if let Some(i) = stays.or_else(|| set.elements.iter().position(want)) {
            pick[i] = true;
        }
    }
    let interval = matches!(set.kind, SetKind::HashNet | SetKind::HashNetPort)
        || set.elements.iter().any(interval_element)
        || added.iter().any(interval_element);
    if interval {
        let ranges: Option<Vec<(u128, u128)>> =
            set.elements.iter().map(|e| elem_range(&e.parts)).collect();
        let Some(ranges) = ranges else {
            return (set.elements.clone(), matched);
        };
        let mut seeds: Vec<(u128, u128)> = changed.iter().filter_map(|p| elem_range(p)).collect();
        seeds.extend(
            pick.iter()
                .zip(&ranges)
                .filter(|(p, _)| **p)
                .map(|(_, r)| *r),
        );
        let first_old = ranges.iter().min().copied();
        let first_new = set
            .elements
            .iter()
            .zip(&ranges)
            .filter(|(e, _)| !is_removed(e))
            .map(|(_, r)| *r)
            .chain(added.iter().filter_map(|e| elem_range(&e.parts)))
            .min();
        seeds.extend(first_old);
        seeds.extend(first_new);
        let mut regions = Regions::default();
        for s in seeds {
            regions.add(s);
        }
        loop {
            let mut grew = false;
            for (i, r) in ranges.iter().enumerate() {
                if !pick[i] && regions.touches(*r) {
                    pick[i] = true;
                    regions.add(*r);
                    grew = true;
                } else if pick[i] && !regions.touches(*r) {
                    regions.add(*r);
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
    }
    let sub = set
        .elements
        .iter()
        .zip(&pick)
        .filter(|(_, p)| **p)
        .map(|(e, _)| e.clone())
        .collect();
    (sub, matched)
}

/// Disjoint address ranges, sorted (a handful: the places a change
/// touches).
#[derive(Default)]
struct Regions(Vec<(u128, u128)>);

impl Regions {
    /// Whether `r` overlaps or is adjacent to a region.
    fn touches(&self, (lo, hi): (u128, u128)) -> bool {
        self.0
            .iter()
            .any(|&(a, b)| lo <= b.saturating_add(1) && hi.saturating_add(1) >= a)
    }

    fn add(&mut self, (mut lo, mut hi): (u128, u128)) {
        self.0.retain(|&(a, b)| {
            let touch = lo <= b.saturating_add(1) && hi.saturating_add(1) >= a;
            if touch {
                lo = lo.min(a);
                hi = hi.max(b);
            }
            !touch
        });
        self.0.push((lo, hi));
        self.0.sort_unstable();
    }
}

/// Lowers `policy` as `apply` does (optimised unless `no_optimize`).
fn lower_policy(policy: &Policy, no_optimize: bool) -> Result<Ruleset> {
    match rampart_nft::lower(policy) {
        Ok(rs) if no_optimize => Ok(rs),
        Ok(rs) => Ok(rampart_nft::optimize(rs)),
        Err(errors) => bail!(
            "the changed policy does not lower to nftables: {}",
            errors.first().map(ToString::to_string).unwrap_or_default()
        ),
    }
}

/// Lowers `policy` as entry `e` was lowered (optimised unless
/// `--no-optimize`).
fn lower_like(e: &state::Entry, policy: &Policy) -> Result<Ruleset> {
    match rampart_nft::lower(policy) {
        Ok(rs) if e.no_optimize => Ok(rs),
        Ok(rs) => Ok(rampart_nft::optimize(rs)),
        Err(errors) => bail!(
            "the changed policy does not lower to nftables: {}",
            errors.first().map(ToString::to_string).unwrap_or_default()
        ),
    }
}

fn no_such_set(policy: &Policy, name: &str) -> String {
    let names: Vec<&str> = policy.sets.iter().map(|s| s.name.as_str()).collect();
    if names.is_empty() {
        format!("the applied policy has no set {name} (it has no sets)")
    } else {
        format!(
            "the applied policy has no set {name}; its sets: {}",
            names.join(", ")
        )
    }
}

/// The table and nft name of a set given by its policy name (or, for sets
/// rampart makes itself, its nft name) in `table inet rampart`.
fn nft_name(store: &Store, name: &str) -> Result<(Option<IpSet>, String)> {
    let skeleton = match store.current_id()? {
        Some(id) => Some(store.skeleton(id)?),
        None => None,
    };
    let set = skeleton.as_ref().and_then(|p| p.set(name).cloned());
    let nft = match &set {
        Some(_) => rampart_nft::lower::nft_set_name(name),
        None => name.to_string(),
    };
    Ok((set, nft))
}

/// `rampart set list NAME [--json] [--count]`: the elements the kernel
/// holds (one `GETSETELEM` dump).
fn list(
    store: &Store,
    name: &str,
    json: bool,
    count: bool,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let (_, nft) = nft_name(store, name)?;
    let live = setsync::list_elements(TableFamily::Inet, "rampart", &nft)
        .with_context(|| format!("cannot read set {name} from the kernel"))?;
    let elems = live_elements(&live);
    if count {
        if json {
            serde_json::to_writer(
                &mut *out,
                &serde_json::json!({"set": name, "table": "inet rampart", "count": elems.len()}),
            )?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", elems.len())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if json {
        let v: Vec<serde_json::Value> = elems
            .iter()
            .map(|e| {
                serde_json::json!({
                    "element": e.text,
                    "timeout": e.timeout_ms.map(|t| t / 1000),
                    "expires": e.expires_ms.map(|t| t / 1000),
                    "comment": e.comment,
                })
            })
            .collect();
        serde_json::to_writer_pretty(
            &mut *out,
            &serde_json::json!({
                "set": name, "table": "inet rampart", "nft_name": nft,
                "interval": live.interval(), "count": elems.len(), "elements": v,
            }),
        )?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "# set {name} (table inet rampart, nft set {nft}): {} element(s)",
        elems.len()
    )?;
    let mut buf = String::new();
    for e in &elems {
        buf.clear();
        buf.push_str(&e.text);
        if let Some(t) = e.timeout_ms {
            buf.push_str(&format!(" timeout {}", secs_text(t / 1000)));
        }
        if let Some(t) = e.expires_ms {
            buf.push_str(&format!(" expires {}", secs_text(t / 1000)));
        }
        if let Some(c) = &e.comment {
            buf.push_str(&format!(" comment {c:?}"));
        }
        writeln!(out, "{buf}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `1h2m3s`, as nft prints times.
fn secs_text(s: u64) -> String {
    if s == 0 {
        return "0s".into();
    }
    let parts = [
        (s / 86_400, "d"),
        (s % 86_400 / 3600, "h"),
        (s % 3600 / 60, "m"),
        (s % 60, "s"),
    ];
    parts
        .iter()
        .filter(|(v, _)| *v > 0)
        .map(|(v, u)| format!("{v}{u}"))
        .collect()
}

/// One listed element: its text (`10.0.0.0/24`, `10.0.0.1-10.0.0.9`,
/// `192.0.2.7 . tcp . 22`) and what the kernel says of it.
struct Shown {
    text: String,
    timeout_ms: Option<u64>,
    expires_ms: Option<u64>,
    comment: Option<String>,
}

fn addr_of(key: &[u8]) -> Option<IpAddr> {
    match key.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(key).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(key).ok()?)),
        _ => None,
    }
}

/// A key as text, by the set's key type (nft's type ids: 7 ipv4_addr,
/// 8 ipv6_addr, 9 ether_addr, 12 inet_proto, 13 inet_service; a
/// concatenation packs them 6 bits each).
fn key_text(key_type: u32, key: &[u8]) -> String {
    let mut types = Vec::new();
    let mut t = key_type;
    while t != 0 {
        types.push(t & 0x3f);
        t >>= 6;
    }
    types.reverse();
    if types.len() <= 1 {
        return part_text(key_type, key);
    }
    let mut parts = Vec::new();
    let mut off = 0;
    for ty in types {
        let len = match ty {
            7 => 4,
            8 => 16,
            9 => 8,
            _ => 4,
        };
        let Some(chunk) = key.get(off..off + len) else {
            return hex(key);
        };
        parts.push(part_text(ty, chunk));
        off += len;
    }
    parts.join(" . ")
}

fn part_text(ty: u32, v: &[u8]) -> String {
    match ty {
        7 | 8 => addr_of(v).map_or_else(|| hex(v), |a| a.to_string()),
        9 if v.len() >= 6 => v[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        12 => match v.first() {
            Some(6) => "tcp".into(),
            Some(17) => "udp".into(),
            Some(132) => "sctp".into(),
            Some(136) => "udplite".into(),
            Some(p) => p.to_string(),
            None => hex(v),
        },
        13 if v.len() >= 2 => u16::from_be_bytes([v[0], v[1]]).to_string(),
        _ => hex(v),
    }
}

fn hex(v: &[u8]) -> String {
    let mut s = String::from("0x");
    for b in v {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The elements of a live set: for an interval set, start and end elements
/// paired into `ADDR/LEN` or `FIRST-LAST` (the leading end marker left
/// out), in ascending order.
fn live_elements(live: &setsync::LiveSetElems) -> Vec<Shown> {
    let shown = |text: String, e: &setsync::LiveElem| Shown {
        text,
        timeout_ms: e.timeout_ms,
        expires_ms: e.expires_ms,
        comment: e.comment.clone(),
    };
    if !live.interval() {
        let mut v: Vec<&setsync::LiveElem> = live.elems.iter().collect();
        v.sort_by(|a, b| a.key.cmp(&b.key));
        return v
            .into_iter()
            .map(|e| shown(key_text(live.key_type, &e.key), e))
            .collect();
    }
    let mut v: Vec<&setsync::LiveElem> = live.elems.iter().collect();
    v.sort_by(|a, b| (&a.key, !a.end).cmp(&(&b.key, !b.end)));
    let bits = v.first().map_or(32, |e| e.key.len() * 8);
    let max = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let mut out = Vec::new();
    let mut open: Option<&setsync::LiveElem> = None;
    let close = |s: &setsync::LiveElem, hi: u128, out: &mut Vec<Shown>| {
        let lo = setsync::key_int(&s.key);
        out.push(shown(range_text(lo, hi, s.key.len()), s));
    };
    for e in v {
        let k = setsync::key_int(&e.key);
        match (e.end, open) {
            (true, Some(s)) => {
                close(s, k.wrapping_sub(1), &mut out);
                open = None;
            }
            (true, None) => {}
            (false, Some(s)) => {
                close(s, k.wrapping_sub(1), &mut out);
                open = Some(e);
            }
            (false, None) => open = Some(e),
        }
    }
    if let Some(s) = open {
        close(s, max, &mut out);
    }
    out
}

fn int_addr(v: u128, len: usize) -> IpAddr {
    if len == 4 {
        IpAddr::from(std::net::Ipv4Addr::from(v as u32))
    } else {
        IpAddr::from(std::net::Ipv6Addr::from(v))
    }
}

fn range_text(lo: u128, hi: u128, len: usize) -> String {
    if len != 4 && len != 16 {
        return format!("{lo}-{hi}");
    }
    let bits = (len * 8) as u32;
    let span = hi.wrapping_sub(lo).wrapping_add(1);
    if lo == hi {
        return int_addr(lo, len).to_string();
    }
    if span.is_power_of_two() && lo.is_multiple_of(span) {
        let plen = bits - span.trailing_zeros();
        return format!("{}/{plen}", int_addr(lo, len));
    }
    if lo == 0 && hi == u128::MAX >> (128 - bits) {
        return format!("{}/0", int_addr(0, len));
    }
    format!("{}-{}", int_addr(lo, len), int_addr(hi, len))
}

/// `rampart set test NAME VALUE`: which element holds VALUE, written in
/// the set's element syntax with single values (`192.0.2.7`,
/// `192.0.2.7,tcp:22`, `tcp:22`, `eth0`, `10.0.0.1,eth0`). The state
/// store answers first (the most specific element covering the value: a
/// network or range holding the address, a port range holding the port, an
/// `eth+` wildcard), through the set's index when it has one; then the
/// kernel, asked with a one-element `GETSETELEM` get for the value's key.
fn test(store: &Store, name: &str, value: &str, out: &mut impl Write) -> Result<ExitCode> {
    let Some(cur) = store.current_id()? else {
        bail!("nothing is applied; no set {name}");
    };
    let now = state::now();
    let nft = rampart_nft::lower::nft_set_name(name);
    let (decl, hit) = match store.set_index(cur, name, now)? {
        Some((_, _, decl, ix)) => {
            let q = query(&decl, value)?;
            let Some((a, _, _)) = crate::setindex::net_range(&q.parts) else {
                bail!("set {name} holds addresses or networks: give one address");
            };
            let hit = ix
                .touching(a, a)?
                .into_iter()
                .filter(|e| covers(e, &q))
                .min_by_key(span);
            (decl, hit)
        }
        None => {
            let view = store.set_view(cur, name)?;
            let elems = carry_timeouts(&view.set, view.head.time, now);
            let q = query(&view.set, value)?;
            let hit = elems.into_iter().filter(|e| covers(e, &q)).min_by_key(span);
            let mut decl = view.set;
            decl.elements = Vec::new();
            (decl, hit)
        }
    };
    let q = query(&decl, value)?;
    let shown = rampart_syntax::script::element_text(
        &SetElement {
            timeout: None,
            comment: None,
            ..q.clone()
        },
        decl.kind,
    );
    match &hit {
        Some(e) => writeln!(
            out,
            "{shown} is in set {name}: element {} (state store)",
            rampart_syntax::script::element_text(e, decl.kind)
        )?,
        None => writeln!(out, "{shown} is not in set {name} (state store)")?,
    }
    // The kernel's answer for the same value.
    let kernel = kernel_key(&decl, &q).map(|(key, addr)| {
        (
            setsync::get_element(TableFamily::Inet, "rampart", &nft, &key),
            addr,
        )
    });
    match kernel {
        Some((Ok(Some(e)), addr)) => {
            let mut line = String::from("kernel: held");
            if addr {
                let start = addr_of(&e.key).map_or_else(|| hex(&e.key), |a| a.to_string());
                if start != shown {
                    line.push_str(&format!(" (interval starting at {start})"));
                }
            }
            if let Some(t) = e.expires_ms {
                line.push_str(&format!(", expires in {}", secs_text(t / 1000)));
            }
            writeln!(out, "{line}")?;
            if hit.is_none() {
                writeln!(
                    out,
                    "note: the kernel holds it but the state store does not: the set was changed behind rampart's back"
                )?;
            }
        }
        Some((Ok(None), _)) => {
            writeln!(out, "kernel: not held")?;
            if hit.is_some() {
                writeln!(
                    out,
                    "note: the state store has it but the kernel does not (expired, or removed behind rampart's back)"
                )?;
            }
            return Ok(ExitCode::from(1));
        }
        Some((Err(e), _)) => {
            writeln!(
                out,
                "kernel: cannot ask ({e}); the answer above is the state store's"
            )?;
        }
        None => writeln!(
            out,
            "kernel: not asked (an interval set of pairs is not read over netlink); the answer above is the state store's"
        )?,
    }
    Ok(if hit.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The value of `set test`, parsed as an element of `set` (one value per
/// part: no network, range or port range).
fn query(set: &IpSet, value: &str) -> Result<SetElement> {
    let mut q = parse_cli_elements(set, &[value.to_string()], None, None)?;
    let Some(q) = q.pop().filter(|_| q.is_empty()) else {
        bail!("{value:?}: give one value");
    };
    let single = q.parts.iter().all(|p| match p {
        ElemPart::Net(n) => n.is_host(),
        ElemPart::Range(a, b) => a == b,
        ElemPart::Port { first, last, .. } => first == last,
        ElemPart::Iface(i) => !i.ends_with('+'),
        _ => true,
    });
    if !single {
        bail!("{value:?}: `set test` takes single values (an address, a port, an interface), not a network, range or wildcard");
    }
    Ok(q)
}

/// Whether element `e` holds the single value `q`.
fn covers(e: &SetElement, q: &SetElement) -> bool {
    e.parts.len() == q.parts.len()
        && e.parts.iter().zip(&q.parts).all(|(p, v)| match (p, v) {
            (ElemPart::Net(n), ElemPart::Net(h)) => n.contains(h.addr()),
            (ElemPart::Range(a, b), ElemPart::Net(h)) => {
                a.is_ipv4() == h.is_ipv4()
                    && ip_int(*a) <= ip_int(h.addr())
                    && ip_int(h.addr()) <= ip_int(*b)
            }
            (
                ElemPart::Port { proto, first, last },
                ElemPart::Port {
                    proto: qp,
                    first: x,
                    ..
                },
            ) => proto.unwrap_or(6) == qp.unwrap_or(6) && first <= x && x <= last,
            (ElemPart::Iface(a), ElemPart::Iface(b)) => {
                a == b || a.strip_suffix('+').is_some_and(|pre| b.starts_with(pre))
            }
            (a, b) => a == b,
        })
}

/// How much an element holds (addresses, then ports): the smallest
/// covering element is the most specific.
fn span(e: &SetElement) -> (u128, u32, bool) {
    let mut addrs = 0u128;
    let mut ports = 0u32;
    let mut wildcard = false;
    for p in &e.parts {
        match p {
            ElemPart::Net(n) => {
                let (lo, hi) = net_bounds(n);
                addrs = hi - lo;
            }
            ElemPart::Range(a, b) => addrs = ip_int(*b).saturating_sub(ip_int(*a)),
            ElemPart::Port { first, last, .. } => ports = u32::from(*last - *first),
            ElemPart::Iface(i) => wildcard = i.ends_with('+'),
            _ => {}
        }
    }
    (addrs, ports, wildcard)
}

/// The kernel key of the single value `q` in set `decl` (and whether it
/// is one address), lowered as the set is; `None` when the set's elements
/// are not encoded over netlink (interval sets of pairs).
fn kernel_key(decl: &IpSet, q: &SetElement) -> Option<(Vec<u8>, bool)> {
    let mini = Policy {
        sets: vec![IpSet {
            elements: vec![q.clone()],
            ..decl.clone()
        }],
        ..Policy::default()
    };
    let rs = rampart_nft::lower(&mini).ok()?;
    let set = rs.tables.first()?.sets.first()?;
    let mut set = set.clone();
    // The query is one value; the set may be an interval set.
    set.interval = matches!(decl.kind, SetKind::HashNet | SetKind::HashNetPort) || set.interval;
    let elem = set.elements.first()?.clone();
    let key = setsync::element_key(&set, &elem).ok()?;
    let addr = matches!(q.parts.as_slice(), [ElemPart::Net(_)]);
    Some((key, addr))
}

fn ip_int(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn net_bounds(n: &IpNet) -> (u128, u128) {
    let lo = ip_int(n.addr());
    let width = u32::from(n.width());
    let plen = u32::from(n.prefix_len().unwrap_or(n.width()));
    let host = if width - plen >= 128 {
        u128::MAX
    } else {
        (1u128 << (width - plen)) - 1
    };
    (lo & !host, lo | host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_like_nft() {
        assert_eq!(secs_text(3599), "59m59s");
        assert_eq!(secs_text(3600), "1h");
        assert_eq!(secs_text(90_061), "1d1h1m1s");
    }

    #[test]
    fn timeouts_parse() {
        assert_eq!(parse_timeout("1h"), Ok(3600));
        assert_eq!(parse_timeout("90"), Ok(90));
        assert_eq!(parse_timeout("2d"), Ok(172_800));
        assert!(parse_timeout("0s").is_err());
        assert!(parse_timeout("1y").is_err());
        assert!(parse_timeout("100d").is_err());
    }

    #[test]
    fn ranges_print_as_prefixes_where_they_are() {
        assert_eq!(range_text(0x0a00_0000, 0x0a00_00ff, 4), "10.0.0.0/24");
        assert_eq!(range_text(0x0a00_0001, 0x0a00_0001, 4), "10.0.0.1");
        assert_eq!(range_text(0x0a00_0001, 0x0a00_0009, 4), "10.0.0.1-10.0.0.9");
        assert_eq!(range_text(0, u128::from(u32::MAX), 4), "0.0.0.0/0");
        assert_eq!(key_text(7, &[192, 0, 2, 1]), "192.0.2.1");
        // ipv4_addr . inet_proto . inet_service
        assert_eq!(
            key_text(
                (7 << 12) | (12 << 6) | 13,
                &[192, 0, 2, 1, 6, 0, 0, 0, 0, 22, 0, 0]
            ),
            "192.0.2.1 . tcp . 22"
        );
    }

    #[test]
    fn timed_elements_carry_the_time_left() {
        let set = IpSet {
            name: "bans".into(),
            kind: SetKind::HashIp,
            family: Some(rampart_model::Family::Ipv4),
            timeout: None,
            options: Default::default(),
            elements: vec![
                SetElement {
                    parts: vec![ElemPart::Net(IpNet::host("192.0.2.1".parse().expect("a")))],
                    timeout: Some(60),
                    comment: None,
                    nomatch: false,
                },
                SetElement {
                    parts: vec![ElemPart::Net(IpNet::host("192.0.2.2".parse().expect("a")))],
                    timeout: Some(10),
                    comment: None,
                    nomatch: false,
                },
                SetElement {
                    parts: vec![ElemPart::Net(IpNet::host("192.0.2.3".parse().expect("a")))],
                    timeout: None,
                    comment: None,
                    nomatch: false,
                },
            ],
            origin: None,
        };
        let left = carry_timeouts(&set, 1000, 1015);
        assert_eq!(left.len(), 2);
        assert_eq!(left[0].timeout, Some(45));
        assert_eq!(left[1].timeout, None);
    }

    /// The element changes of set `block` from `old` to the set changed,
    /// computed whole and from the neighbourhood of the change.
    type Ops = Vec<(bool, Vec<u8>)>;

    fn both_ways(set: &IpSet, removed: &[Vec<ElemPart>], added: &[SetElement]) -> (Ops, Ops) {
        let policy = |elems: Vec<SetElement>| Policy {
            sets: vec![IpSet {
                elements: elems,
                ..set.clone()
            }],
            ..Policy::default()
        };
        let ops = |a: Vec<SetElement>, b: Vec<SetElement>| {
            let old = lower_policy(&policy(a), false).expect("lowers");
            let new = lower_policy(&policy(b), false).expect("lowers");
            let d = setsync::diff_ruleset(&old, &new)
                .expect("same declarations")
                .expect("diff");
            let mut v: Vec<(bool, Vec<u8>)> = d.iter().flat_map(SetSync::encoded).collect();
            v.sort();
            v
        };
        let mut whole = set.clone();
        state::apply_change(&mut whole, removed, added);
        let (sub, _) = neighbourhood(set, removed, added);
        let mut sub_new = IpSet {
            elements: sub.clone(),
            ..set.clone()
        };
        state::apply_change(&mut sub_new, removed, added);
        let near = ops(sub, sub_new.elements);
        // The same through the set's index (when it has one).
        let mut bytes = Vec::new();
        if let Some(ix) = crate::setindex::build(set, &mut bytes) {
            let f = std::env::temp_dir().join(format!(
                "rampart-nb-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::write(&f, &bytes).expect("write");
            let ixs = crate::setindex::IndexedSet::open(&f, ix, 0, None, &[], 0)
                .expect("open")
                .expect("indexed");
            let decl = IpSet {
                elements: Vec::new(),
                ..set.clone()
            };
            let (isub, _) = neighbourhood_indexed(&ixs, &decl, removed, added)
                .expect("read")
                .expect("answers");
            let mut inew = IpSet {
                elements: isub.clone(),
                ..set.clone()
            };
            state::apply_change(&mut inew, removed, added);
            let _ = std::fs::remove_file(&f);
            assert_eq!(ops(isub, inew.elements), near, "through the index");
        }
        (ops(set.elements.clone(), whole.elements), near)
    }

    #[test]
    fn issue5_a_change_computed_from_its_neighbourhood_equals_the_whole_diff() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) % n
        };
        let net = |next: &mut dyn FnMut(u64) -> u64| {
            // Dense: networks of 1 to 64 addresses in 0.0.0.0/18, so
            // changes touch and merge with their neighbours (and 0).
            let len = 26 + next(7) as u8;
            let a = std::net::Ipv4Addr::from((next(1 << 12) as u32) << 4);
            SetElement {
                parts: vec![ElemPart::Net(IpNet::new(IpAddr::V4(a), len).expect("net"))],
                timeout: None,
                comment: None,
                nomatch: false,
            }
        };
        let mut changed = 0;
        for round in 0..400 {
            let kind = if round % 3 == 0 {
                SetKind::HashIp
            } else {
                SetKind::HashNet
            };
            let mut set = IpSet {
                name: "block".into(),
                kind,
                family: Some(rampart_model::Family::Ipv4),
                timeout: None,
                options: Default::default(),
                elements: Vec::new(),
                origin: None,
            };
            let n = next(60);
            for _ in 0..n {
                let mut e = net(&mut next);
                if kind == SetKind::HashIp {
                    e.parts = vec![ElemPart::Net(IpNet::host(IpAddr::V4(
                        std::net::Ipv4Addr::from(next(64) as u32),
                    )))];
                }
                // Aggregated, as `set load` and policies give them.
                if !set.elements.iter().any(|x| {
                    let (a, b) = elem_range(&x.parts).expect("range");
                    let (c, d) = elem_range(&e.parts).expect("range");
                    a <= d && c <= b
                }) {
                    set.elements.push(e);
                }
            }
            let mut added = Vec::new();
            let mut removed = Vec::new();
            for _ in 0..=next(2) {
                if next(2) == 0 && !set.elements.is_empty() {
                    let i = next(set.elements.len() as u64) as usize;
                    removed.push(set.elements[i].parts.clone());
                } else if kind == SetKind::HashIp {
                    added.push(SetElement {
                        parts: vec![ElemPart::Net(IpNet::host(IpAddr::V4(
                            std::net::Ipv4Addr::from(next(64) as u32),
                        )))],
                        timeout: None,
                        comment: None,
                        nomatch: false,
                    });
                } else {
                    let e = net(&mut next);
                    let mut all = set.elements.clone();
                    all.retain(|x| !removed.contains(&x.parts));
                    if !all.iter().chain(&added).any(|x| {
                        let (a, b) = elem_range(&x.parts).expect("range");
                        let (c, d) = elem_range(&e.parts).expect("range");
                        a <= d && c <= b && x.parts != e.parts
                    }) {
                        added.push(e);
                    }
                }
            }
            let (whole, near) = both_ways(&set, &removed, &added);
            assert_eq!(
                whole, near,
                "round {round}: {set:?} -{removed:?} +{added:?}"
            );
            changed += usize::from(!whole.is_empty());
        }
        assert!(changed > 300, "{changed}");
        // nft's leading end element at 0 comes and goes with an element
        // at 0, wherever the change is.
        let el = |t: &str| {
            let (a, l) = t.split_once('/').expect("net");
            SetElement {
                parts: vec![ElemPart::Net(
                    IpNet::new(a.parse().expect("a"), l.parse().expect("l")).expect("net"),
                )],
                timeout: None,
                comment: None,
                nomatch: false,
            }
        };
        let set = |elems: &[&str]| IpSet {
            name: "block".into(),
            kind: SetKind::HashNet,
            family: Some(rampart_model::Family::Ipv4),
            timeout: None,
            options: Default::default(),
            elements: elems.iter().map(|t| el(t)).collect(),
            origin: None,
        };
        for (s, rm, add) in [
            (
                set(&["0.0.0.0/28", "0.0.1.0/28"]),
                vec!["0.0.0.0/28"],
                vec![],
            ),
            (set(&["0.0.1.0/28"]), vec![], vec!["0.0.0.0/28"]),
            (
                set(&["0.0.0.0/28", "0.0.1.0/28"]),
                vec![],
                vec!["0.0.4.0/28"],
            ),
            (
                set(&["0.0.1.0/28", "0.0.2.0/28"]),
                vec!["0.0.2.0/28"],
                vec!["0.0.0.0/28"],
            ),
            (set(&["0.0.1.0/28"]), vec!["0.0.1.0/28"], vec![]),
            // Single addresses: no element decides the declaration.
            (
                set(&["0.0.0.0/32", "0.0.1.0/32"]),
                vec!["0.0.0.0/32"],
                vec![],
            ),
            (
                set(&["0.0.1.0/32", "0.0.2.0/32"]),
                vec!["0.0.2.0/32"],
                vec!["0.0.0.0/32"],
            ),
            (
                set(&["0.0.1.0/32", "0.0.2.0/32"]),
                vec![],
                vec!["0.0.3.0/32"],
            ),
            (set(&["0.0.2.0/32"]), vec![], vec!["0.0.1.0/32"]),
        ] {
            let removed: Vec<Vec<ElemPart>> = rm.iter().map(|t| el(t).parts).collect();
            let added: Vec<SetElement> = add.iter().map(|t| el(t)).collect();
            let (whole, near) = both_ways(&s, &removed, &added);
            assert_eq!(whole, near, "{rm:?} {add:?}");
        }
    }
}
