//! `rampart guard test FILTER LOGFILE`: the counterpart of `fail2ban-regex`.
//! For each matching line it prints the line number, the address and the
//! user captured, then a summary (lines read, matched, ignored, skipped,
//! lines/s). `--json` prints the same as one JSON document.
//!
//! Exit codes: 0 no line matched, 1 lines matched, 2 bad filter or
//! unreadable log.

use anyhow::{bail, Context, Result};
use rampart_guard::filter::builtin::{builtin, BUILTIN};
use rampart_guard::filter::date::{civil_from_days, LogTime};
use rampart_guard::filter::{CompileOptions, Failure, Filter, Scan};
use rampart_syntax::fail2ban::{split_with_options, FilterDef};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// fail2ban's configuration directory when none is given.
pub const FAIL2BAN_DIR: &str = "/etc/fail2ban";

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

/// Resolves a FILTER argument to a definition.
pub fn resolve(spec: &str, config: Option<&Path>) -> Result<FilterDef> {
    let (name, args) = split_with_options(spec).map_err(anyhow::Error::msg)?;
    let show = |d: rampart_syntax::Diagnostics| anyhow::anyhow!("{d}");
    if let Some(n) = name.strip_prefix("builtin:") {
        return builtin(n, &args).with_context(|| format!("no built-in detector `{n}`"));
    }
    let dir = config.map_or_else(|| PathBuf::from(FAIL2BAN_DIR), Path::to_path_buf);
    if let Some(n) = name.strip_prefix("fail2ban:") {
        return FilterDef::load(&dir, n, &args).map_err(show);
    }
    if name.contains('/') || Path::new(&name).is_file() {
        return FilterDef::load_file(Path::new(&name), &args).map_err(show);
    }
    if config.is_none() {
        if let Some(def) = builtin(&name, &args) {
            return Ok(def);
        }
    }
    FilterDef::load(&dir, &name, &args).map_err(show)
}

/// Compiles a definition, printing every problem.
pub fn compile(def: &FilterDef, all: bool) -> Result<Filter> {
    let year = civil_from_days(now_unix() / 86_400).0 as i32;
    Filter::compile(
        def,
        &CompileOptions {
            year,
            check_all: all,
            ..CompileOptions::default()
        },
    )
    .map_err(|errs| {
        let text: Vec<String> = errs.iter().map(|e| format!("error: {e}")).collect();
        anyhow::anyhow!(
            "filter `{}` does not compile:\n{}",
            def.name,
            text.join("\n")
        )
    })
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
