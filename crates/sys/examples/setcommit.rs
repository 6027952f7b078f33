//! Kernel cost of loading and changing one large named set, measured with
//! raw netlink batches (no parsing, no state store): what bench/setload.sh
//! reports as the kernel's share.
//!
//! ```text
//! ip netns add t; ip netns exec t target/release/examples/setcommit [N] [net|ip] [CHANGES]
//! ```
//!
//! Creates `table inet rampart-bench` with one set of N elements (`net`:
//! disjoint /28../32 networks in an interval set; `ip`: addresses in a hash
//! set), loads it with [`rampart_sys::setsync`] (one transaction unless
//! `BATCH` says otherwise), then adds and deletes one element CHANGES times,
//! one transaction each. For every step it prints wall seconds and the
//! process's user and system CPU seconds (the kernel processes a netlink
//! batch, its commit included, in the sending process's `sendmsg`).
use rampart_nft::{Element, Expr, KeyType, Ruleset, Set, Table, TableFamily};
use rampart_sys::setsync::{batches, diff_set, SyncOpts};
use rampart_sys::Socket;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

fn cpu() -> (f64, f64) {
    // utime and stime, fields 14 and 15 of /proc/self/stat, in USER_HZ (100).
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (
        f.get(11).copied().unwrap_or(0.0) / 100.0,
        f.get(12).copied().unwrap_or(0.0) / 100.0,
    )
}

struct Clock(Instant, (f64, f64));

impl Clock {
    fn start() -> Clock {
        Clock(Instant::now(), cpu())
    }
    fn report(&self, what: &str) {
        let (u, s) = cpu();
        println!(
            "{what:<44} wall {:>8.3}s  user {:>7.2}s  sys {:>7.2}s",
            self.0.elapsed().as_secs_f64(),
            u - self.1 .0,
            s - self.1 .1
        );
    }
}

fn element(net: bool, i: u64) -> Element {
    // Even /28 slots spread over 1.0.0.0/8.. by a multiplicative hash, so
    // neighbours never touch.
    let slot = (i.wrapping_mul(2_654_435_761) % (1 << 22)) * 2 + (1 << 20);
    let base = (slot << 4) as u32;
    let a = IpAddr::V4(Ipv4Addr::from(base));
    let key = if net {
        Expr::Prefix(a, 28 + (i % 5) as u8)
    } else {
        Expr::Addr(a)
    };
    Element {
        key: vec![key],
        timeout: None,
        comment: None,
    }
}

fn set(net: bool, elements: Vec<Element>) -> Set {
    Set {
        name: "big".into(),
        key: vec![KeyType::Ipv4Addr],
        interval: net,
        timeout_flag: false,
        auto_merge: net,
        timeout: None,
        dynamic: false,
        size: None,
        elements,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args.get(1).map_or(Ok(1_000_000), |s| s.parse())?;
    let net = args.get(2).is_none_or(|s| s == "net");
    let changes: usize = args.get(3).map_or(Ok(5), |s| s.parse())?;
    let batch: usize = std::env::var("BATCH").map_or(Ok(1_000_000), |s| s.parse())?;
    let opts = SyncOpts {
        batch_elements: batch,
    };
    let (fam, table) = (TableFamily::Inet, "rampart-bench");
    let empty = set(net, Vec::new());
    let rs = Ruleset {
        tables: vec![Table {
            family: fam,
            name: table.into(),
            sets: vec![empty.clone()],
            chains: Vec::new(),
        }],
    };
    rampart_sys::apply_replacing(&rs, &[(fam, table)])?;
    let c = Clock::start();
    // Distinct slots: the hash is a bijection modulo 2^22 for n < 2^22.
    let full = set(net, (0..n).map(|i| element(net, i)).collect());
    c.report("make elements");
    let c = Clock::start();
    let d = diff_set(fam, table, &empty, &full)?;
    let bs = batches(&[d], &opts, 1);
    let bytes: usize = bs.iter().map(|(b, _)| b.bytes().len()).sum();
    c.report(&format!(
        "diff + encode ({} batch(es), {bytes} B)",
        bs.len()
    ));
    let sock = Socket::open()?;
    let c = Clock::start();
    for (b, _) in &bs {
        sock.send_batch(b)?;
    }
    c.report(&format!(
        "kernel: load {n} {}",
        if net { "networks" } else { "addresses" }
    ));
    drop(bs);
    let mut plus = full.clone();
    plus.elements.push(element(net, n + 1));
    for k in 0..changes {
        for (what, a, b) in [("add one", &full, &plus), ("delete one", &plus, &full)] {
            let d = diff_set(fam, table, a, b)?;
            let bs = batches(&[d], &opts, 1000 + 2 * k as u32);
            let c = Clock::start();
            for (b, _) in &bs {
                sock.send_batch(b)?;
            }
            c.report(&format!("kernel: {what} ({} batch)", bs.len()));
        }
    }
    rampart_sys::apply_replacing(&Ruleset { tables: vec![] }, &[(fam, table)])?;
    Ok(())
}
