//! Set membership: the reference scans the elements in order; the
//! classifier turns the common one-address sets into disjoint interval
//! vectors ([`Intervals`]: for IPv4 one /20 table entry and a few 16-bit
//! words per lookup) and address+port sets into hash tables.

use rampart_model::set::{ElemPart, IpSet, SetKind};
use rampart_model::Policy;
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

/// Lookup structures per set, built once by the classifier.
#[derive(Debug, Default)]
pub(crate) struct Compiled {
    by_name: crate::classifier::FxMap<String, usize>,
    sets: Vec<CSet>,
}

impl Compiled {
    pub fn new(policy: &Policy) -> Compiled {
        let mut c = Compiled::default();
        for s in &policy.sets {
            // The first set of a name is the one the policy's `set()` finds.
            if !c.by_name.contains_key(&s.name) {
                c.by_name.insert(s.name.clone(), c.sets.len());
                c.sets.push(CSet::build(s));
            }
        }
        c
    }

    /// The index of a one-address set compiled to interval vectors (what
    /// [`Compiled::addr`] looks up), `None` for any other set.
    pub fn addr_set(&self, name: &str) -> Option<usize> {
        let i = *self.by_name.get(name)?;
        matches!(self.sets[i], CSet::Addr { .. }).then_some(i)
    }

    /// Looks an address up in set `i` of [`Compiled::addr_set`]: [`NO`],
    /// [`YES`] or [`NOMATCH`].
    #[inline]
    pub fn addr(&self, i: usize, a: Addr) -> u8 {
        match (self.sets.get(i), a) {
            (Some(CSet::Addr { v4, .. }), Addr::V4(x)) => v4.lookup(x),
            (Some(CSet::Addr { v6, .. }), Addr::V6(x)) => v6.lookup(x),
            _ => NO,
        }
    }
}

impl Compiled {
    /// Reads the cache line [`Compiled::addr`] will read for `a` in set
    /// `i` when that set is large (its /20 buckets), so that a batch of
    /// packets waits for memory once rather than once per packet; the
    /// value read means nothing.
    #[inline]
    pub fn touch(&self, i: usize, a: Addr) -> u16 {
        match (self.sets.get(i), a) {
            (Some(CSet::Addr { v4, .. }), Addr::V4(x)) => match &v4.tier {
                Tier::Buckets(b) => b
                    .buckets
                    .get((x >> BUCKET_SHIFT) as usize)
                    .map_or(0, |w| w[1]),
                _ => 0,
            },
            _ => 0,
        }
    }

    /// Is set `i` stored as /20 buckets (large enough that a lookup is a
    /// cache miss)?
    pub fn is_large(&self, i: usize) -> bool {
        matches!(
            self.sets.get(i),
            Some(CSet::Addr {
                v4: Intervals {
                    tier: Tier::Buckets(_),
                    ..
                },
                ..
            })
        )
    }
}

/// An address as an integer, for the classifier's fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Addr {
    V4(u32),
    V6(u128),
}

/// A value of [`Intervals`]: not in the set, in it, or in a `nomatch`
/// element.
pub(crate) const NO: u8 = 0;
pub(crate) const YES: u8 = 1;
pub(crate) const NOMATCH: u8 = 2;

/// An address set as disjoint intervals covering the whole address
/// space: interval `i` is `[starts[i], starts[i + 1])` and answers
/// `vals[i]`. How a lookup finds the interval depends on the size (see
/// [`Tier`]); every tier answers as the sorted vectors would.
#[derive(Debug)]
pub(crate) struct Intervals<T> {
    starts: Vec<T>,
    vals: Vec<u8>,
    tier: Tier,
}

/// The lookup structure of an [`Intervals`].
#[derive(Debug)]
enum Tier {
    /// Up to [`SMALL`] boundaries: a branch-free count over the vector.
    Small,
    /// A binary search over the vector (IPv6 beyond [`SMALL`]).
    Search,
    /// IPv4 up to [`LARGE`] boundaries: per block of the address space
    /// (about as many blocks as boundaries, at most 2^16: 256 KiB), the
    /// index of its first boundary, then a binary search among the
    /// boundaries inside that block (usually one or two).
    Top { shift: u32, table: Vec<u32> },
    /// IPv4 from [`LARGE`] boundaries: one 16-byte bucket per /20 (16
    /// MiB, one cache line per lookup) holding the value at the bucket's
    /// start and up to seven boundaries inline; a bucket with more
    /// points into `low` (see [`Buckets`]).
    Buckets(Box<Buckets>),
}

/// Boundaries up to which [`Tier::Small`] is used.
const SMALL: usize = 16;
/// Boundaries from which [`Tier::Buckets`] is used (below, the block table
/// and the vectors take less memory than the 16 MiB of buckets).
const LARGE: usize = 1 << 19;

/// The /20 buckets of [`Tier::Buckets`]. A bucket is eight 16-bit words:
/// word 0 is the value at the bucket's first address (low two bits) and
/// the overflow flag ([`OVERFLOW`]); words 1..8 are boundaries inside the
/// bucket as `offset << 2 | value` in increasing order, unused ones
/// `0xffff` (above every offset). An overflowing bucket keeps its
/// boundaries in `low` (same encoding): words 1 and 2 are the start
/// (low, high half), word 3 the count.
#[derive(Debug)]
struct Buckets {
    buckets: Vec<[u16; 8]>,
    low: Vec<u16>,
}

const BUCKET_SHIFT: u32 = 12;
const OVERFLOW: u16 = 0x8000;

/// An address as an integer key of [`Intervals`].
pub(crate) trait Key: Copy + Ord + std::fmt::Debug {
    const ZERO: Self;
    const MAX: Self;
    fn succ(self) -> Self;
}

impl Key for u32 {
    const ZERO: u32 = 0;
    const MAX: u32 = u32::MAX;
    fn succ(self) -> u32 {
        self.wrapping_add(1)
    }
}

impl Key for u128 {
    const ZERO: u128 = 0;
    const MAX: u128 = u128::MAX;
    fn succ(self) -> u128 {
        self.wrapping_add(1)
    }
}

impl<T: Key> Intervals<T> {
    /// From disjoint or nested prefixes `(first, last, nomatch)` (any two
    /// are either disjoint or one contains the other): the innermost one
    /// decides, and of equal ones the first listed (the reference's
    /// order).
    pub(crate) fn nested(mut prefixes: Vec<(T, T, bool)>) -> Intervals<T> {
        // Outer before inner; stable, so equal prefixes keep their order.
        prefixes.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut out: Vec<(T, u8)> = vec![(T::ZERO, NO)];
        let mut stack: Vec<(T, T, u8)> = Vec::new();
        let pop_until = |stack: &mut Vec<(T, T, u8)>, out: &mut Vec<(T, u8)>, s: Option<T>| {
            while let Some(&(_, e, _)) = stack.last() {
                if s.is_some_and(|s| e >= s) {
                    break;
                }
                stack.pop();
                if e != T::MAX {
                    out.push((e.succ(), stack.last().map_or(NO, |t| t.2)));
                }
            }
        };
        for (s, e, nm) in prefixes {
            pop_until(&mut stack, &mut out, Some(s));
            if stack.last().is_some_and(|t| t.0 == s && t.1 == e) {
                continue;
            }
            let v = if nm { NOMATCH } else { YES };
            out.push((s, v));
            stack.push((s, e, v));
        }
        pop_until(&mut stack, &mut out, None);
        Intervals::from_bounds(out)
    }

    /// From any ranges `(first, last)`, all answering yes.
    pub(crate) fn union(mut ranges: Vec<(T, T)>) -> Intervals<T> {
        ranges.sort();
        let mut out: Vec<(T, u8)> = vec![(T::ZERO, NO)];
        let mut cur: Option<(T, T)> = None;
        for (s, e) in ranges {
            if s > e {
                continue;
            }
            match &mut cur {
                Some((_, ce)) if *ce == T::MAX || s <= ce.succ() => *ce = (*ce).max(e),
                _ => {
                    if let Some((cs, ce)) = cur {
                        out.push((cs, YES));
                        if ce != T::MAX {
                            out.push((ce.succ(), NO));
                        }
                    }
                    cur = Some((s, e));
                }
            }
        }
        if let Some((cs, ce)) = cur {
            out.push((cs, YES));
            if ce != T::MAX {
                out.push((ce.succ(), NO));
            }
        }
        Intervals::from_bounds(out)
    }

    /// Boundaries in order (non-decreasing; at an equal boundary the last
    /// value wins).
    fn from_bounds(out: Vec<(T, u8)>) -> Intervals<T> {
        let mut starts: Vec<T> = Vec::with_capacity(out.len());
        let mut vals: Vec<u8> = Vec::with_capacity(out.len());
        for (b, v) in out {
            if starts.last() == Some(&b) {
                if let Some(l) = vals.last_mut() {
                    *l = v;
                }
                // A value equal to the one before: merge.
                let n = vals.len();
                if n >= 2 && vals[n - 2] == vals[n - 1] {
                    starts.pop();
                    vals.pop();
                }
            } else if vals.last() != Some(&v) {
                starts.push(b);
                vals.push(v);
            }
        }
        let tier = if starts.len() <= SMALL {
            Tier::Small
        } else {
            Tier::Search
        };
        Intervals { starts, vals, tier }
    }

    /// The value of the interval holding `x` among `starts[lo..hi]`,
    /// knowing `starts[lo] <= x` or `lo == 0`.
    #[inline]
    fn search(&self, x: T, lo: usize, hi: usize) -> u8 {
        let n = lo + crate::fast::count_le(&self.starts[lo..hi], x);
        // `starts[0]` is zero, so `n >= 1`.
        self.vals[n.saturating_sub(1)]
    }

    #[inline]
    fn small(&self, x: T) -> u8 {
        // Branch-free: count the boundaries at or below `x`.
        let n = self
            .starts
            .iter()
            .map(|s| usize::from(*s <= x))
            .sum::<usize>();
        self.vals[n.saturating_sub(1)]
    }
}

impl Intervals<u128> {
    #[inline]
    pub(crate) fn lookup(&self, x: u128) -> u8 {
        match self.tier {
            Tier::Small => self.small(x),
            _ => self.search(x, 0, self.starts.len()),
        }
    }
}

impl Intervals<u32> {
    /// Chooses the IPv4 tier by size: [`Tier::Small`], [`Tier::Top`]
    /// or [`Tier::Buckets`].
    pub(crate) fn indexed(self) -> Intervals<u32> {
        let n = self.starts.len();
        if n <= SMALL {
            self
        } else if n < LARGE {
            let bits = usize::BITS - n.leading_zeros();
            self.with_top(bits.clamp(4, 16))
        } else {
            self.with_buckets()
        }
    }

    /// [`Tier::Top`] with `2^bits` blocks (1 to 32 bits), whatever the
    /// size.
    pub(crate) fn with_top(mut self, bits: u32) -> Intervals<u32> {
        let bits = bits.clamp(1, 32);
        let shift = 32 - bits;
        let mut table = Vec::with_capacity((1 << bits) + 1);
        let mut i = 0usize;
        for k in 0..=(1u64 << bits) {
            let b = k << shift;
            while i < self.starts.len() && u64::from(self.starts[i]) < b {
                i += 1;
            }
            table.push(i as u32);
        }
        self.tier = Tier::Top { shift, table };
        self
    }

    /// [`Tier::Buckets`] whatever the size (the vectors are dropped:
    /// every lookup goes through the buckets).
    pub(crate) fn with_buckets(mut self) -> Intervals<u32> {
        let count = 1usize << (32 - BUCKET_SHIFT);
        let mut buckets = Vec::with_capacity(count);
        let mut low: Vec<u16> = Vec::new();
        let mut n = 0usize;
        for k in 0..count as u32 {
            let b = k << BUCKET_SHIFT;
            // Boundaries up to the bucket's first address set its value.
            while n < self.starts.len() && self.starts[n] <= b {
                n += 1;
            }
            let init = u16::from(self.vals[n.saturating_sub(1)]);
            let end = b | ((1 << BUCKET_SHIFT) - 1);
            let first = n;
            while n < self.starts.len() && self.starts[n] <= end {
                n += 1;
            }
            let word = |i: usize| ((self.starts[i] - b) as u16) << 2 | u16::from(self.vals[i]);
            let mut bucket = [0xffff_u16; 8];
            bucket[0] = init;
            if n - first <= 7 {
                for (slot, i) in bucket[1..].iter_mut().zip(first..n) {
                    *slot = word(i);
                }
            } else {
                let at = low.len() as u32;
                bucket[0] |= OVERFLOW;
                bucket[1] = at as u16;
                bucket[2] = (at >> 16) as u16;
                bucket[3] = (n - first) as u16;
                low.extend((first..n).map(word));
            }
            buckets.push(bucket);
        }
        self.starts = Vec::new();
        self.vals = Vec::new();
        self.tier = Tier::Buckets(Box::new(Buckets { buckets, low }));
        self
    }

    #[inline]
    pub(crate) fn lookup(&self, x: u32) -> u8 {
        match &self.tier {
            Tier::Buckets(b) => b.lookup(x),
            Tier::Top { shift, table } => {
                let k = (u64::from(x) >> shift) as usize;
                match (table.get(k), table.get(k + 1)) {
                    (Some(&lo), Some(&hi)) => {
                        // The boundary before the /16 holds its start.
                        let lo = (lo as usize).saturating_sub(1);
                        self.search(x, lo, hi as usize)
                    }
                    _ => self.search(x, 0, self.starts.len()),
                }
            }
            Tier::Small => self.small(x),
            Tier::Search => self.search(x, 0, self.starts.len()),
        }
    }
}

impl Buckets {
    #[inline]
    fn lookup(&self, x: u32) -> u8 {
        let Some(b) = self.buckets.get((x >> BUCKET_SHIFT) as usize) else {
            return NO;
        };
        // A word at or below `at` is a boundary at or below `x`.
        let at = (((x & ((1 << BUCKET_SHIFT) - 1)) << 2) | 3) as u16;
        let mut v = b[0] & 3;
        if b[0] & OVERFLOW == 0 {
            for &w in &b[1..] {
                // Compiles to conditional moves: no branch per word.
                v = if w <= at { w & 3 } else { v };
            }
        } else {
            let start = usize::from(b[1]) | usize::from(b[2]) << 16;
            let words = self
                .low
                .get(start..start + usize::from(b[3]))
                .unwrap_or(&[]);
            let n = words.partition_point(|w| *w <= at);
            if n > 0 {
                v = words[n - 1] & 3;
            }
        }
        v as u8
    }
}

#[derive(Debug)]
enum CSet {
    /// One address dimension as interval vectors (see [`Intervals`]).
    Addr {
        v4: Intervals<u32>,
        v6: Intervals<u128>,
    },
    /// Address + port with host addresses and single ports only.
    AddrPort(crate::classifier::FxMap<(IpAddr, u8, u16), bool>),
    /// Anything else: the reference scan.
    Other,
}

impl CSet {
    fn build(s: &IpSet) -> CSet {
        match s.kind {
            SetKind::HashIp | SetKind::HashNet | SetKind::BitmapIp => {
                let mut v4 = Vec::new();
                let mut v6 = Vec::new();
                let mut ranged = false;
                for e in &s.elements {
                    match e.parts.as_slice() {
                        [ElemPart::Net(n)] => {
                            let Some(len) = n.prefix_len() else {
                                return CSet::Other;
                            };
                            match n.addr() {
                                IpAddr::V4(a) => {
                                    let m = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                                    let a = u32::from(a) & m;
                                    v4.push((a, a | !m, e.nomatch));
                                }
                                IpAddr::V6(a) => {
                                    let m =
                                        u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                                    let a = u128::from(a) & m;
                                    v6.push((a, a | !m, e.nomatch));
                                }
                            }
                        }
                        [ElemPart::Range(IpAddr::V4(a), IpAddr::V4(b))] => {
                            ranged = true;
                            v4.push((u32::from(*a), u32::from(*b), e.nomatch));
                        }
                        [ElemPart::Range(IpAddr::V6(a), IpAddr::V6(b))] => {
                            ranged = true;
                            v6.push((u128::from(*a), u128::from(*b), e.nomatch));
                        }
                        // A range mixing families matches nothing.
                        [ElemPart::Range(_, _)] => {}
                        _ => return CSet::Other,
                    }
                }
                if s.elements.iter().any(|e| e.nomatch) {
                    if ranged {
                        // Ranges overlap prefixes arbitrarily: scan.
                        return CSet::Other;
                    }
                    CSet::Addr {
                        v4: Intervals::nested(v4).indexed(),
                        v6: Intervals::nested(v6),
                    }
                } else {
                    let strip = |v: Vec<(u32, u32, bool)>| v.into_iter().map(|(a, b, _)| (a, b));
                    CSet::Addr {
                        v4: Intervals::union(strip(v4).collect()).indexed(),
                        v6: Intervals::union(v6.into_iter().map(|(a, b, _)| (a, b)).collect()),
                    }
                }
            }
            SetKind::HashIpPort => {
                let mut m = crate::classifier::FxMap::default();
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
        let cset = self.by_name.get(&set.name).and_then(|&i| self.sets.get(i));
        match (cset, key) {
            (Some(CSet::Addr { v4, v6 }), [KeyPart::Addr(a)]) => {
                let v = match a {
                    IpAddr::V4(a) => v4.lookup(u32::from(*a)),
                    IpAddr::V6(a) => v6.lookup(u128::from(*a)),
                };
                match v {
                    NO => Found::No,
                    YES => Found::Yes,
                    _ => Found::NoMatch,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rampart_model::set::{SetElement, SetOptions};
    use rampart_model::IpNet;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// Addresses packed near a few places (so prefixes nest, touch and
    /// overlap), including both ends of the address space.
    fn v4(base: u8, low: u16) -> u32 {
        let b = [0u32, 0x0a00_0000, 0x0a00_1000, 0xffff_f000][usize::from(base % 4)];
        b | u32::from(low & 0x1fff)
    }

    fn set(elems: Vec<(ElemPart, bool)>) -> IpSet {
        IpSet {
            name: "s".into(),
            kind: SetKind::HashNet,
            family: None,
            timeout: None,
            options: SetOptions::default(),
            elements: elems
                .into_iter()
                .map(|(p, nomatch)| SetElement {
                    parts: vec![p],
                    timeout: None,
                    comment: None,
                    nomatch,
                })
                .collect(),
            origin: None,
        }
    }

    fn elem() -> impl Strategy<Value = ElemPart> {
        prop_oneof![
            4 => (any::<u8>(), any::<u16>(), prop_oneof![0u8..=32, 18u8..=32]).prop_map(
                |(b, l, len)| {
                    ElemPart::Net(
                        IpNet::new(IpAddr::V4(Ipv4Addr::from(v4(b, l))), len).expect("prefix"),
                    )
                }
            ),
            1 => (any::<u8>(), any::<u16>(), 100u8..=128).prop_map(|(b, l, len)| {
                let a = (u128::from(v4(b, l)) << 96) | 1;
                ElemPart::Net(IpNet::new(IpAddr::V6(Ipv6Addr::from(a)), len).expect("prefix"))
            }),
            1 => (any::<u8>(), any::<u16>(), any::<u16>()).prop_map(|(b, l, w)| {
                let a = v4(b, l);
                ElemPart::Range(
                    IpAddr::V4(Ipv4Addr::from(a)),
                    IpAddr::V4(Ipv4Addr::from(a.saturating_add(u32::from(w % 600)))),
                )
            }),
        ]
    }

    fn addr() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            4 => (any::<u8>(), any::<u16>()).prop_map(|(b, l)| IpAddr::V4(Ipv4Addr::from(v4(b, l)))),
            1 => any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
            1 => (any::<u8>(), any::<u16>(), any::<u8>()).prop_map(|(b, l, x)| {
                IpAddr::V6(Ipv6Addr::from((u128::from(v4(b, l)) << 96) | u128::from(x)))
            }),
        ]
    }

    proptest! {
        /// The interval vectors answer as the reference's scan of every
        /// element (most specific wins, nomatch, ranges, both ends of
        /// the address space, duplicates).
        #[test]
        fn intervals_match_the_scan(
            elems in proptest::collection::vec((elem(), any::<u8>()), 0..60),
            with_nomatch in any::<bool>(),
            addrs in proptest::collection::vec(addr(), 1..60),
        ) {
            let elems: Vec<(ElemPart, bool)> = elems
                .into_iter()
                .map(|(e, n)| (e, with_nomatch && n % 3 == 0))
                .collect();
            let s = set(elems);
            let c = Compiled {
                by_name: [("s".to_string(), 0)].into_iter().collect(),
                sets: vec![CSet::build(&s)],
            };
            for a in addrs {
                let key = [KeyPart::Addr(a)];
                prop_assert_eq!(c.lookup(&s, &key), Linear.lookup(&s, &key), "{}", a);
                // Each boundary of each element, and next to it.
                for e in &s.elements {
                    if let [ElemPart::Net(n)] = e.parts.as_slice() {
                        if let IpAddr::V4(x) = n.addr() {
                            for d in [0u32, 1, u32::MAX] {
                                let y = IpAddr::V4(Ipv4Addr::from(u32::from(x).wrapping_add(d)));
                                let key = [KeyPart::Addr(y)];
                                prop_assert_eq!(c.lookup(&s, &key), Linear.lookup(&s, &key), "{}", y);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Ranges packed near both ends of the IPv4 space and around a few
    /// /20 boundaries, so that buckets overflow and edges are hit.
    fn range_v4() -> impl Strategy<Value = (u32, u32)> {
        (any::<u8>(), any::<u16>(), 0u32..40).prop_map(|(b, l, w)| {
            let base =
                [0u32, 0x0a00_0ff0, 0x0a00_1000, 0xffff_f000, 0xffff_ffe0][usize::from(b % 5)];
            let a = base.saturating_add(u32::from(l % 0x1400));
            (a, a.saturating_add(w))
        })
    }

    /// The value the sorted vectors give (what every tier must answer).
    fn brute(ranges: &[(u32, u32)], x: u32) -> u8 {
        u8::from(ranges.iter().any(|&(a, b)| a <= b && a <= x && x <= b))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Every IPv4 tier (small, block table of any size, /20 buckets
        /// with and without overflow) answers as a scan of the ranges, at
        /// the edges 0.0.0.0 and 255.255.255.255, at each range's ends and
        /// next to them, and at random addresses.
        #[test]
        fn v4_tiers_match_brute_force(
            ranges in proptest::collection::vec(range_v4(), 0..300),
            probes in proptest::collection::vec(any::<u32>(), 0..50),
            bits in 1u32..20,
        ) {
            let mut xs: Vec<u32> = vec![0, 1, u32::MAX, u32::MAX - 1, 0x0a00_1000, 0x0a00_0fff];
            for &(a, b) in &ranges {
                xs.extend([a, b, a.wrapping_sub(1), b.wrapping_add(1)]);
            }
            xs.extend(probes);
            let tiers = [
                Intervals::union(ranges.clone()),
                Intervals::union(ranges.clone()).indexed(),
                Intervals::union(ranges.clone()).with_top(bits),
                Intervals::union(ranges.clone()).with_buckets(),
            ];
            for x in xs {
                let want = brute(&ranges, x);
                for (k, t) in tiers.iter().enumerate() {
                    prop_assert_eq!(t.lookup(x), want, "tier {} at {:#x}", k, x);
                }
            }
        }

        /// IPv6 intervals (small and searched) against a scan, with both
        /// ends of the address space.
        #[test]
        fn v6_intervals_match_brute_force(
            ranges in proptest::collection::vec((any::<u8>(), any::<u16>(), 0u128..50), 0..80),
            probes in proptest::collection::vec(any::<u128>(), 0..20),
        ) {
            let ranges: Vec<(u128, u128)> = ranges
                .into_iter()
                .map(|(b, l, w)| {
                    let base = [0u128, 0x2001_0db8 << 96, u128::MAX - 0xffff][usize::from(b % 3)];
                    let a = base.saturating_add(u128::from(l));
                    (a, a.saturating_add(w))
                })
                .collect();
            let t = Intervals::union(ranges.clone());
            let mut xs = vec![0u128, u128::MAX, 0x2001_0db8 << 96];
            for &(a, b) in &ranges {
                xs.extend([a, b, a.wrapping_sub(1), b.wrapping_add(1)]);
            }
            xs.extend(probes);
            for x in xs {
                let want = u8::from(ranges.iter().any(|&(a, b)| a <= x && x <= b));
                prop_assert_eq!(t.lookup(x), want, "{:#x}", x);
            }
        }
    }

    /// A /20 with more boundaries than a bucket holds, and the last /20 of
    /// the address space.
    #[test]
    fn overflowing_bucket() {
        let ranges: Vec<(u32, u32)> = (0..50u32)
            .map(|i| (0x0a00_0000 + 7 * i, 0x0a00_0000 + 7 * i + 2))
            .chain([(u32::MAX - 3, u32::MAX), (0, 0)])
            .collect();
        let t = Intervals::union(ranges.clone()).with_buckets();
        for x in (0x09ff_fff0..0x0a00_0200).chain([0, 1, u32::MAX, u32::MAX - 4]) {
            assert_eq!(t.lookup(x), brute(&ranges, x), "{x:#x}");
        }
    }

    #[test]
    fn nested_prefixes() {
        let i = Intervals::nested(vec![
            (0u32, u32::MAX, false),
            (10, 19, true),
            (12, 13, false),
            (12, 13, true),
            (20, 20, true),
        ])
        .indexed();
        let want = [
            (0, YES),
            (9, YES),
            (10, NOMATCH),
            (12, YES),
            (13, YES),
            (14, NOMATCH),
        ];
        for (x, v) in want {
            assert_eq!(i.lookup(x), v, "{x}");
        }
        assert_eq!(i.lookup(20), NOMATCH);
        assert_eq!(i.lookup(21), YES);
        assert_eq!(i.lookup(u32::MAX), YES);
    }
}
