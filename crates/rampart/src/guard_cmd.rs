//! `rampart guard test FILTER LOGFILE`: the counterpart of `fail2ban-regex`.
//! For each matching line it prints the line number, the address and the
//! user captured, then a summary (lines read, matched, ignored, skipped,
//! lines/s). `--json` prints the same as one JSON document.
//!
//! Exit codes: 0 no line matched, 1 lines matched, 2 bad filter or
//! unreadable log.

use anyhow::{bail, Context, Result};
use rampart_guard::filter::builtin::BUILTIN;
use rampart_guard::filter::date::{civil_from_days, LogTime};
use rampart_guard::filter::{Failure, Filter, Scan};
use rampart_syntax::fail2ban::FilterDef;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// A built-in detector (`sshd`, `nginx-auth`, ... see `rampart guard
    /// list`), `fail2ban:NAME` (NAME.conf in the fail2ban directory), a
    /// path to a fail2ban-syntax filter file, or a fail2ban filter name;
    /// filter options as fail2ban writes them: `sshd[mode=aggressive]`.
    pub filter: String,
    /// Log file to scan (`-` for standard input).
    pub logfile: PathBuf,
    /// fail2ban configuration directory for filter names
    /// [default: /etc/fail2ban].
    #[arg(long, value_name = "DIR")]
    pub config: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print only the summary (no line per match).
    #[arg(long)]
    pub summary: bool,
    /// Try every failregex on every line (as fail2ban's sample tests do)
    /// instead of stopping at the first that matches.
    #[arg(long)]
    pub all: bool,
    /// Threads scanning the log [default: one per CPU]; filters with
    /// `maxlines > 1` always use one. The result does not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// Resolves a FILTER argument to a definition (a bare name is a built-in
/// detector unless a fail2ban directory is given).
pub fn resolve(spec: &str, config: Option<&Path>) -> Result<FilterDef> {
    rampart_guard::filter::jail::resolve(spec, config, config.is_none()).map_err(anyhow::Error::msg)
}

/// Compiles a definition, printing every problem.
pub fn compile(def: &FilterDef, all: bool) -> Result<Filter> {
    let year = civil_from_days(now_unix() / 86_400).0 as i32;
    rampart_guard::filter::jail::compile(def, year, all).map_err(anyhow::Error::msg)
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// `2026-11-22 00:00:01` (wall clock of the log) with its zone if given.
pub fn show_time(t: &LogTime) -> String {
    let days = t.wall.div_euclid(86_400);
    let s = t.wall.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let zone = t.offset_min.map_or(String::new(), |o| {
        format!(
            " {}{:02}{:02}",
            if o < 0 { '-' } else { '+' },
            o.abs() / 60,
            o.abs() % 60
        )
    });
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}{zone}",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

pub fn test(args: &TestArgs, out: &mut impl Write) -> Result<ExitCode> {
    let def = resolve(&args.filter, args.config.as_deref())?;
    let filter = compile(&def, args.all)?;
    let input: Box<dyn Read> = if args.logfile.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(&args.logfile)
                .with_context(|| format!("cannot open {}", args.logfile.display()))?,
        )
    };
    // Local wall clock = UTC here: the log's own time zone is unknown.
    let mut scan = Scan::new(&filter, now_unix());
    let started = Instant::now();
    let mut matches = Vec::new();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    if !args.json && !args.summary {
        writeln!(
            out,
            "{:>8}  {:<39}  {:<16}  TIME",
            "LINE", "ADDRESS", "USER"
        )?;
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    scan_log(input, &args.logfile, &mut scan, threads, |f| {
        if args.summary {
            return Ok(());
        }
        if args.json {
            matches.push(serde_json::json!({
                "line": f.line,
                "address": f.host,
                "user": f.user,
                "time": f.time.map(|t| show_time(&t)),
                "failregex": f.regex,
                "groups": f.groups,
            }));
        } else {
            writeln!(
                out,
                "{:>8}  {:<39}  {:<16}  {}",
                f.line,
                f.host,
                f.user.as_deref().unwrap_or("-"),
                f.time.map(|t| show_time(&t)).unwrap_or_else(|| "-".into())
            )?;
        }
        Ok(())
    })?;
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let st = scan.stats;
    let rate = st.lines as f64 / secs;
    if args.json {
        let doc = serde_json::json!({
            "filter": def.name,
            "matches": matches,
            "summary": {
                "lines": st.lines, "matched": st.matched, "ignored": st.ignored,
                "skipped": st.skipped, "no_date": st.no_date,
                "regex_errors": st.regex_errors, "seconds": secs, "lines_per_second": rate,
            },
            "notes": filter.notes(),
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        writeln!(out)?;
        writeln!(
            out,
            "Filter: {} ({} failregex, {} ignoreregex)",
            def.name,
            filter.failregex.len(),
            filter.ignoreregex.len()
        )?;
        for n in filter.notes() {
            writeln!(out, "  {n}")?;
        }
        writeln!(
            out,
            "Lines: {} read, {} matched, {} ignored, {} skipped (binary, NUL or longer than {} bytes), {} without a date",
            st.lines,
            st.matched,
            st.ignored,
            st.skipped,
            rampart_guard::filter::MAX_LINE,
            st.no_date
        )?;
        if st.regex_errors > 0 {
            writeln!(
                out,
                "Regex runs abandoned (backtracking limit): {}",
                st.regex_errors
            )?;
        }
        writeln!(out, "Time: {secs:.3} s, {rate:.0} lines/s")?;
    }
    out.flush()?;
    Ok(ExitCode::from(u8::from(st.matched > 0)))
}

/// Bytes read from the log at a time; each block ends at a line end and
/// is scanned on all CPUs ([`Scan::block`]).
const BLOCK: usize = 8 << 20;

/// Feeds a whole log to `scan` in blocks, calling `each` for every
/// failure in line order.
fn scan_log(
    mut input: Box<dyn Read>,
    path: &Path,
    scan: &mut Scan<'_>,
    threads: usize,
    mut each: impl FnMut(&Failure) -> Result<()>,
) -> Result<()> {
    let mut buf = vec![0u8; BLOCK];
    // Bytes of an unfinished line carried over from the previous read.
    let mut held = 0;
    loop {
        if held == buf.len() {
            // One line longer than the block: grow (the scan skips lines
            // over MAX_LINE anyway, but counts them as one line).
            buf.resize(buf.len() * 2, 0);
        }
        let n = match input.read(&mut buf[held..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let end = held + n;
        if n == 0 {
            for f in scan.block(&buf[..end], threads) {
                each(&f)?;
            }
            return Ok(());
        }
        let Some(last_nl) = memchr::memrchr(b'\n', &buf[held..end]) else {
            held = end;
            continue;
        };
        let cut = held + last_nl + 1;
        for f in scan.block(&buf[..cut], threads) {
            each(&f)?;
        }
        buf.copy_within(cut..end, 0);
        held = end - cut;
    }
}

/// `rampart guard list`: the built-in detectors.
pub fn list(out: &mut impl Write) -> Result<ExitCode> {
    for (name, what, _) in BUILTIN {
        writeln!(out, "{name:<14} {what}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks that a FILTER argument names something usable (for import).
pub fn check_filter(spec: &str, dir: &Path) -> Result<()> {
    let def = resolve(spec, Some(dir))?;
    compile(&def, false)?;
    if def.failregex.is_empty() {
        bail!("filter `{spec}` has no failregex");
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The guard configuration to check.
    #[arg(default_value = "/etc/rampart/guard.toml")]
    pub config: PathBuf,
}

/// `rampart guard check CONFIG`: reads the configuration, checks every
/// key (located errors: path:line:col, the line, a caret) and compiles
/// every enabled jail's filter. Exit 0 valid, 2 errors.
pub fn check(args: &CheckArgs, out: &mut impl Write) -> Result<ExitCode> {
    let path = args.config.display().to_string();
    let text =
        std::fs::read_to_string(&args.config).with_context(|| format!("cannot read {path}"))?;
    let cfg = match rampart_guard::GuardConfig::load(&path, &text) {
        Ok(c) => c,
        Err(errs) => {
            for e in &errs {
                eprint!("{e}");
            }
            eprintln!("{path}: {} error(s)", errs.len());
            return Ok(ExitCode::from(2));
        }
    };
    let year = civil_from_days(now_unix() / 86_400).0 as i32;
    let mut bad = 0;
    for (name, jail) in &cfg.jail {
        if !jail.enabled {
            writeln!(out, "jail {name}: disabled")?;
            continue;
        }
        match rampart_guard::filter::jail::jail_filter(&cfg, name, jail, year) {
            Ok(f) => writeln!(
                out,
                "jail {name}: filter {} ({} failregex), {} log source(s), maxretry {} in {}s, bantime {}s, ports {}",
                jail.filter_spec(name),
                f.failregex.len(),
                jail.logpath.len(),
                jail.maxretry,
                jail.findtime.0,
                jail.bantime.0,
                // Checked by GuardConfig::load above.
                jail.ban_scope().map_or_else(|e| e, |s| s.describe())
            )?,
            Err(e) => {
                bad += 1;
                eprintln!("{path}: error: {e}");
            }
        }
    }
    if bad > 0 {
        return Ok(ExitCode::from(2));
    }
    writeln!(out, "{path}: valid, {} jail(s)", cfg.jail.len())?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The guard configuration.
    #[arg(long, default_value = "/etc/rampart/guard.toml")]
    pub config: PathBuf,
    /// Decide and log, enforce nothing (the kernel's table is not touched).
    #[arg(long)]
    pub dry_run: bool,
    /// The SQLite ban store.
    #[arg(long, value_name = "PATH", default_value = "/var/lib/rampart/guard.db")]
    pub db: PathBuf,
    /// The control socket.
    #[arg(long, value_name = "PATH", default_value = rampart_daemon::control::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Read the log files from their start (default: from their end).
    #[arg(long)]
    pub from_start: bool,
    /// The local sshd port: sources of established sessions to it are
    /// whitelisted (admin sessions).
    #[arg(long, default_value_t = 22)]
    pub ssh_port: u16,
}

/// `rampart guard run`.
pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let stop = rampart_daemon::run::install_signals()?;
    let opts = rampart_daemon::run::Options {
        config: args.config.clone(),
        dry_run: args.dry_run,
        db: args.db.clone(),
        socket: args.socket.clone(),
        from_start: args.from_start,
        ssh_port: args.ssh_port,
    };
    match rampart_daemon::run::run(&opts, &stop) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("rampart guard run: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct BanArgs {
    /// An address or network (`198.51.100.7`, `203.0.113.0/24`, `2001:db8::/64`).
    pub net: String,
    /// How long (`600`, `10m`, `1h`, `2d`); default: forever.
    #[arg(long = "for", value_name = "DURATION")]
    pub duration: Option<String>,
    /// Why (shown by `rampart bans`).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The daemon's control socket.
    #[arg(long, value_name = "PATH", default_value = rampart_daemon::control::DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct UnbanArgs {
    /// An address or network.
    pub net: String,
    #[arg(long, value_name = "PATH", default_value = rampart_daemon::control::DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct BansArgs {
    /// Print the bans as JSON.
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_name = "PATH", default_value = rampart_daemon::control::DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

fn send(
    socket: &Path,
    line: String,
) -> Result<std::result::Result<rampart_daemon::control::Response, String>> {
    use rampart_daemon::control::{call, parse_request};
    // The same parser as the daemon's: a bad address or duration is
    // reported here, with its text.
    let req = match parse_request(line.as_bytes()) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    call(socket, &req)
        .map(Ok)
        .with_context(|| "is `rampart guard run` running?".to_string())
}

fn answer(
    r: std::result::Result<rampart_daemon::control::Response, String>,
    out: &mut impl Write,
) -> Result<ExitCode> {
    match r {
        Err(e) => {
            eprintln!("rampart: {e}");
            Ok(ExitCode::from(2))
        }
        Ok(r) if !r.ok => {
            eprintln!("rampart: {}", r.error.unwrap_or_default());
            Ok(ExitCode::from(2))
        }
        Ok(r) => {
            for d in &r.done {
                writeln!(out, "{d}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `rampart ban`.
pub fn ban(args: &BanArgs, out: &mut impl Write) -> Result<ExitCode> {
    let mut v = serde_json::json!({"cmd": "ban", "net": args.net});
    if let Some(d) = &args.duration {
        v["for"] = d.clone().into();
    }
    if let Some(r) = &args.reason {
        v["reason"] = r.clone().into();
    }
    answer(send(&args.socket, v.to_string())?, out)
}

/// `rampart unban`.
pub fn unban(args: &UnbanArgs, out: &mut impl Write) -> Result<ExitCode> {
    let v = serde_json::json!({"cmd": "unban", "net": args.net});
    answer(send(&args.socket, v.to_string())?, out)
}

/// `rampart bans [--json]`.
pub fn bans(args: &BansArgs, out: &mut impl Write) -> Result<ExitCode> {
    let r = match send(&args.socket, r#"{"cmd":"bans"}"#.to_string())? {
        Ok(r) if r.ok => r,
        other => return answer(other, out),
    };
    let list = r.bans.unwrap_or_default();
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &list)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = now_unix() as u64;
    writeln!(
        out,
        "{:<43} {:<10} {:<9} {:<14} {:>12} {:>6}  REASON",
        "ADDRESS", "JAIL", "SOURCE", "PORTS", "EXPIRES IN", "HITS"
    )?;
    for b in &list {
        let left = b.until.map_or_else(
            || "never".to_string(),
            |u| format!("{}s", u.saturating_sub(now)),
        );
        writeln!(
            out,
            "{:<43} {:<10} {:<9} {:<14} {:>12} {:>6}  {}",
            b.net, b.jail, b.source, b.ports, left, b.hits, b.reason
        )?;
    }
    writeln!(out, "{} ban(s)", list.len())?;
    Ok(ExitCode::SUCCESS)
}
