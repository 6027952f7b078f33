//! `rampart cidr`: a standalone CIDR calculator over address lists of any
//! size (streamed line by line), over the algebra of `rampart-cidr`.
//!
//! Exit codes: 0 done; 1 `contains` found an address in no network;
//! 2 a bad line in an input (reported with file:line:column and a caret;
//! the good lines are still used and the result is still printed) or an
//! I/O failure.

use crate::cli::CidrOp;
use anyhow::{Context, Result};
use rampart_cidr::{read_list, write_v4, Builder, CidrSet, Covering, Entry, LineError};
use rampart_syntax::diag::{Diagnostic, Severity};
use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Diagnostics printed in full per file; the rest are only counted.
const SHOWN_ERRORS: u64 = 20;

pub fn run(op: CidrOp) -> Result<ExitCode> {
    match finish(op) {
        // `rampart cidr aggregate big.txt | head` is not a failure.
        Err(e)
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        other => other,
    }
}

fn finish(op: CidrOp) -> Result<ExitCode> {
    let mut bad = 0u64;
    let mut code = 0u8;
    match op {
        CidrOp::Aggregate { files } => {
            let mut b = Builder::default();
            for f in &files {
                bad += load(f, |_, e| b.push(e))?;
            }
            print_set(&b.build())?;
        }
        CidrOp::Subtract { file, minus } => {
            let mut a = Builder::default();
            bad += load(&file, |_, e| a.push(e))?;
            let mut b = Builder::default();
            for f in &minus {
                bad += load(f, |_, e| b.push(e))?;
            }
            print_set(&a.build().subtract(&b.build()))?;
        }
        CidrOp::Intersect { files } => {
            let mut acc: Option<CidrSet> = None;
            for f in &files {
                let mut b = Builder::default();
                bad += load(f, |_, e| b.push(e))?;
                let s = b.build();
                acc = Some(match acc {
                    Some(a) => a.intersect(&s),
                    None => s,
                });
            }
            print_set(&acc.unwrap_or_default())?;
        }
        CidrOp::Count { files } => {
            let mut b = Builder::default();
            let (mut n4, mut n6) = (0u64, 0u64);
            for f in &files {
                bad += load(f, |_, e| {
                    match e {
                        Entry::V4(_) => n4 += 1,
                        Entry::V6(_) => n6 += 1,
                    }
                    b.push(e)
                })?;
            }
            let s = b.build();
            let out = io::stdout();
            let mut out = out.lock();
            writeln!(
                out,
                "ipv4: {n4} entries, {} prefixes, {} addresses",
                s.v4.prefix_count(),
                count_text(s.v4.count())
            )?;
            writeln!(
                out,
                "ipv6: {n6} entries, {} prefixes, {} addresses",
                s.v6.prefix_count(),
                count_text(s.v6.count())
            )?;
        }
        CidrOp::Contains { file, addrs } => {
            let (mut v4, mut v6) = (Vec::new(), Vec::new());
            bad += load(&file, |line, e| match e {
                Entry::V4(iv) => v4.push((iv, line)),
                Entry::V6(iv) => v6.push((iv, line)),
            })?;
            let (v4, v6) = (Covering::new(v4), Covering::new(v6));
            let name = display_name(&file);
            let out = io::stdout();
            let mut out = out.lock();
            for a in addrs {
                let hit = match a {
                    IpAddr::V4(x) => v4
                        .most_specific(u32::from(x))
                        .map(|(iv, l)| (iv.to_string(), l)),
                    IpAddr::V6(x) => v6
                        .most_specific(u128::from(x))
                        .map(|(iv, l)| (iv.to_string(), l)),
                };
                match hit {
                    Some((net, line)) => writeln!(out, "{a} in {net} ({name}:{line})")?,
                    None => {
                        writeln!(out, "{a} not in {name}")?;
                        code = 1;
                    }
                }
            }
        }
    }
    if bad > 0 {
        code = 2;
    }
    Ok(ExitCode::from(code))
}

/// 2^128 does not fit a u128: the whole IPv6 space is written out.
fn count_text(n: Option<u128>) -> String {
    n.map_or_else(
        || "340282366920938463463374607431768211456".to_string(),
        |n| n.to_string(),
    )
}

fn display_name(path: &Path) -> String {
    if path == Path::new("-") {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    }
}

/// Streams one list (`-` is stdin) into `f`, printing its bad lines as
/// located diagnostics; returns the number of bad lines.
fn load(path: &PathBuf, mut f: impl FnMut(u64, Entry)) -> Result<u64> {
    let name = display_name(path);
    let (input, total): (Box<dyn Read>, Option<u64>) = if path == Path::new("-") {
        (Box::new(io::stdin().lock()), None)
    } else {
        let file = File::open(path).with_context(|| format!("opening {name}"))?;
        let len = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        (Box::new(file), len)
    };
    let progress = io::stderr()
        .is_terminal()
        .then(|| Progress::new(&name, total));
    let reader = BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: input,
            progress,
        },
    );
    let mut bad = 0u64;
    let lines = read_lines(reader, |line, r| match r {
        Ok(e) => f(line, e),
        Err(e) => {
            bad += 1;
            if bad <= SHOWN_ERRORS {
                eprintln!("{}", diagnostic(&name, &e));
            }
        }
    })
    .with_context(|| format!("reading {name}"))?;
    if bad > 0 {
        eprintln!(
            "{name}: {bad} bad line(s) of {lines} skipped{}",
            if bad > SHOWN_ERRORS {
                format!(" ({SHOWN_ERRORS} shown)")
            } else {
                String::new()
            }
        );
    }
    Ok(bad)
}

/// [`read_list`], then clears the progress bar.
fn read_lines<R: Read>(
    mut r: BufReader<Counting<R>>,
    f: impl FnMut(u64, Result<Entry, LineError>),
) -> io::Result<u64> {
    let n = read_list(&mut r, f)?;
    if let Some(p) = &mut r.get_mut().progress {
        p.clear();
    }
    Ok(n)
}

fn diagnostic(path: &str, e: &LineError) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        message: e.kind.to_string(),
        path: path.to_string(),
        line: u32::try_from(e.line).unwrap_or(u32::MAX),
        column: e.column,
        width: e.width,
        source_line: e.text.clone(),
        help: None,
    }
}

/// Prints the minimal prefix list, IPv4 then IPv6, one per line.
fn print_set(s: &CidrSet) -> io::Result<()> {
    let out = io::stdout();
    let mut out = out.lock();
    let mut buf = Vec::with_capacity(1 << 16);
    for p in s.v4.prefixes() {
        write_v4(p, &mut buf);
        if buf.len() >= (1 << 16) - 32 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    for p in s.v6.prefixes() {
        writeln!(out, "{p}")?;
    }
    out.flush()
}

/// A reader that counts bytes for the progress bar.
struct Counting<R> {
    inner: R,
    progress: Option<Progress>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = &mut self.progress {
            p.advance(n as u64);
        }
        Ok(n)
    }
}

/// A one-line progress bar on stderr (only when stderr is a terminal),
/// redrawn at most ten times a second.
struct Progress {
    name: String,
    total: Option<u64>,
    done: u64,
    last: Instant,
    shown: bool,
}

impl Progress {
    fn new(name: &str, total: Option<u64>) -> Self {
        Progress {
            name: name.to_string(),
            total,
            done: 0,
            last: Instant::now(),
            shown: false,
        }
    }

    fn advance(&mut self, n: u64) {
        self.done += n;
        if self.last.elapsed() < Duration::from_millis(100) {
            return;
        }
        self.last = Instant::now();
        self.shown = true;
        let mib = self.done as f64 / (1024.0 * 1024.0);
        let line = match self.total {
            Some(t) if t > 0 => {
                let frac = (self.done as f64 / t as f64).min(1.0);
                let filled = (frac * 30.0) as usize;
                format!(
                    "{} [{}{}] {:3.0}% {mib:.1} MiB",
                    self.name,
                    "#".repeat(filled),
                    " ".repeat(30 - filled),
                    frac * 100.0
                )
            }
            _ => format!("{} {mib:.1} MiB", self.name),
        };
        eprint!("\r{line}\x1b[K");
    }

    fn clear(&mut self) {
        if self.shown {
            eprint!("\r\x1b[K");
            self.shown = false;
        }
    }
}
