//! Set membership: the reference scans the elements in order; the
//! classifier builds hash tables per prefix length (O(1) per length,
//! longest prefix first) for the common one-dimension address sets and
//! hash tables for address+port sets.

use rampart_model::set::{ElemPart, IpSet, SetKind};
use rampart_model::Policy;
use std::collections::HashMap;
use std::net::IpAddr;

/// One dimension of a lookup key taken from the packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyPart {
    Addr(IpAddr),
    Port { proto: u8, port: u16 },
    Mac(Option<rampart_model::MacAddr>),
    Iface(Option<String>),
    Mark(u32),
}

/// Result of a lookup: the most specific element found, and whether it
/// is a `nomatch` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    No,
    Yes,
    NoMatch,
    /// A dimension the packet does not give (a MAC address not known).
    Unknown,
}

/// How an engine looks sets up.
pub(crate) trait SetIndex: std::fmt::Debug {
    /// Lookup in the static elements of `set`.
    fn lookup(&self, set: &IpSet, key: &[KeyPart]) -> Found;
}

/// The reference: every element in order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Linear;

impl SetIndex for Linear {
    fn lookup(&self, set: &IpSet, key: &[KeyPart]) -> Found {
        linear(set.elements.iter().map(|e| (&e.parts[..], e.nomatch)), key)
    }
}

/// Scans elements; the most specific match decides (ipset's order for
/// `nomatch`): the one with the longest prefixes.
pub(crate) fn linear<'a>(
    elems: impl Iterator<Item = (&'a [ElemPart], bool)>,
    key: &[KeyPart],
) -> Found {
    let mut best: Option<(u32, bool)> = None;
    for (parts, nomatch) in elems {
        match elem_matches(parts, key) {
            Some(Some(spec)) if best.is_none_or(|(s, _)| spec > s) => {
                best = Some((spec, nomatch));
            }
            Some(Some(_)) => {}
            Some(None) => return Found::Unknown,
            None => {}
        }
    }
    match best {
        None => Found::No,
        Some((_, false)) => Found::Yes,
        Some((_, true)) => Found::NoMatch,
    }
}

/// `None`: no match; `Some(None)`: cannot tell; `Some(Some(n))`: match
/// with specificity `n` (sum of prefix lengths).
fn elem_matches(parts: &[ElemPart], key: &[KeyPart]) -> Option<Option<u32>> {
    if parts.len() != key.len() {
        return None;
    }
    let mut spec = 0u32;
    for (p, k) in parts.iter().zip(key) {
        match (p, k) {
            (ElemPart::Net(n), KeyPart::Addr(a)) => {
                if !n.contains(*a) {
                    return None;
                }
                spec += u32::from(n.prefix_len().unwrap_or(n.width()));
            }
            (ElemPart::Range(lo, hi), KeyPart::Addr(a)) => {
                let r = rampart_model::matches::iprange::AddrRange {
                    first: *lo,
                    last: *hi,
                };
                if !r.contains(*a) {
                    return None;
                }
                spec += if a.is_ipv4() { 32 } else { 128 };
            }
            (ElemPart::Port { proto, first, last }, KeyPart::Port { proto: pp, port }) => {
                if proto.unwrap_or(6) != *pp || !(*first..=*last).contains(port) {
                    return None;
                }
            }
            (ElemPart::Mac(m), KeyPart::Mac(km)) => match km {
                Some(km) if km == m => {}
                Some(_) => return None,
                None => return Some(None),
            },
            (ElemPart::Iface(i), KeyPart::Iface(ki)) => match ki {
                Some(ki) if rampart_model::Iface(i.clone()).matches(ki) => {}
                Some(_) => return None,
                None => return Some(None),
            },
            (ElemPart::Mark(m), KeyPart::Mark(km)) => {
                if m != km {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(Some(spec))
}

/// Hash tables per set, built once by the classifier.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    sets: HashMap<String, CSet>,
}

#[derive(Debug)]
enum CSet {
    /// One address dimension: per prefix length (longest first), masked
    /// address → nomatch flag; ranges scanned.
    Addr {
        v4: Vec<(u8, HashMap<u32, bool>)>,
        v6: Vec<(u8, HashMap<u128, bool>)>,
        ranges: Vec<(IpAddr, IpAddr, bool)>,
    },
    /// Address + port with host addresses and single ports only.
    AddrPort(HashMap<(IpAddr, u8, u16), bool>),
    /// Anything else: the reference scan.
    Other,
}

impl Compiled {
    pub fn new(policy: &Policy) -> Compiled {
        let sets = policy
            .sets
            .iter()
            .map(|s| (s.name.clone(), CSet::build(s)))
            .collect();
        Compiled { sets }
    }
}

impl CSet {
    fn build(s: &IpSet) -> CSet {
        match s.kind {
            SetKind::HashIp | SetKind::HashNet | SetKind::BitmapIp => {
                let mut v4: HashMap<u8, HashMap<u32, bool>> = HashMap::new();
                let mut v6: HashMap<u8, HashMap<u128, bool>> = HashMap::new();
                let mut ranges = Vec::new();
                for e in &s.elements {
                    match e.parts.as_slice() {
                        [ElemPart::Net(n)] => {
                            let Some(len) = n.prefix_len() else {
                                return CSet::Other;
                            };
                            match n.addr() {
                                IpAddr::V4(a) => {
                                    v4.entry(len).or_default().insert(u32::from(a), e.nomatch);
                                }
                                IpAddr::V6(a) => {
                                    v6.entry(len).or_default().insert(u128::from(a), e.nomatch);
                                }
                            }
                        }
                        [ElemPart::Range(a, b)] => ranges.push((*a, *b, e.nomatch)),
                        _ => return CSet::Other,
                    }
                }
                if !ranges.is_empty() && s.elements.iter().any(|e| e.nomatch) {
                    return CSet::Other;
                }
                let mut v4: Vec<_> = v4.into_iter().collect();
                v4.sort_by_key(|e| std::cmp::Reverse(e.0));
                let mut v6: Vec<_> = v6.into_iter().collect();
                v6.sort_by_key(|e| std::cmp::Reverse(e.0));
                CSet::Addr { v4, v6, ranges }
            }
            SetKind::HashIpPort => {
                let mut m = HashMap::new();
                for e in &s.elements {
                    match e.parts.as_slice() {
                        [ElemPart::Net(n), ElemPart::Port { proto, first, last }]
                            if n.is_host() && first == last && !e.nomatch =>
                        {
                            m.insert((n.addr(), proto.unwrap_or(6), *first), false);
                        }
                        _ => return CSet::Other,
                    }
                }
                CSet::AddrPort(m)
            }
            _ => CSet::Other,
        }
    }
}

impl SetIndex for Compiled {
    fn lookup(&self, set: &IpSet, key: &[KeyPart]) -> Found {
        let found = |nomatch: bool| if nomatch { Found::NoMatch } else { Found::Yes };
        match (self.sets.get(&set.name), key) {
            (Some(CSet::Addr { v4, v6, ranges }), [KeyPart::Addr(a)]) => {
                match a {
                    IpAddr::V4(a) => {
                        let x = u32::from(*a);
                        for (len, m) in v4 {
                            let masked =
                                x & u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
                            if let Some(&nm) = m.get(&masked) {
                                return found(nm);
                            }
                        }
                    }
                    IpAddr::V6(a) => {
                        let x = u128::from(*a);
                        for (len, m) in v6 {
                            let masked =
                                x & u128::MAX.checked_shl(128 - u32::from(*len)).unwrap_or(0);
                            if let Some(&nm) = m.get(&masked) {
                                return found(nm);
                            }
                        }
                    }
                }
                let r = ranges.iter().any(|(lo, hi, _)| {
                    rampart_model::matches::iprange::AddrRange {
                        first: *lo,
                        last: *hi,
                    }
                    .contains(*a)
                });
                if r {
                    Found::Yes
                } else {
                    Found::No
                }
            }
            (Some(CSet::AddrPort(m)), [KeyPart::Addr(a), KeyPart::Port { proto, port }]) => {
                match m.get(&(*a, *proto, *port)) {
                    Some(&nm) => found(nm),
                    None => Found::No,
                }
            }
            _ => Linear.lookup(set, key),
        }
    }
}
