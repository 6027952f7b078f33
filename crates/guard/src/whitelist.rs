//! The whitelist: addresses no decision may ban. It always wins — over
//! jails, connection limits, prefix escalation and bans by hand.
//!
//! It is the union of localhost (always), the configured networks, the
//! current addresses of configured host names (resolved by the caller at
//! start and on refresh, then passed in), and dynamic groups the caller
//! keeps up to date (the host's own addresses, the admin SSH sessions).
//! Membership is a binary search in a merged interval set
//! ([`rampart_cidr::CidrSet`]); [`Whitelist::carve`] splits a network into
//! the CIDR networks that exclude every whitelisted address.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rampart_cidr::{CidrSet, Entry, IntervalSet};

use crate::net::{nets_of4, nets_of6, NetInterval};
use crate::{Error, Net};

/// Dynamic parts of the whitelist, kept up to date by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Group {
    /// The host's own addresses (fail2ban's `ignoreself`).
    SelfAddrs,
    /// Source addresses of the current admin SSH sessions.
    AdminSessions,
}

/// One whitelist (the global one, or a jail's own `ignoreip`).
#[derive(Debug, Clone, Default)]
pub struct Whitelist {
    nets: Vec<Net>,
    names: Vec<String>,
    resolved: BTreeMap<String, Vec<IpAddr>>,
    dynamic: BTreeMap<Group, Vec<IpAddr>>,
    localhost: bool,
    set: CidrSet,
}

impl Whitelist {
    /// From `ignoreip` entries: networks (fail2ban's `127.0.0.1/8` with
    /// host bits is accepted and masked, as fail2ban does), host names,
    /// several per entry separated by blanks or commas. `localhost` adds
    /// loopback. `place` names the key in errors.
    pub fn from_entries(
        entries: &[String],
        localhost: bool,
        place: &str,
    ) -> Result<Whitelist, Error> {
        let mut w = Whitelist {
            localhost,
            ..Whitelist::default()
        };
        for entry in entries {
            for word in entry.split(|c: char| c.is_whitespace() || c == ',') {
                if word.is_empty() {
                    continue;
                }
                if let Some(net) = parse_lenient(word) {
                    w.nets.push(net);
                } else if is_host_name(word) {
                    if word.eq_ignore_ascii_case("localhost") {
                        w.localhost = true;
                    } else {
                        w.names.push(word.to_ascii_lowercase());
                    }
                } else {
                    return Err(Error::Config {
                        place: place.to_string(),
                        message: format!(
                            "{word:?} is neither an address, a network nor a host name"
                        ),
                    });
                }
            }
        }
        w.rebuild();
        Ok(w)
    }

    /// Host names the caller should resolve and pass to
    /// [`Whitelist::set_resolved`].
    pub fn host_names(&self) -> &[String] {
        &self.names
    }

    /// The current addresses of a configured host name. Unknown names are
    /// ignored (returns false).
    pub fn set_resolved(&mut self, name: &str, addrs: &[IpAddr]) -> bool {
        let name = name.to_ascii_lowercase();
        if !self.names.contains(&name) {
            return false;
        }
        self.resolved.insert(name, addrs.to_vec());
        self.rebuild();
        true
    }

    pub fn set_group(&mut self, group: Group, addrs: &[IpAddr]) {
        self.dynamic.insert(group, addrs.to_vec());
        self.rebuild();
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        self.set.contains(crate::net::canonical(addr))
    }

    /// Whether any address of `net` is whitelisted.
    pub fn overlaps(&self, net: &Net) -> bool {
        match net.interval() {
            NetInterval::V4(iv) => !IntervalSet::from_intervals(vec![iv])
                .intersect(&self.set.v4)
                .is_empty(),
            NetInterval::V6(iv) => !IntervalSet::from_intervals(vec![iv])
                .intersect(&self.set.v6)
                .is_empty(),
        }
    }

    /// `net` minus every whitelisted address, as the fewest CIDR networks
    /// (in address order). `[net]` when nothing in it is whitelisted;
    /// empty when all of it is.
    pub fn carve(&self, net: &Net) -> Vec<Net> {
        match net.interval() {
            NetInterval::V4(iv) => IntervalSet::from_intervals(vec![iv])
                .subtract(&self.set.v4)
                .intervals()
                .iter()
                .flat_map(|iv| nets_of4(*iv))
                .collect(),
            NetInterval::V6(iv) => IntervalSet::from_intervals(vec![iv])
                .subtract(&self.set.v6)
                .intervals()
                .iter()
                .flat_map(|iv| nets_of6(*iv))
                .collect(),
        }
    }

    fn rebuild(&mut self) {
        let mut b = rampart_cidr::Builder::default();
        let mut push = |n: Net| {
            b.push(match n.interval() {
                NetInterval::V4(iv) => Entry::V4(iv),
                NetInterval::V6(iv) => Entry::V6(iv),
            })
        };
        if self.localhost {
            push(Net::containing(IpAddr::from([127, 0, 0, 0]), 8));
            push(Net::host(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])));
        }
        for n in &self.nets {
            push(*n);
        }
        for a in self
            .resolved
            .values()
            .chain(self.dynamic.values())
            .flatten()
        {
            push(Net::host(*a));
        }
        self.set = b.build();
    }
}

/// An address or network, host bits masked (fail2ban accepts
/// `127.0.0.1/8`).
fn parse_lenient(s: &str) -> Option<Net> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().ok()?;
    match len {
        None => Some(Net::host(addr)),
        Some(len) => Net::new(crate::net::canonical(addr), len),
    }
}

/// RFC 1123 host name characters, at least one letter (so `10.0.0.300` is
/// a bad address, not a name).
fn is_host_name(s: &str) -> bool {
    s.len() <= 253
        && s.bytes().any(|b| b.is_ascii_alphabetic())
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn n(s: &str) -> Net {
        s.parse().expect("net")
    }

    #[test]
    fn localhost_networks_names_and_groups() {
        let mut w = Whitelist::from_entries(
            &[
                "127.0.0.1/8 ::1, 192.0.2.0/24".into(),
                "Office.Example.com".into(),
            ],
            true,
            "ignoreip",
        )
        .expect("valid");
        assert!(w.contains(ip("127.1.2.3")) && w.contains(ip("::1")));
        assert!(w.contains(ip("192.0.2.9")) && !w.contains(ip("192.0.3.9")));
        assert_eq!(w.host_names(), ["office.example.com"]);
        assert!(!w.contains(ip("198.51.100.7")));
        assert!(w.set_resolved("office.example.com", &[ip("198.51.100.7")]));
        assert!(w.contains(ip("198.51.100.7")));
        assert!(!w.set_resolved("unknown.example", &[ip("203.0.113.1")]));
        w.set_group(Group::AdminSessions, &[ip("2001:db8::22")]);
        assert!(w.contains(ip("2001:db8::22")));
        assert!(w.contains(ip("::ffff:192.0.2.1")));
        // Refreshing a name replaces its addresses.
        w.set_resolved("office.example.com", &[]);
        assert!(!w.contains(ip("198.51.100.7")));
    }

    #[test]
    fn bad_entries_are_named() {
        let e = Whitelist::from_entries(&["10.0.0.300".into()], true, "jail sshd: ignoreip")
            .expect_err("bad")
            .to_string();
        assert!(
            e.contains("jail sshd: ignoreip") && e.contains("10.0.0.300"),
            "{e}"
        );
    }

    #[test]
    fn carve_splits_a_prefix_around_whitelisted_addresses() {
        let w = Whitelist::from_entries(&["10.0.0.77".into()], false, "w").expect("valid");
        let parts = w.carve(&n("10.0.0.0/24"));
        let text: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            text,
            [
                "10.0.0.0/26",
                "10.0.0.64/29",
                "10.0.0.72/30",
                "10.0.0.76",
                "10.0.0.78/31",
                "10.0.0.80/28",
                "10.0.0.96/27",
                "10.0.0.128/25"
            ]
        );
        assert!(parts.iter().all(|p| !p.contains(ip("10.0.0.77"))));
        assert_eq!(w.carve(&n("10.0.1.0/24")), [n("10.0.1.0/24")]);
        assert!(w.carve(&n("10.0.0.77")).is_empty());
        assert!(w.overlaps(&n("10.0.0.0/16")) && !w.overlaps(&n("10.0.1.0/24")));
    }
}
