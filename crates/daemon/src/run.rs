//! `rampart guard run`: one loop.
//!
//! ```text
//! line sources ─► filters ─► Engine ─► store (commit = acknowledged) ─► kernel set ─► log / answers
//! control socket ─────────────┘   ▲
//! ticks (expiry), whitelist refresh┘
//! ```
//!
//! At start it reads and checks the configuration, compiles every enabled
//! jail's filter, opens the SQLite store, restores the bans still due
//! (with their remaining time) and seeds the ban history, sets the
//! whitelist's dynamic groups (the host's addresses, the admin SSH
//! sessions) and resolves its host names, then (re)creates the kernel's
//! ban table holding exactly the active bans, in one transaction. Each
//! round waits for lines (at most [`ROUND`]), runs them through their
//! jails' filters into the engine, takes the control socket's requests,
//! ticks the engine once a second and refreshes the whitelist every
//! [`REFRESH`]; the round's actions go to the kernel as one netlink batch
//! and then to the store in one transaction. A ban is acknowledged (to a
//! `rampart ban` caller too) only once committed; since the kernel's
//! table is rebuilt from the store at start, every acknowledged ban
//! survives a crash and an uncommitted one does not. SIGTERM and SIGINT end the loop after
//! the round.

use crate::alert::{AlertSender, Alerts};
use crate::conntrack::{ConntrackConfig, ConntrackSource};
use crate::control::{self, BanInfo, Call, Request, Response};
use crate::kernel::{self, Kernel};
use crate::resolve::{Lookup, Resolver, SystemLookup};
use crate::source::{Line, LineSource, Sources};
use crate::Error;
use rampart_guard::filter::jail::jail_filter;
use rampart_guard::filter::{Scan, UseDns};
use rampart_guard::{Action, Engine, Group, GuardConfig, Timestamp, FOREVER};
use rampart_store::{BanStore, Durability, SqliteStore};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longest wait for lines in one round.
pub const ROUND: Duration = Duration::from_millis(50);
/// How often history older than the configured window is purged.
pub const PURGE: Duration = Duration::from_secs(3600);
/// How often the whitelist's dynamic parts are read again.
pub const REFRESH: Duration = Duration::from_secs(30);

/// What `rampart guard run` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    /// Log the decisions, enforce none (also `dry_run = true` in the file).
    pub dry_run: bool,
    pub db: PathBuf,
    pub socket: PathBuf,
    /// Read the log files from their start instead of their end.
    pub from_start: bool,
    /// The local sshd port whose established sessions are whitelisted.
    pub ssh_port: u16,
}

/// Seconds and milliseconds since the epoch.
fn now() -> (Timestamp, u64) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.as_millis() as u64)
}

fn log(msg: &str) {
    eprintln!("rampart-guard: {msg}");
}

/// One line of log output per action.
fn describe(a: &Action, now: Timestamp) -> Option<String> {
    let dry = |d: bool| if d { "[dry run] " } else { "" };
    match a {
        Action::Ban(b) => Some(format!(
            "{}{} {} jail {} ({}; {} hit(s)){}: {}",
            dry(b.dry_run),
            if b.restored { "restored" } else { "ban" },
            b.net,
            b.jail,
            b.source.as_str(),
            b.hits,
            match b.remaining(now) {
                None => " forever".to_string(),
                Some(s) => format!(" for {s}s"),
            },
            b.reason
        )),
        Action::Unban(u) => Some(format!("{}unban {} ({:?})", dry(u.dry_run), u.net, u.cause)),
        Action::Alert(al) => Some(format!("alert {:?}: {}", al.kind, al.message)),
        _ => None,
    }
}

/// Runs the daemon until `stop` is set (by SIGTERM/SIGINT when
/// [`install_signals`] was called).
pub fn run(opts: &Options, stop: &AtomicBool) -> Result<(), Error> {
    let path = opts.config.display().to_string();
    let text =
        std::fs::read_to_string(&opts.config).map_err(|e| Error::Config(format!("{path}: {e}")))?;
    let cfg = GuardConfig::load(&path, &text)
        .map_err(|errs| Error::Config(errs.iter().map(ToString::to_string).collect::<String>()))?;
    let (t0, _) = now();
    let year = rampart_guard::filter::date::civil_from_days(t0 as i64 / 86_400).0 as i32;

    // Jails, filters and their sources: one per distinct logpath entry
    // (files and globs followed by `tail`), one per journal jail.
    let mut names: Vec<String> = Vec::new();
    let mut filters = Vec::new();
    let mut files: Vec<(PathBuf, usize)> = Vec::new();
    let mut journals: Vec<(String, usize)> = Vec::new();
    let mut file_jails: Vec<Vec<usize>> = Vec::new();
    for (name, jail) in &cfg.jail {
        if !jail.enabled {
            continue;
        }
        let f = jail_filter(&cfg, name, jail, year).map_err(Error::Config)?;
        let j = names.len();
        names.push(name.clone());
        filters.push(f);
        for p in &jail.logpath {
            if p == "journal" {
                journals.push((jail.journalmatch.join(" "), file_jails.len()));
                file_jails.push(vec![j]);
                continue;
            }
            match files.iter().find(|(x, _)| x == Path::new(p)) {
                Some((_, i)) => file_jails[*i].push(j),
                None => {
                    files.push((PathBuf::from(p), file_jails.len()));
                    file_jails.push(vec![j]);
                }
            }
        }
    }
    let mut source = Sources::open(&files, &journals, opts.from_start).map_err(Error::Config)?;
    run_with(
        opts,
        &cfg,
        Jails {
            names: &names,
            filters: &filters,
            file_jails: &file_jails,
        },
        &mut source,
        SystemLookup,
        stop,
    )
}

/// What waits for a host name's addresses.
#[derive(Debug)]
enum Waiter {
    /// A failure of jail `jail` whose `<HOST>` was this name.
    Failure { jail: usize, info: String },
    /// A whitelisted name (global or a jail's `ignoreip`).
    Whitelist,
}

/// Resolver threads and the length of their queue.
const RESOLVER_THREADS: usize = 4;
const RESOLVER_QUEUE: usize = 1024;
/// How long the start waits for the whitelisted names before the kernel
/// sees any ban.
const START_RESOLVE: Duration = Duration::from_secs(3);

/// The enabled jails and which read what.
#[derive(Debug, Clone, Copy)]
pub struct Jails<'a> {
    pub names: &'a [String],
    pub filters: &'a [rampart_guard::filter::Filter],
    /// `file_jails[i]`: the jails (indexes into `names`/`filters`) that
    /// read source `i`.
    pub file_jails: &'a [Vec<usize>],
}

/// [`run`] with the jails, the line source and the host-name lookup
/// given.
pub fn run_with(
    opts: &Options,
    cfg: &GuardConfig,
    jails: Jails<'_>,
    source: &mut dyn LineSource,
    lookup: impl Lookup,
    stop: &AtomicBool,
) -> Result<(), Error> {
    let Jails {
        names,
        filters,
        file_jails,
    } = jails;
    let (t0, _) = now();
    let usedns: Vec<UseDns> = names
        .iter()
        .map(|n| {
            cfg.jail
                .get(n)
                .and_then(|j| UseDns::parse(&j.usedns))
                .unwrap_or_default()
        })
        .collect();
    let mut resolver: Resolver<Waiter> = Resolver::start(lookup, RESOLVER_QUEUE, RESOLVER_THREADS)
        .map_err(|e| Error::Config(format!("resolver threads: {e}")))?;
    let mut engine = Engine::new(cfg)
        .map_err(|e| Error::Config(e.to_string()))?
        .with_seed(now().1 ^ u64::from(std::process::id()) << 32);
    if opts.dry_run {
        engine.set_dry_run(true);
    }
    let dry = engine.dry_run();
    let scopes = kernel::Scopes::of(cfg)?;
    let mut scans: Vec<Scan> = filters.iter().map(|f| Scan::new(f, t0 as i64)).collect();

    // The store: restore what is still due, seed the history.
    if let Some(dir) = opts.db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Store(format!("{}: {e}", dir.display())))?;
    }
    let mut store =
        SqliteStore::open(&opts.db, Durability::Full).map_err(|e| Error::Store(e.to_string()))?;
    let rows = store
        .active_bans(t0)
        .map_err(|e| Error::Store(e.to_string()))?;
    let restored = engine.restore(t0, rows);
    let history = cfg.history.seconds().unwrap_or(u64::MAX);
    engine.seed_history(
        store
            .past_bans(t0.saturating_sub(history))
            .map_err(|e| Error::Store(e.to_string()))?,
    );
    for a in &restored {
        if let Some(m) = describe(a, t0) {
            log(&m);
        }
    }
    // The whitelist's dynamic parts, before the kernel sees any ban.
    let mut pending: Vec<Action> = Vec::new();
    refresh_whitelist(&mut engine, cfg, opts.ssh_port, t0, &mut pending);
    // Whitelisted host names: asked on the resolver threads, waited for
    // a short while (the loop is not running yet).
    let host_names = engine.host_names();
    for name in &host_names {
        resolver.refresh(name, Waiter::Whitelist);
    }
    let until = Instant::now() + START_RESOLVE;
    while resolver.pending() > 0 && Instant::now() < until {
        let answers = resolver.poll(t0);
        if answers.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
        on_answers(&mut engine, names, &usedns, answers, t0, &mut pending);
    }
    if resolver.pending() > 0 {
        log(&format!(
            "{} whitelisted host name(s) not resolved yet; they apply when they are",
            resolver.pending()
        ));
    }
    if !pending.is_empty() {
        store
            .record(&pending)
            .map_err(|e| Error::Store(e.to_string()))?;
    }
    for a in &pending {
        if let Some(m) = describe(a, t0) {
            log(&m);
        }
    }
    let mut kernel = if dry {
        log("dry run: the kernel's ban table is not touched");
        None
    } else {
        let (_, ms) = now();
        Some(Kernel::create(&kernel::elements_of(
            engine.active(),
            ms,
            &scopes,
        ))?)
    };

    // The control socket.
    let listener = control::bind(&opts.socket).map_err(|e| Error::Control {
        path: opts.socket.display().to_string(),
        message: e.to_string(),
    })?;
    let (tx, rx) = std::sync::mpsc::channel::<Call>();
    control::serve(listener, tx);
    log(&format!(
        "running: {} jail(s), {} log file(s), {} ban(s) restored, socket {}",
        names.len(),
        file_jails.len(),
        engine.metrics().active_bans,
        opts.socket.display()
    ));

    // Alerts: a sender thread behind a bounded queue, batches by window.
    let mut alerts =
        if cfg.alert.webhook.is_empty() && cfg.alert.email.is_empty() && cfg.alert.log.is_none() {
            None
        } else {
            let host = crate::whitelist::host_name();
            let sender = AlertSender::start(&cfg.alert, &host)
                .map_err(|e| Error::Config(format!("alerts: {e}")))?;
            Some(Alerts::new(&cfg.alert, sender))
        };
    // Live connections: conntrack read on a thread of its own (a dump of a
    // big table takes seconds); the counts come once a second.
    let conn_counts = match &cfg.connlimit {
        Some(_) => Some(conntrack_thread(
            &cfg.conntrack,
            engine.prefix_lengths(),
            engine.conn_ports().to_vec(),
        )?),
        None => None,
    };

    let mut next_tick = Instant::now() + Duration::from_secs(1);
    let mut next_refresh = Instant::now() + REFRESH;
    let mut next_purge = Instant::now() + PURGE;
    let mut skipped_hosts: u64 = 0;
    let mut shed_reported: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let lines: Vec<Line> = match source.wait(ROUND) {
            Ok(l) => l,
            Err(e) => {
                log(&format!("reading the logs: {e}"));
                std::thread::sleep(ROUND);
                Vec::new()
            }
        };
        let (t, _) = now();
        let mut actions: Vec<Action> = Vec::new();
        for line in &lines {
            let Some(jails) = file_jails.get(line.source) else {
                continue;
            };
            for &j in jails {
                let found = match line.time_us {
                    None => scans[j].bytes(&line.bytes),
                    Some(us) => match std::str::from_utf8(&line.bytes) {
                        Ok(text) => scans[j].line_at(
                            text,
                            rampart_guard::filter::date::LogTime {
                                wall: (us / 1_000_000) as i64,
                                offset_min: Some(0),
                                frac: (us % 1_000_000) as f64 / 1e6,
                            },
                        ),
                        Err(_) => scans[j].bytes(&line.bytes),
                    },
                };
                for f in found {
                    let info = f.user.as_deref().map_or_else(
                        || format!("{} failure", names[j]),
                        |u| format!("{} failure, user {u}", names[j]),
                    );
                    match f.host.parse::<IpAddr>() {
                        Ok(addr) => {
                            actions.extend(engine.on_failure(t, &names[j], addr, &info));
                        }
                        Err(_) if matches!(usedns[j], UseDns::Yes | UseDns::Warn) => {
                            // A host name: from the cache, or when the
                            // resolver answers (a later round).
                            let info = format!("{info}, host {}", f.host);
                            let w = Waiter::Failure {
                                jail: j,
                                info: info.clone(),
                            };
                            if let Some(addrs) = resolver.resolve(t, &f.host, w) {
                                for a in addrs {
                                    actions.extend(engine.on_failure(t, &names[j], a, &info));
                                }
                            }
                        }
                        Err(_) => {
                            skipped_hosts += 1;
                            if skipped_hosts.is_power_of_two() {
                                log(&format!(
                                    "jail {}: `{}` is not an address and usedns = {} does not resolve names; {skipped_hosts} such match(es) so far",
                                    names[j], f.host, cfg.jail.get(&names[j]).map_or("", |c| c.usedns.as_str())
                                ));
                            }
                        }
                    }
                }
            }
        }
        on_answers(
            &mut engine,
            names,
            &usedns,
            resolver.poll(t),
            t,
            &mut actions,
        );
        let st = resolver.stats();
        let shed = st.dropped_queue + st.dropped_waiting;
        if shed > shed_reported {
            log(&format!(
                "resolver: {shed} host-name lookup(s) dropped so far (queue of {RESOLVER_QUEUE} full, DNS slower than the log); their failures are not counted"
            ));
            shed_reported = shed.next_power_of_two();
        }
        let calls = control::pending(&rx);
        let mut answers: Vec<(Call, Response, usize)> = Vec::new();
        for c in calls {
            let before = actions.len();
            let r = handle(&mut engine, &scopes, &c.request, t, &mut actions);
            answers.push((c, r, before));
        }
        if let Some(rx) = &conn_counts {
            // Only the newest picture counts.
            if let Some(counts) = rx.try_iter().last() {
                actions.extend(engine.on_conn_counts(t, &counts));
            }
        }
        if Instant::now() >= next_tick {
            actions.extend(engine.on_tick(t));
            next_tick = Instant::now() + Duration::from_secs(1);
        }
        if Instant::now() >= next_purge {
            match store.purge_history(t.saturating_sub(history)) {
                Ok(0) => {}
                Ok(n) => log(&format!(
                    "store: {n} history row(s) older than the history window purged"
                )),
                Err(e) => log(&format!("store: purging the history: {e}")),
            }
            next_purge = Instant::now() + PURGE;
        }
        if Instant::now() >= next_refresh {
            refresh_whitelist(&mut engine, cfg, opts.ssh_port, t, &mut actions);
            for name in &host_names {
                resolver.refresh(name, Waiter::Whitelist);
            }
            next_refresh = Instant::now() + REFRESH;
        }
        let mut failed_commit: Option<String> = None;
        if !actions.is_empty() {
            // The kernel first (a ban takes effect without waiting for the
            // disk), then the store; a ban is acknowledged — to a
            // `rampart ban` caller too — only once committed. At start the
            // kernel's table is rebuilt from the store, so a ban that
            // reached the kernel but was never committed does not outlive
            // a crash, and no committed ban is lost.
            let (_, ms) = now();
            if let Some(k) = kernel.as_mut() {
                if let Err(e) = k.apply(&actions, ms, &scopes) {
                    log(&format!("kernel: {e}; re-creating the ban table"));
                    if let Err(e) = k.refresh(&kernel::elements_of(engine.active(), ms, &scopes)) {
                        log(&format!("kernel: {e}"));
                    }
                }
            }
            if let Err(e) = store.record(&actions) {
                log(&format!(
                    "store: {e}; the round's decisions are enforced but not recorded"
                ));
                failed_commit = Some(e.to_string());
            }
            for a in &actions {
                if let Some(m) = describe(a, t) {
                    log(&m);
                }
            }
        }
        if let Some(al) = alerts.as_mut() {
            al.on_actions(t, &actions);
            al.tick(t);
        }
        for (c, mut r, from) in answers {
            if let Some(e) = &failed_commit {
                r = Response::error(format!("not recorded: {e}"));
            }
            if r.ok {
                r.done = actions[from..]
                    .iter()
                    .filter_map(|a| describe(a, t))
                    .collect();
            }
            let _ = c.reply.send(r);
        }
    }
    log("stopping (signal)");
    if let Some(al) = alerts {
        let st = al.shutdown();
        if st.dropped_batches > 0 || st.failed > 0 {
            log(&format!("alerts: {st:?}"));
        }
    }
    let _ = std::fs::remove_file(&opts.socket);
    Ok(())
}

/// Starts the conntrack reader thread: it dumps, follows events and sends
/// the counts the engine's limits take once a second, until the loop
/// drops the receiver.
fn conntrack_thread(
    cfg: &ConntrackConfig,
    (v4, v6): (u8, u8),
    ports: Vec<u16>,
) -> Result<Receiver<rampart_guard::ConnCounts>, Error> {
    let mut src =
        ConntrackSource::open(cfg).map_err(|e| Error::Config(format!("conntrack: {e}")))?;
    let (tx, rx) = std::sync::mpsc::sync_channel(2);
    std::thread::Builder::new()
        .name("conntrack".into())
        .spawn(move || loop {
            if let Err(e) = src.poll(Instant::now() + Duration::from_secs(1)) {
                log(&format!("conntrack: {e}; reading again in a second"));
                std::thread::sleep(Duration::from_secs(1));
                if let Err(e) = src.dump() {
                    log(&format!("conntrack: {e}"));
                }
            }
            match tx.try_send(src.counts(v4, v6, &ports)) {
                Ok(()) | Err(std::sync::mpsc::TrySendError::Full(_)) => {}
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return,
            }
        })
        .map_err(|e| Error::Config(format!("conntrack thread: {e}")))?;
    Ok(rx)
}

/// Answers one control request; its actions are appended to `out`.
fn handle(
    engine: &mut Engine,
    scopes: &kernel::Scopes,
    req: &Request,
    now: Timestamp,
    out: &mut Vec<Action>,
) -> Response {
    let ok = Response {
        ok: true,
        error: None,
        done: Vec::new(),
        bans: None,
    };
    match req {
        Request::Ban {
            net,
            duration,
            reason,
        } => match engine.ban(now, *net, *duration, reason) {
            Ok(a) => {
                out.extend(a);
                ok
            }
            Err(e) => Response::error(e.to_string()),
        },
        Request::Unban { net } => match engine.unban(now, *net) {
            Ok(a) => {
                out.extend(a);
                ok
            }
            Err(e) => Response::error(e.to_string()),
        },
        Request::Bans => Response {
            bans: Some(
                engine
                    .active()
                    .map(|b| BanInfo {
                        net: b.net.to_string(),
                        jail: b.jail.to_string(),
                        source: b.source.as_str().to_string(),
                        reason: b.reason.clone(),
                        since: b.since,
                        until: (b.until != FOREVER).then_some(b.until),
                        hits: b.hits,
                        count: b.count,
                        members: b.members.iter().map(ToString::to_string).collect(),
                        ports: scopes.describe(&b.jail, b.source),
                    })
                    .collect(),
            ),
            ..ok
        },
    }
}

/// Reads the host's addresses, the admin SSH sessions and the whitelisted
/// host names again and gives them to the engine.
fn refresh_whitelist(
    engine: &mut Engine,
    cfg: &GuardConfig,
    ssh_port: u16,
    now: Timestamp,
    out: &mut Vec<Action>,
) {
    if cfg.ignoreself {
        out.extend(engine.set_group(now, Group::SelfAddrs, &crate::whitelist::own_addresses()));
    }
    out.extend(engine.set_group(
        now,
        Group::AdminSessions,
        &crate::whitelist::sessions_to_port(ssh_port),
    ));
}

/// The resolver's answers: whitelisted names get their addresses (a
/// failed lookup keeps the ones known before); each waiting failure
/// counts once for every address of its name (fail2ban: `usedns`).
fn on_answers(
    engine: &mut Engine,
    names: &[String],
    usedns: &[UseDns],
    answers: Vec<crate::resolve::Answer<Waiter>>,
    now: Timestamp,
    out: &mut Vec<Action>,
) {
    for a in answers {
        let addrs = match &a.addrs {
            Ok(v) => v.clone(),
            Err(e) => {
                log(&format!("resolving `{}`: {e}", a.name));
                Vec::new()
            }
        };
        let mut warned = false;
        for w in a.waiters {
            match w {
                Waiter::Whitelist => {
                    if a.addrs.is_ok() {
                        out.extend(engine.set_resolved(now, &a.name, &addrs));
                    }
                }
                Waiter::Failure { jail, info } => {
                    if usedns.get(jail) == Some(&UseDns::Warn) && !warned && !addrs.is_empty() {
                        warned = true;
                        log(&format!(
                            "jail {}: host name `{}` resolved to {} (usedns = warn; set usedns = yes to silence, no to match addresses only)",
                            names[jail],
                            a.name,
                            addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                        ));
                    }
                    for &addr in &addrs {
                        out.extend(engine.on_failure(now, &names[jail], addr, &info));
                    }
                }
            }
        }
    }
}

/// SIGTERM and SIGINT set the returned flag.
pub fn install_signals() -> Result<Arc<AtomicBool>, Error> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| Error::Config(format!("installing signal handlers: {e}")))?;
    }
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// Lines handed in by the test.
    struct Fake(Arc<Mutex<VecDeque<Line>>>);

    /// Host names of the test (no real DNS).
    struct Names;

    impl Lookup for Names {
        fn lookup(&self, name: &str) -> std::io::Result<Vec<IpAddr>> {
            match name {
                "bad.example" => Ok(vec![
                    "203.0.113.50".parse().expect("a"),
                    "2001:db8::50".parse().expect("a"),
                ]),
                "admin.example" => Ok(vec!["203.0.113.60".parse().expect("a")]),
                _ => Err(std::io::Error::other("no such host")),
            }
        }
    }

    impl LineSource for Fake {
        fn wait(&mut self, timeout: Duration) -> std::io::Result<Vec<Line>> {
            let v: Vec<Line> = self.0.lock().expect("lock").drain(..).collect();
            if v.is_empty() {
                std::thread::sleep(timeout.min(Duration::from_millis(5)));
            }
            Ok(v)
        }
    }

    #[test]
    fn the_loop_bans_from_lines_records_and_answers_the_socket() {
        let dir = std::env::temp_dir().join(format!("rampart-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        // A webhook receiver: the loop's alerts must reach it.
        let hook = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
        let url = format!("http://{}/hook", hook.local_addr().expect("addr"));
        let (hook_tx, hook_rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            for conn in hook.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = conn.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    req.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&req).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if req.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                let _ = hook_tx.send(String::from_utf8_lossy(&req).to_string());
            }
        });
        let cfg = GuardConfig::load(
            "g.toml",
            &format!("ignoreself = false\nignoreip = [\"admin.example\"]\n[alert]\nwindow = \"1s\"\n[[alert.webhook]]\nurl = \"{url}\"\nsecret = \"s3cret\"\n[jail.sshd]\nlogpath = [\"/x\"]\nmaxretry = 2\nbantime = \"1h\"\n"),
        )
        .expect("cfg");
        let filter = jail_filter(&cfg, "sshd", &cfg.jail["sshd"], 2026).expect("filter");
        let opts = Options {
            config: dir.join("g.toml"),
            dry_run: true, // no kernel in a unit test
            db: dir.join("bans.db"),
            socket: dir.join("guard.sock"),
            from_start: false,
            ssh_port: 22,
        };
        let q = Arc::new(Mutex::new(VecDeque::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (o, c, s, q2) = (opts.clone(), cfg.clone(), stop.clone(), q.clone());
        let h = std::thread::spawn(move || {
            run_with(
                &o,
                &c,
                Jails {
                    names: &["sshd".to_string()],
                    filters: std::slice::from_ref(&filter),
                    file_jails: &[vec![0]],
                },
                &mut Fake(q2),
                Names,
                &s,
            )
        });
        let call = |r: &Request| loop {
            if let Ok(r) = control::call(&opts.socket, r) {
                return r;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(call(&Request::Bans).bans, Some(vec![]));
        for i in 0..2 {
            q.lock().expect("lock").push_back(Line {
                time_us: None,
                source: 0,
                bytes: format!("Nov 22 00:00:0{i} web sshd[1]: Failed password for root from 203.0.113.9 port 5 ssh2").into_bytes(),
            });
        }
        let mut bans = Vec::new();
        for _ in 0..500 {
            bans = call(&Request::Bans).bans.unwrap_or_default();
            if !bans.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(bans.len(), 1, "{bans:?}");
        assert_eq!(bans[0].net, "203.0.113.9");
        assert_eq!(bans[0].jail, "sshd");
        assert_eq!(bans[0].hits, 2);
        assert_eq!(bans[0].ports, "all");
        // usedns (default warn): a host name's failures count for each of
        // its addresses once the resolver answers; a whitelisted host
        // name's address is never banned.
        for (i, host) in [
            "bad.example",
            "admin.example",
            "bad.example",
            "admin.example",
            "nx.example",
        ]
        .iter()
        .enumerate()
        {
            q.lock().expect("lock").push_back(Line {
                time_us: None,
                source: 0,
                bytes: format!("Nov 22 00:00:1{i} web sshd[1]: Failed password for root from {host} port 5 ssh2").into_bytes(),
            });
        }
        for _ in 0..500 {
            bans = call(&Request::Bans).bans.unwrap_or_default();
            if bans.len() >= 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let nets: Vec<&str> = bans.iter().map(|b| b.net.as_str()).collect();
        assert_eq!(
            nets,
            ["203.0.113.9", "203.0.113.50", "2001:db8::50"],
            "{bans:?}"
        );
        assert!(bans[1].reason.contains("host bad.example"), "{bans:?}");
        // The ban's alert: one signed POST once the 1 s window closed.
        let req = hook_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("an alert reaches the webhook");
        assert!(req.starts_with("POST /hook"), "{req}");
        assert!(
            req.to_ascii_lowercase()
                .contains("x-rampart-signature: sha256="),
            "{req}"
        );
        assert!(req.contains("203.0.113.9"), "{req}");
        let r = call(&Request::Ban {
            net: "198.51.100.0/24".parse().expect("net"),
            duration: Some(60),
            reason: "test".into(),
        });
        assert!(r.ok && r.done[0].contains("ban 198.51.100.0/24"), "{r:?}");
        let r = call(&Request::Unban {
            net: "192.0.2.1".parse().expect("net"),
        });
        assert!(
            !r.ok && r.error.as_deref().unwrap_or("").contains("not banned"),
            "{r:?}"
        );
        // Localhost is always whitelisted.
        let r = call(&Request::Ban {
            net: "127.0.0.1".parse().expect("net"),
            duration: None,
            reason: String::new(),
        });
        assert!(!r.ok, "{r:?}");
        stop.store(true, Ordering::Relaxed);
        h.join().expect("thread").expect("clean exit");
        // Dry run: recorded in the history, never restored as bans.
        let mut st = SqliteStore::open(&opts.db, Durability::Full).expect("store");
        assert!(st.active_bans(now().0).expect("rows").is_empty());
        std::fs::remove_dir_all(&dir).ok();
    }
}
