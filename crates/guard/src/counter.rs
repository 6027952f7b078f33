//! Counting live connections for the connection limits: per source
//! address, per source prefix (/24, IPv6 /64), per source and destination
//! port, per destination port, and half-open (SYN_RECV) per source — what
//! `conntrack -L | awk ... | sort | uniq -c` computes for DDoS Deflate,
//! in one pass over a snapshot.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::conntrack::{ConnEntry, TcpState};
use crate::Net;

/// Counts over one conntrack snapshot.
#[derive(Debug, Clone, Default)]
pub struct ConnCounts {
    pub per_source: HashMap<IpAddr, u32>,
    pub per_prefix: HashMap<Net, u32>,
    pub per_source_port: HashMap<(IpAddr, u16), u32>,
    pub per_port: HashMap<u16, u32>,
    pub syn_recv: HashMap<IpAddr, u32>,
    /// Connections counted (after the port filter).
    pub total: u64,
    v4_len: u8,
    v6_len: u8,
    ports: Vec<u16>,
}

impl ConnCounts {
    /// Empty counts grouping sources into `/v4_len` and `/v6_len`
    /// prefixes; with `ports` non-empty only connections to those
    /// destination ports count (CSF's CT_PORTS).
    pub fn new(v4_len: u8, v6_len: u8, ports: &[u16]) -> ConnCounts {
        let mut ports = ports.to_vec();
        ports.sort_unstable();
        ConnCounts {
            v4_len,
            v6_len,
            ports,
            ..ConnCounts::default()
        }
    }

    /// Counts every entry of a snapshot.
    pub fn from_entries<'a>(
        v4_len: u8,
        v6_len: u8,
        ports: &[u16],
        entries: impl IntoIterator<Item = &'a ConnEntry>,
    ) -> ConnCounts {
        let mut c = ConnCounts::new(v4_len, v6_len, ports);
        for e in entries {
            c.add(e);
        }
        c
    }

    pub fn add(&mut self, e: &ConnEntry) {
        let counted = match e.dport {
            _ if self.ports.is_empty() => true,
            Some(p) => self.ports.binary_search(&p).is_ok(),
            None => false,
        };
        if !counted {
            return;
        }
        self.total += 1;
        *self.per_source.entry(e.src).or_default() += 1;
        let len = if e.src.is_ipv4() {
            self.v4_len
        } else {
            self.v6_len
        };
        *self
            .per_prefix
            .entry(Net::containing(e.src, len))
            .or_default() += 1;
        if let Some(p) = e.dport {
            *self.per_source_port.entry((e.src, p)).or_default() += 1;
            *self.per_port.entry(p).or_default() += 1;
        }
        if e.state == Some(TcpState::SynRecv) {
            *self.syn_recv.entry(e.src).or_default() += 1;
        }
    }
}

/// Connections per source address only: the `sort | uniq -c` comparison.
pub fn count_sources<'a>(entries: impl IntoIterator<Item = &'a ConnEntry>) -> HashMap<IpAddr, u32> {
    let mut m: HashMap<IpAddr, u32> = HashMap::new();
    for e in entries {
        *m.entry(e.src).or_default() += 1;
    }
    m
}

/// Connections per source address of a whole text dump, parsed and
/// counted as it streams (no list of entries is built); bad lines are
/// counted, not fatal. Splits the dump at line boundaries over `threads`
/// threads and merges their counts.
pub fn count_dump_sources(text: &[u8], threads: usize) -> (HashMap<IpAddr, u32>, usize) {
    let threads = threads.max(1);
    let mut chunks = Vec::with_capacity(threads);
    let mut start = 0;
    for k in 1..=threads {
        let mut end = if k == threads {
            text.len()
        } else {
            text.len() * k / threads
        };
        while end < text.len() && text[end] != b'\n' {
            end += 1;
        }
        let end = end.max(start);
        chunks.push(&text[start..end]);
        start = end;
    }
    let results: Vec<(HashMap<IpAddr, u32>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| s.spawn(move || count_chunk(c)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut it = results.into_iter();
    let (mut total, mut bad) = it.next().unwrap_or_default();
    for (m, b) in it {
        bad += b;
        for (a, n) in m {
            *total.entry(a).or_default() += n;
        }
    }
    (total, bad)
}

fn count_chunk(text: &[u8]) -> (HashMap<IpAddr, u32>, usize) {
    let mut m: HashMap<IpAddr, u32> = HashMap::new();
    let mut bad = 0;
    for line in text.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) || line.starts_with(b"conntrack v") {
            continue;
        }
        match crate::conntrack::parse_line(line) {
            Ok(e) => *m.entry(e.src).or_default() += 1,
            Err(_) => bad += 1,
        }
    }
    (m, bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::parse_dump;

    #[test]
    fn counts_by_source_prefix_port_and_syn_recv() {
        let dump = b"\
tcp 6 59 SYN_RECV src=192.0.2.1 dst=10.0.0.1 sport=1 dport=80 src=10.0.0.1 dst=192.0.2.1 sport=80 dport=1
tcp 6 59 SYN_RECV src=192.0.2.1 dst=10.0.0.1 sport=2 dport=80 src=10.0.0.1 dst=192.0.2.1 sport=80 dport=2
tcp 6 300 ESTABLISHED src=192.0.2.2 dst=10.0.0.1 sport=3 dport=443 src=10.0.0.1 dst=192.0.2.2 sport=443 dport=3
udp 17 30 src=2001:db8::1 dst=2001:db8::ff sport=5 dport=53 src=2001:db8::ff dst=2001:db8::1 sport=53 dport=5
udp 17 30 src=2001:db8::2 dst=2001:db8::ff sport=5 dport=53 src=2001:db8::ff dst=2001:db8::2 sport=53 dport=5
";
        let (entries, bad) = parse_dump(dump);
        assert!(bad.is_empty());
        let c = ConnCounts::from_entries(24, 64, &[], &entries);
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let net = |s: &str| s.parse::<Net>().expect("net");
        assert_eq!(c.total, 5);
        assert_eq!(c.per_source[&ip("192.0.2.1")], 2);
        assert_eq!(c.per_prefix[&net("192.0.2.0/24")], 3);
        assert_eq!(c.per_prefix[&net("2001:db8::/64")], 2);
        assert_eq!(c.per_source_port[&(ip("192.0.2.1"), 80)], 2);
        assert_eq!(c.per_port[&53], 2);
        assert_eq!(c.syn_recv[&ip("192.0.2.1")], 2);
        assert!(!c.syn_recv.contains_key(&ip("192.0.2.2")));
        let only_web = ConnCounts::from_entries(24, 64, &[443, 80], &entries);
        assert_eq!(only_web.total, 3);
        assert_eq!(count_sources(&entries)[&ip("192.0.2.1")], 2);
        for threads in 1..5 {
            let (m, bad) = count_dump_sources(dump, threads);
            assert_eq!((m, bad), (count_sources(&entries), 0), "{threads} threads");
        }
    }
}
