//! The netlink side of `bench/conncount.sh`, in the current network
//! namespace:
//!
//! ```text
//! ctcount fill START COUNT   create entries START..START+COUNT (IPCTNL_MSG_CT_NEW batches)
//! ctcount count              dump over netlink, count per source, print `COUNT ADDRESS` lines
//! ctcount table              the daemon's path: ConntrackSource dump into its table, then ConnCounts
//! ```
//!
//! Entry `i` has a unique original tuple (destination and source port
//! derived from `i`) and a source drawn as the text generator does: a few
//! heavy sources, a long IPv4 tail, an IPv6 tail; TCP in several states
//! and UDP.

use rampart_daemon::conntrack::{ConntrackConfig, ConntrackSource};
use rampart_sys::ctnetlink::{tcp_state, CtEntry, CtFamily, CtSocket};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

/// splitmix64: a fixed pseudo-random value per index.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn entry(i: u64) -> CtEntry {
    let r = mix(i);
    let pick = r % 100;
    let src: IpAddr = if pick < 20 {
        Ipv4Addr::new(203, 0, 113, 1 + (r >> 8) as u8 % 39).into()
    } else if pick < 90 {
        let k = (r >> 8) % 60_000;
        let h = mix(k + 1_000_000);
        Ipv4Addr::new(
            1 + (h % 223) as u8,
            (h >> 8) as u8,
            (h >> 16) as u8,
            1 + (h >> 24) as u8 % 254,
        )
        .into()
    } else {
        let k = (r >> 8) % 10_000;
        let h = mix(k + 2_000_000);
        Ipv6Addr::new(
            0x2001,
            0xdb8,
            h as u16,
            (h >> 16) as u16,
            0,
            0,
            0,
            1 + (h >> 32) as u16 % 0xfffe,
        )
        .into()
    };
    let slot = i / 60_000;
    let dst: IpAddr = if src.is_ipv4() {
        Ipv4Addr::new(10, (slot >> 8) as u8, slot as u8, 1).into()
    } else {
        Ipv6Addr::new(
            0x2001,
            0xdb8,
            0xffff,
            0,
            0,
            0,
            (slot >> 16) as u16,
            slot as u16,
        )
        .into()
    };
    let sport = 1024 + (i % 60_000) as u16;
    let states = [
        tcp_state::ESTABLISHED,
        tcp_state::ESTABLISHED,
        tcp_state::ESTABLISHED,
        tcp_state::SYN_RECV,
        tcp_state::TIME_WAIT,
        tcp_state::FIN_WAIT,
    ];
    let k = (r >> 40) % 8;
    let mut e = CtEntry::tcp(
        std::net::SocketAddr::new(src, sport),
        std::net::SocketAddr::new(dst, [80, 443, 22, 25][(r >> 50) as usize % 4]),
        states[k as usize % states.len()],
    );
    if k >= 6 {
        e.proto = 17;
        e.tcp_state = None;
        e.dport = Some(53);
    }
    e
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |i: usize| -> u64 {
        args.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| fail("expected START and COUNT numbers"))
    };
    match args.get(1).map(String::as_str) {
        Some("fill") => {
            let (start, count) = (num(2), num(3));
            let entries: Vec<CtEntry> = (start..start + count).map(entry).collect();
            let t = Instant::now();
            let mut sock = CtSocket::open().unwrap_or_else(|e| fail(&e.to_string()));
            let (refused, errno) = sock
                .create(&entries, 7200)
                .unwrap_or_else(|e| fail(&e.to_string()));
            eprintln!(
                "created {} of {count} entries in {:.2} s{}",
                count - refused,
                t.elapsed().as_secs_f64(),
                errno.map_or(String::new(), |e| format!(
                    " (refused: {}, first: {})",
                    refused,
                    std::io::Error::from_raw_os_error(e)
                ))
            );
        }
        Some("count") => {
            let t = Instant::now();
            let mut sock = CtSocket::open().unwrap_or_else(|e| fail(&e.to_string()));
            let mut m: HashMap<IpAddr, u32> = HashMap::new();
            let st = sock
                .dump(CtFamily::Both, |e| *m.entry(e.src).or_default() += 1)
                .unwrap_or_else(|e| fail(&e.to_string()));
            let took = t.elapsed();
            print_counts(&m);
            eprintln!(
                "dumped and counted {} entries ({} sources, {} bad) in {:.3} s",
                st.entries,
                m.len(),
                st.bad,
                took.as_secs_f64()
            );
        }
        Some("table") => {
            let t = Instant::now();
            let src = ConntrackSource::open(&ConntrackConfig {
                events: false,
                ..ConntrackConfig::default()
            })
            .unwrap_or_else(|e| fail(&e.to_string()));
            let dumped = t.elapsed();
            let c = src.counts(24, 64, &[]);
            eprintln!(
                "daemon path: dump into the live table {:.3} s, ConnCounts {:.3} s ({} entries, {} sources)",
                dumped.as_secs_f64(),
                (t.elapsed() - dumped).as_secs_f64(),
                src.table().len(),
                c.per_source.len()
            );
            print_counts(&c.per_source);
        }
        _ => fail("usage: ctcount fill START COUNT | count | table"),
    }
}

fn print_counts(m: &HashMap<IpAddr, u32>) {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (a, n) in m {
        let _ = writeln!(out, "{n:7} {a}");
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("ctcount: {msg}");
    std::process::exit(2)
}
