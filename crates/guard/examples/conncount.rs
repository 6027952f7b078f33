//! Connections per source address in a `conntrack -L` (or
//! `/proc/net/nf_conntrack`) dump, for bench/conncount.sh: prints
//! `COUNT ADDRESS` lines sorted by address text (as `sort | uniq -c` does
//! in the C locale), and the parse and count time on stderr.
//!
//! ```text
//! cargo run --release -p rampart-guard --example conncount -- FILE [--all]
//! ```
//!
//! With `--all` it also times every limit's counts (per prefix, per port,
//! SYN_RECV: `ConnCounts`) over the same file, after the output.

use std::io::Write;
use std::time::Instant;

use rampart_guard::conntrack::parse_dump;
use rampart_guard::counter::count_dump_sources;
use rampart_guard::ConnCounts;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: conncount FILE")?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let text = std::fs::read(&path)?;
    let read = start.elapsed();
    let (per_source, bad) = count_dump_sources(&text, threads);
    let counted = start.elapsed();
    let mut lines: Vec<(String, u32)> = per_source
        .iter()
        .map(|(a, n)| (a.to_string(), *n))
        .collect();
    lines.sort_unstable();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (a, n) in &lines {
        writeln!(out, "{n} {a}")?;
    }
    out.flush()?;
    let total = start.elapsed();
    eprint!(
        "sources {} bad-lines {bad} threads {threads}: read {:.3}s parse+count {:.3}s total {:.3}s",
        per_source.len(),
        read.as_secs_f64(),
        (counted - read).as_secs_f64(),
        total.as_secs_f64(),
    );
    if std::env::args().nth(2).as_deref() != Some("--all") {
        eprintln!();
        return Ok(());
    }
    // All the limits' counts (per prefix, port, SYN_RECV) in one thread,
    // for reference.
    let t = Instant::now();
    let (entries, _) = parse_dump(&text);
    let all = ConnCounts::from_entries(24, 64, &[], &entries);
    eprintln!(
        "; every limit's counts (1 thread, parse included) {:.3}s ({} prefixes)",
        t.elapsed().as_secs_f64(),
        all.per_prefix.len()
    );
    Ok(())
}
