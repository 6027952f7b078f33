//! Bans per second into the ban store, for bench/bans.sh.
//!
//! ```text
//! cargo run --release -p rampart-store --example bans_bench -- N DIR [ADDRS_OUT]
//! ```
//!
//! Prints one `name bans wall_seconds bans_per_second cpu_seconds
//! bans_per_cpu_second` line per measurement:
//! - `engine`: N distinct addresses failing once in a `maxretry = 1` jail
//!   (prefix escalation on), the engine alone;
//! - `store-batch-full` / `store-batch-normal`: N bans recorded in batches
//!   of 10,000 per transaction (synchronous FULL / NORMAL);
//! - `engine+store`: N distinct addresses failing once in a `maxretry = 1`
//!   jail: engine decisions recorded every 10,000 actions (FULL);
//! - `store-single-full`: one transaction (one fsync) per ban, 2,000 bans.
//!
//! With ADDRS_OUT the N addresses are written there, one per line, for
//! the ipset and fail2ban runs of the same addresses. `BANS_ONLY=name`
//! runs one measurement (for profiling), `BANS_BATCH` sets the batch size.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Instant;

use rampart_guard::{Action, Ban, Engine, GuardConfig, JailConfig, Net, Source};
use rampart_store::{BanStore, Durability, SqliteStore};

const T: u64 = 1_700_000_000;

fn addr(i: u32) -> IpAddr {
    // Distinct (odd multiplier), spread over 1.0.0.0-223.255.255.255.
    let x = i.wrapping_mul(2_654_435_761);
    IpAddr::V4(Ipv4Addr::from(0x0100_0000 + x % 0xDF00_0000))
}

fn ban(i: u32) -> Action {
    Action::Ban(Ban {
        net: Net::host(addr(i)),
        prefix: None,
        since: T,
        until: T + 3600,
        jail: "bench".into(),
        source: Source::Jail,
        reason: "bench: 5 failures within 600s".into(),
        hits: 5,
        count: 0,
        restored: false,
        dry_run: false,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = Path::new(args.get(2).map(String::as_str).unwrap_or("bench/out"));
    std::fs::create_dir_all(dir)?;
    if let Some(out) = args.get(3) {
        let mut f = std::io::BufWriter::new(std::fs::File::create(out)?);
        for i in 0..n {
            writeln!(f, "{}", addr(i))?;
        }
    }
    let batch: usize = std::env::var("BANS_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    // BANS_ONLY=name runs one measurement (for profiling).
    let only = std::env::var("BANS_ONLY").ok();
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if run("engine") {
        let mut e = Engine::new(&engine_config())?;
        let start = Instant::now();
        let cpu = cpu_seconds();
        let mut bans = 0u32;
        for i in 0..n {
            let a = e.on_failure(T, "bench", addr(i), "Failed password for root");
            bans += a.iter().filter(|x| matches!(x, Action::Ban(_))).count() as u32;
        }
        report(
            "engine",
            bans,
            start.elapsed().as_secs_f64(),
            cpu_seconds() - cpu,
        );
    }
    for (name, durability) in [
        ("store-batch-full", Durability::Full),
        ("store-batch-normal", Durability::Normal),
    ] {
        if !run(name) {
            continue;
        }
        let path = dir.join(format!("{name}.db"));
        remove_db(&path);
        let mut s = SqliteStore::open(&path, durability)?;
        let actions: Vec<Action> = (0..n).map(ban).collect();
        let start = Instant::now();
        let cpu = cpu_seconds();
        for chunk in actions.chunks(batch) {
            s.record(chunk)?;
        }
        report(name, n, start.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        remove_db(&path);
    }

    if run("engine+store") {
        let path = dir.join("engine-store.db");
        remove_db(&path);
        let mut s = SqliteStore::open(&path, Durability::Full)?;
        let mut e = Engine::new(&engine_config())?;
        let start = Instant::now();
        let cpu = cpu_seconds();
        let mut pending: Vec<Action> = Vec::with_capacity(batch);
        let mut bans = 0u32;
        for i in 0..n {
            let a = e.on_failure(T, "bench", addr(i), "Failed password for root");
            bans += a.iter().filter(|x| matches!(x, Action::Ban(_))).count() as u32;
            pending.extend(a);
            if pending.len() >= batch {
                s.record(&pending)?;
                pending.clear();
            }
        }
        s.record(&pending)?;
        report(
            "engine+store",
            bans,
            start.elapsed().as_secs_f64(),
            cpu_seconds() - cpu,
        );
        remove_db(&path);
    }

    if run("store-single-full") {
        let path = dir.join("single.db");
        remove_db(&path);
        let mut s = SqliteStore::open(&path, Durability::Full)?;
        let k = 2_000u32.min(n);
        let start = Instant::now();
        let cpu = cpu_seconds();
        for i in 0..k {
            s.record(&[ban(i)])?;
        }
        report(
            "store-single-full",
            k,
            start.elapsed().as_secs_f64(),
            cpu_seconds() - cpu,
        );
        remove_db(&path);
    }
    Ok(())
}

/// A `maxretry = 1` jail with increments, prefix escalation on (the
/// default /24 after 5 members: the spread addresses rarely share one).
fn engine_config() -> GuardConfig {
    let mut config = GuardConfig::default();
    config.jail.insert(
        "bench".into(),
        JailConfig {
            maxretry: 1,
            bantime_increment: Some(Default::default()),
            ..Default::default()
        },
    );
    config
}

/// Prints `name bans wall_s bans/s cpu_s bans/cpu_s`: on a shared machine
/// the rate per CPU second is the steadier figure.
fn report(name: &str, bans: u32, secs: f64, cpu: f64) {
    println!(
        "{name} {bans} {secs:.3} {:.0} {cpu:.3} {:.0}",
        f64::from(bans) / secs,
        f64::from(bans) / cpu.max(1e-9)
    );
}

/// User + system CPU seconds of this process (/proc/self/stat, in clock
/// ticks of 1/100 s, the Linux default USER_HZ).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat(5); after the ")" they are the 12th and 13th.
    (ticks(11) + ticks(12)) / 100.0
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}
