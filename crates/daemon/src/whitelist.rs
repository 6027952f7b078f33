//! The dynamic parts of the whitelist, read from the host: its own
//! addresses (`/proc/net/fib_trie` local routes, `/proc/net/if_inet6`),
//! the source addresses of current admin SSH sessions (established TCP
//! connections to the local sshd port in `/proc/net/tcp` and
//! `/proc/net/tcp6`). The run loop refreshes them periodically and hands
//! them to the engine ([`rampart_guard::Engine::set_group`]); whitelisted
//! host names are resolved on the resolver threads ([`crate::resolve`])
//! and handed over with `set_resolved` when their answers come.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host's own addresses (both families), from `/proc` of the current
/// network namespace.
pub fn own_addresses() -> Vec<IpAddr> {
    let mut out = BTreeSet::new();
    if let Ok(t) = std::fs::read_to_string("/proc/net/fib_trie") {
        out.extend(local_v4_from_fib_trie(&t));
    }
    if let Ok(t) = std::fs::read_to_string("/proc/net/if_inet6") {
        out.extend(v6_from_if_inet6(&t));
    }
    out.into_iter().collect()
}

/// `/proc/net/fib_trie`: an address line (`|-- 10.0.0.1`) followed by
/// `/32 host LOCAL` is one of the host's addresses.
pub fn local_v4_from_fib_trie(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let t = line.trim_start_matches([' ', '|', '-', '+']).trim();
        if let Ok(a) = t.parse::<Ipv4Addr>() {
            last = Some(a);
        } else if t.starts_with("/32 host LOCAL") {
            if let Some(a) = last {
                out.push(IpAddr::V4(a));
            }
        }
    }
    out
}

/// `/proc/net/if_inet6`: 32 hex digits per line.
pub fn v6_from_if_inet6(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|h| u128::from_str_radix(h, 16).ok().filter(|_| h.len() == 32))
        .map(|v| IpAddr::V6(Ipv6Addr::from(v)))
        .collect()
}

/// Remote addresses of established TCP connections to local `port`
/// (the admin SSH sessions when `port` is sshd's).
pub fn sessions_to_port(port: u16) -> Vec<IpAddr> {
    let mut out = BTreeSet::new();
    for f in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(t) = std::fs::read_to_string(f) {
            out.extend(established_peers(&t, port));
        }
    }
    out.into_iter().collect()
}

fn hex_addr(h: &str) -> Option<IpAddr> {
    // The kernel prints each 32-bit word in host (little-endian) order.
    match h.len() {
        8 => u32::from_str_radix(h, 16)
            .ok()
            .map(|v| IpAddr::V4(Ipv4Addr::from(v.swap_bytes()))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                let w = u32::from_str_radix(h.get(i * 8..i * 8 + 8)?, 16).ok()?;
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            let a = Ipv6Addr::from(bytes);
            Some(match a.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(a),
            })
        }
        _ => None,
    }
}

/// Peers of `/proc/net/tcp{,6}` lines in state 01 (ESTABLISHED) whose
/// local port is `port`.
pub fn established_peers(text: &str, port: u16) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(remote), Some(state)) = (f.get(1), f.get(2), f.get(3)) else {
            continue;
        };
        if *state != "01" {
            continue;
        }
        let lport = local
            .rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
        if lport != Some(port) {
            continue;
        }
        if let Some(a) = remote.rsplit_once(':').and_then(|(a, _)| hex_addr(a)) {
            out.push(a);
        }
    }
    out
}

/// This host's name (for alert payloads): the kernel's hostname of the
/// namespace, `localhost` when it cannot be read.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_read() {
        let trie = "Local:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.0.1\n        /32 host LOCAL\n     |-- 10.0.0.255\n        /32 link BROADCAST\n";
        assert_eq!(
            local_v4_from_fib_trie(trie),
            vec![IpAddr::from([10, 0, 0, 1])]
        );
        let v6 = "00000000000000000000000000000001 01 80 10 80       lo\nfe800000000000000000000000000001 02 40 20 80 eth0\n";
        let got = v6_from_if_inet6(v6);
        assert_eq!(got[0], "::1".parse::<IpAddr>().expect("addr"));
        assert_eq!(got[1], "fe80::1".parse::<IpAddr>().expect("addr"));
        // 10.0.0.1:22 <- 10.0.0.2:40000 established; a listener; another port.
        let tcp = "  sl  local_address rem_address   st\n   0: 0100000A:0016 0200000A:9C40 01 0\n   1: 00000000:0016 00000000:0000 0A 0\n   2: 0100000A:0050 0300000A:9C40 01 0\n";
        assert_eq!(
            established_peers(tcp, 22),
            vec![IpAddr::from([10, 0, 0, 2])]
        );
        let tcp6 = "  sl local rem st\n   0: 00000000000000000000000001000000:0016 0000000000000000FFFF00000200000A:9C40 01 0\n   1: 000080FE000000000000000001000000:0016 B80D0120000000000000000007000000:9C40 01 0\n";
        assert_eq!(
            established_peers(tcp6, 22),
            vec![
                IpAddr::from([10, 0, 0, 2]),
                "2001:db8::7".parse::<IpAddr>().expect("addr")
            ]
        );
    }
}
