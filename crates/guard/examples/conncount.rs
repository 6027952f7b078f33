//! Connections per source address in a `conntrack -L` (or
//! `/proc/net/nf_conntrack`) dump, for bench/conncount.sh: prints
//! `COUNT ADDRESS` lines sorted by address text (as `sort | uniq -c` does
//! in the C locale), and the parse and count time on stderr.
//!
//! ```text
//! cargo run --release -p rampart-guard --example conncount -- FILE
//! ```

use std::io::Write;
use std::time::Instant;

use rampart_guard::conntrack::parse_dump;
use rampart_guard::ConnCounts;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: conncount FILE")?;
    let start = Instant::now();
    let text = std::fs::read(&path)?;
    let read = start.elapsed();
    let (entries, errors) = parse_dump(&text);
    let parsed = start.elapsed();
    let counts = ConnCounts::from_entries(24, 64, &[], &entries);
    let counted = start.elapsed();
    let mut lines: Vec<(String, u32)> = counts.per_source.iter().map(|(a, n)| (a.to_string(), *n)).collect();
    lines.sort_unstable();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (a, n) in &lines {
        writeln!(out, "{n} {a}")?;
    }
    out.flush()?;
    eprintln!(
        "entries {} bad-lines {} sources {} prefixes {} read {:.3}s parse {:.3}s count {:.3}s total {:.3}s",
        entries.len(),
        errors.len(),
        counts.per_source.len(),
        counts.per_prefix.len(),
        read.as_secs_f64(),
        (parsed - read).as_secs_f64(),
        (counted - parsed).as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
