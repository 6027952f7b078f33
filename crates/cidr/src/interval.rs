//! Sets of addresses as sorted, merged vectors of inclusive intervals, the
//! set operations as linear merges, and the interval → prefix decomposition.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An address width the algebra works over: `u32` (IPv4) or `u128` (IPv6).
///
/// Sealed: only the two address widths implement it.
pub trait Addr:
    Copy + Ord + Eq + std::hash::Hash + fmt::Debug + Default + private::Sealed + 'static
{
    /// Width in bits (32 or 128).
    const BITS: u8;
    /// The highest address.
    const MAX: Self;
    /// The lowest address.
    const ZERO: Self;
    /// `self + 1`, `None` at [`Addr::MAX`].
    fn succ(self) -> Option<Self>;
    /// `self - 1`, `None` at zero.
    fn pred(self) -> Option<Self>;
    /// `hi - lo` as u128 (the caller guarantees `lo <= hi`).
    fn span(lo: Self, hi: Self) -> u128;
    /// Number of trailing zero bits (`BITS` for zero).
    fn trailing_zeros(self) -> u32;
    /// `self + 2^bits - 1`, the last address of the block of size `2^bits`
    /// starting at an address aligned to it.
    fn block_end(self, bits: u32) -> Self;
    /// The network mask of a prefix length.
    fn mask(len: u8) -> Self;
    /// Bitwise `self & mask`.
    fn and(self, mask: Self) -> Self;
    /// Bitwise `self | !mask`.
    fn or_not(self, mask: Self) -> Self;
}

mod private {
    pub trait Sealed {}
    impl Sealed for u32 {}
    impl Sealed for u128 {}
}

macro_rules! impl_addr {
    ($t:ty, $bits:expr) => {
        impl Addr for $t {
            const BITS: u8 = $bits;
            const MAX: Self = <$t>::MAX;
            const ZERO: Self = 0;
            fn succ(self) -> Option<Self> {
                self.checked_add(1)
            }
            fn pred(self) -> Option<Self> {
                self.checked_sub(1)
            }
            fn span(lo: Self, hi: Self) -> u128 {
                u128::from(hi - lo)
            }
            fn trailing_zeros(self) -> u32 {
                <$t>::trailing_zeros(self)
            }
            fn block_end(self, bits: u32) -> Self {
                self | (<$t>::MAX.checked_shr(<$t>::BITS - bits).unwrap_or(0))
            }
            fn mask(len: u8) -> Self {
                <$t>::MAX
                    .checked_shl(<$t>::BITS - u32::from(len))
                    .unwrap_or(0)
            }
            fn and(self, mask: Self) -> Self {
                self & mask
            }
            fn or_not(self, mask: Self) -> Self {
                self | !mask
            }
        }
    };
}
impl_addr!(u32, 32);
impl_addr!(u128, 128);

/// An inclusive interval of addresses, `lo <= hi` (enforced by [`Interval::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Interval<A> {
    lo: A,
    hi: A,
}

impl<A: Addr> Interval<A> {
    /// The interval `lo..=hi`; `None` when `lo > hi`.
    pub fn new(lo: A, hi: A) -> Option<Self> {
        (lo <= hi).then_some(Interval { lo, hi })
    }

    /// One address.
    pub fn single(a: A) -> Self {
        Interval { lo: a, hi: a }
    }

    /// The network `addr/len` (host bits are masked off, as the kernel does);
    /// `None` when `len` is longer than the family.
    pub fn prefix(addr: A, len: u8) -> Option<Self> {
        (len <= A::BITS).then(|| {
            let m = A::mask(len);
            Interval {
                lo: addr.and(m),
                hi: addr.or_not(m),
            }
        })
    }

    pub fn lo(&self) -> A {
        self.lo
    }

    pub fn hi(&self) -> A {
        self.hi
    }

    pub fn contains(&self, a: A) -> bool {
        self.lo <= a && a <= self.hi
    }

    /// The number of addresses minus one (`hi - lo`; fits even for the
    /// whole IPv6 space).
    pub fn span(&self) -> u128 {
        A::span(self.lo, self.hi)
    }

    /// The prefix length when the interval is exactly one CIDR network.
    pub fn as_prefix(&self) -> Option<u8> {
        let mut it = Prefixes::new(*self);
        let first = it.next()?;
        it.next().is_none().then_some(first.len)
    }
}

/// A CIDR network `addr/len`, `addr` aligned to the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix<A> {
    pub addr: A,
    pub len: u8,
}

impl<A: Addr> Prefix<A> {
    pub fn interval(&self) -> Interval<A> {
        // The constructor of every Prefix guarantees len <= BITS.
        Interval::prefix(self.addr, self.len).unwrap_or(Interval::single(self.addr))
    }
}

/// Writes `a.b.c.d/len` (or `a.b.c.d` for a `/32` host, as iprange and
/// blocklists do) without going through `fmt`: the hot path of printing
/// millions of prefixes.
pub fn write_v4(p: Prefix<u32>, out: &mut Vec<u8>) {
    let o = p.addr.to_be_bytes();
    for (i, b) in o.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_dec(out, u32::from(*b));
    }
    if p.len != 32 {
        out.push(b'/');
        push_dec(out, u32::from(p.len));
    }
    out.push(b'\n');
}

fn push_dec(out: &mut Vec<u8>, v: u32) {
    if v >= 100 {
        out.push(b'0' + (v / 100 % 10) as u8);
    }
    if v >= 10 {
        out.push(b'0' + (v / 10 % 10) as u8);
    }
    out.push(b'0' + (v % 10) as u8);
}

impl fmt::Display for Prefix<u32> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Ipv4Addr::from(self.addr))?;
        if self.len != 32 {
            write!(f, "/{}", self.len)?;
        }
        Ok(())
    }
}

impl fmt::Display for Prefix<u128> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Ipv6Addr::from(self.addr))?;
        if self.len != 128 {
            write!(f, "/{}", self.len)?;
        }
        Ok(())
    }
}

impl fmt::Display for Interval<u32> {
    /// A prefix when the interval is one, else `lo-hi`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_prefix() {
            Some(len) => Prefix { addr: self.lo, len }.fmt(f),
            None => write!(f, "{}-{}", Ipv4Addr::from(self.lo), Ipv4Addr::from(self.hi)),
        }
    }
}

impl fmt::Display for Interval<u128> {
    /// A prefix when the interval is one, else `lo-hi`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_prefix() {
            Some(len) => Prefix { addr: self.lo, len }.fmt(f),
            None => write!(f, "{}-{}", Ipv6Addr::from(self.lo), Ipv6Addr::from(self.hi)),
        }
    }
}

/// The minimal list of CIDR prefixes that covers an interval exactly, in
/// address order (greedy: the largest aligned block at each step).
#[derive(Debug, Clone)]
pub struct Prefixes<A> {
    next: Option<Interval<A>>,
}

impl<A: Addr> Prefixes<A> {
    pub fn new(iv: Interval<A>) -> Self {
        Prefixes { next: Some(iv) }
    }
}

impl<A: Addr> Iterator for Prefixes<A> {
    type Item = Prefix<A>;

    fn next(&mut self) -> Option<Prefix<A>> {
        let Interval { lo, hi } = self.next?;
        let bits = u32::from(A::BITS);
        // Largest block that fits: log2(hi - lo + 1), the whole space when
        // hi - lo + 1 overflows.
        let span = A::span(lo, hi);
        let fit = match span.checked_add(1) {
            Some(n) => n.ilog2(),
            None => 128,
        };
        let size_bits = lo.trailing_zeros().min(fit).min(bits);
        let end = lo.block_end(size_bits);
        self.next = end
            .succ()
            .filter(|_| end < hi)
            .map(|n| Interval { lo: n, hi });
        let len = u8::try_from(bits - size_bits).unwrap_or(A::BITS);
        Some(Prefix { addr: lo, len })
    }
}

/// A set of addresses of one family: sorted, disjoint, non-adjacent
/// intervals. Every constructor and operation keeps that invariant, so two
/// equal sets have equal representations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct IntervalSet<A> {
    ivs: Vec<Interval<A>>,
}

impl<A: Addr> IntervalSet<A> {
    /// The empty set.
    pub fn new() -> Self {
        IntervalSet { ivs: Vec::new() }
    }

    /// Aggregates any list of intervals (unsorted, overlapping, adjacent):
    /// sort, then merge. O(n log n); IPv4 lists are radix sorted.
    pub fn from_intervals(mut ivs: Vec<Interval<A>>) -> Self {
        sort_intervals(&mut ivs);
        // Merge in place: `w` intervals of the result are in `ivs[..w]`.
        let mut w = 0usize;
        for i in 0..ivs.len() {
            let iv = ivs[i];
            if w > 0 {
                let last = &mut ivs[w - 1];
                // Overlapping or adjacent: extend.
                if last.hi.succ().is_none_or(|n| iv.lo <= n) {
                    if iv.hi > last.hi {
                        last.hi = iv.hi;
                    }
                    continue;
                }
            }
            ivs[w] = iv;
            w += 1;
        }
        ivs.truncate(w);
        ivs.shrink_to_fit();
        IntervalSet { ivs }
    }

    /// The intervals, sorted, disjoint and non-adjacent.
    pub fn intervals(&self) -> &[Interval<A>] {
        &self.ivs
    }

    pub fn is_empty(&self) -> bool {
        self.ivs.is_empty()
    }

    /// Is the address in the set? Binary search, O(log n).
    pub fn contains(&self, a: A) -> bool {
        self.find(a).is_some()
    }

    /// The interval holding the address.
    pub fn find(&self, a: A) -> Option<Interval<A>> {
        // First interval whose hi >= a.
        let i = self.ivs.partition_point(|iv| iv.hi < a);
        self.ivs.get(i).filter(|iv| iv.lo <= a).copied()
    }

    /// Number of addresses; `None` only for the whole IPv6 space (2^128
    /// does not fit in a u128).
    pub fn count(&self) -> Option<u128> {
        self.ivs
            .iter()
            .try_fold(0u128, |acc, iv| acc.checked_add(iv.span())?.checked_add(1))
    }

    /// The minimal list of CIDR prefixes with the same addresses, in order.
    pub fn prefixes(&self) -> impl Iterator<Item = Prefix<A>> + '_ {
        self.ivs.iter().flat_map(|iv| Prefixes::new(*iv))
    }

    /// Number of prefixes [`IntervalSet::prefixes`] yields.
    pub fn prefix_count(&self) -> usize {
        self.ivs.iter().map(|iv| Prefixes::new(*iv).count()).sum()
    }

    /// Addresses in either set. Linear merge.
    pub fn union(&self, other: &Self) -> Self {
        let mut out: Vec<Interval<A>> = Vec::with_capacity(self.ivs.len() + other.ivs.len());
        let (mut i, mut j) = (0, 0);
        while i < self.ivs.len() || j < other.ivs.len() {
            let take_a = match (self.ivs.get(i), other.ivs.get(j)) {
                (Some(a), Some(b)) => a.lo <= b.lo,
                (Some(_), None) => true,
                _ => false,
            };
            let iv = if take_a {
                i += 1;
                self.ivs[i - 1]
            } else {
                j += 1;
                other.ivs[j - 1]
            };
            match out.last_mut() {
                Some(last) if last.hi.succ().is_none_or(|n| iv.lo <= n) => {
                    if iv.hi > last.hi {
                        last.hi = iv.hi;
                    }
                }
                _ => out.push(iv),
            }
        }
        IntervalSet { ivs: out }
    }

    /// Addresses in both sets. Linear merge.
    pub fn intersect(&self, other: &Self) -> Self {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while let (Some(a), Some(b)) = (self.ivs.get(i), other.ivs.get(j)) {
            let lo = a.lo.max(b.lo);
            let hi = a.hi.min(b.hi);
            if lo <= hi {
                out.push(Interval { lo, hi });
            }
            if a.hi < b.hi {
                i += 1;
            } else {
                j += 1;
            }
        }
        IntervalSet { ivs: out }
    }

    /// Addresses in `self` and not in `other`. Linear merge.
    pub fn subtract(&self, other: &Self) -> Self {
        let mut out = Vec::with_capacity(self.ivs.len());
        let mut j = 0;
        for a in &self.ivs {
            let mut lo = a.lo;
            // Skip holes that end before this interval.
            while other.ivs.get(j).is_some_and(|b| b.hi < lo) {
                j += 1;
            }
            let mut k = j;
            let mut done = false;
            while let Some(b) = other.ivs.get(k) {
                if b.lo > a.hi {
                    break;
                }
                if b.lo > lo {
                    // b.lo > lo, so b.lo has a predecessor.
                    if let Some(p) = b.lo.pred() {
                        out.push(Interval { lo, hi: p });
                    }
                }
                match b.hi.succ() {
                    Some(n) if b.hi < a.hi => lo = n,
                    _ => {
                        done = true;
                        break;
                    }
                }
                k += 1;
            }
            if !done {
                out.push(Interval { lo, hi: a.hi });
            }
            // Holes before k end inside this interval; hole k (if any) may
            // reach into the next one.
            j = k;
        }
        IntervalSet { ivs: out }
    }

    /// Every address not in the set.
    pub fn complement(&self) -> Self {
        IntervalSet {
            ivs: vec![Interval {
                lo: A::ZERO,
                hi: A::MAX,
            }],
        }
        .subtract(self)
    }
}

impl<A: Addr> FromIterator<Interval<A>> for IntervalSet<A> {
    fn from_iter<I: IntoIterator<Item = Interval<A>>>(iter: I) -> Self {
        Self::from_intervals(iter.into_iter().collect())
    }
}

/// Sorts intervals by their first address: LSD radix sort for IPv4 (three
/// passes of 11 bits), the standard unstable sort for IPv6. Lists that are
/// already sorted (most published lists) cost one linear check.
fn sort_intervals<A: Addr>(ivs: &mut Vec<Interval<A>>) {
    if ivs.is_sorted_by_key(|iv| iv.lo) {
        return;
    }
    if A::BITS == 32 && ivs.len() > 4096 {
        radix_sort_v4(ivs);
    } else {
        ivs.sort_unstable_by_key(|iv| iv.lo);
    }
}

fn radix_sort_v4<A: Addr>(ivs: &mut Vec<Interval<A>>) {
    const DIGIT: u32 = 11;
    const BUCKETS: usize = 1 << DIGIT;
    let key = |iv: &Interval<A>| -> u32 {
        // A::BITS == 32 here, so the span from zero fits a u32.
        u32::try_from(A::span(A::ZERO, iv.lo)).unwrap_or(u32::MAX)
    };
    let mut tmp: Vec<Interval<A>> = vec![Interval::default(); ivs.len()];
    let mut src = std::mem::take(ivs);
    for pass in 0..3u32 {
        let shift = pass * DIGIT;
        let mut counts = [0usize; BUCKETS];
        for iv in &src {
            counts[((key(iv) >> shift) as usize) & (BUCKETS - 1)] += 1;
        }
        // All keys share this digit: nothing to do for this pass.
        if counts.contains(&src.len()) {
            continue;
        }
        let mut pos = 0usize;
        for c in counts.iter_mut() {
            let n = *c;
            *c = pos;
            pos += n;
        }
        for iv in &src {
            let d = ((key(iv) >> shift) as usize) & (BUCKETS - 1);
            tmp[counts[d]] = *iv;
            counts[d] += 1;
        }
        std::mem::swap(&mut src, &mut tmp);
    }
    *ivs = src;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(lo: u32, hi: u32) -> Interval<u32> {
        Interval::new(lo, hi).expect("lo <= hi")
    }

    #[test]
    fn prefixes_of_whole_spaces() {
        let all4 = Prefixes::new(iv(0, u32::MAX)).collect::<Vec<_>>();
        assert_eq!(all4, vec![Prefix { addr: 0, len: 0 }]);
        let all6 =
            Prefixes::new(Interval::<u128>::new(0, u128::MAX).expect("ok")).collect::<Vec<_>>();
        assert_eq!(all6, vec![Prefix { addr: 0, len: 0 }]);
        let top = Prefixes::new(iv(u32::MAX, u32::MAX)).collect::<Vec<_>>();
        assert_eq!(
            top,
            vec![Prefix {
                addr: u32::MAX,
                len: 32
            }]
        );
    }

    #[test]
    fn prefixes_of_a_range() {
        // 10.0.0.1 - 10.0.0.9 = .1/32 .2/31 .4/30 .8/31
        let p: Vec<String> = Prefixes::new(iv(0x0a00_0001, 0x0a00_0009))
            .map(|p| p.to_string())
            .collect();
        assert_eq!(p, ["10.0.0.1", "10.0.0.2/31", "10.0.0.4/30", "10.0.0.8/31"]);
    }

    #[test]
    fn count_of_whole_v6_space_is_none() {
        let s = IntervalSet::<u128>::new().complement();
        assert_eq!(s.count(), None);
        assert_eq!(
            IntervalSet::<u32>::new().complement().count(),
            Some(1 << 32)
        );
    }

    #[test]
    fn radix_sort_matches_std_sort() {
        let mut x: u32 = 12345;
        let mut v: Vec<Interval<u32>> = (0..10_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                iv(x, x)
            })
            .collect();
        let mut w = v.clone();
        radix_sort_v4(&mut v);
        w.sort_by_key(|iv| iv.lo);
        assert_eq!(v, w);
    }

    #[test]
    fn subtract_hole_spanning_two_intervals() {
        let a = IntervalSet::from_intervals(vec![iv(0, 10), iv(20, 30)]);
        let b = IntervalSet::from_intervals(vec![iv(5, 25)]);
        assert_eq!(a.subtract(&b).intervals(), &[iv(0, 4), iv(26, 30)]);
    }
}
