//! Property tests of the CIDR algebra against a brute-force reference: every
//! list lives inside one /24 (IPv4) or /120 (IPv6) block, so a set is a
//! bitset of 256 addresses. Blocks at the bottom and the top of the address
//! space are included to catch overflow at 0 and at the highest address.

use proptest::prelude::*;
use rampart_cidr::{Addr, CidrSet, Covering, Entry, Interval, IntervalSet};
use std::net::{Ipv4Addr, Ipv6Addr};

/// One list line inside the block, by offsets.
#[derive(Debug, Clone)]
enum Item {
    Host(u8),
    Net(u8, u8),
    Range(u8, u8),
}

impl Item {
    /// Offsets covered, inclusive.
    fn offsets(&self) -> (u8, u8) {
        match *self {
            Item::Host(a) => (a, a),
            Item::Net(a, len) => {
                let size = 1u16 << (8 - len);
                let lo = u16::from(a) & !(size - 1);
                (lo as u8, (lo + size - 1) as u8)
            }
            Item::Range(a, b) => (a.min(b), a.max(b)),
        }
    }
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        any::<u8>().prop_map(Item::Host),
        (any::<u8>(), 0u8..=8).prop_map(|(a, l)| Item::Net(a, l)),
        (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Item::Range(a, b)),
    ]
}

fn list() -> impl Strategy<Value = Vec<Item>> {
    prop::collection::vec(item(), 0..12)
}

type Bits = [bool; 256];

fn bits(items: &[Item]) -> Bits {
    let mut b = [false; 256];
    for it in items {
        let (lo, hi) = it.offsets();
        for x in lo..=hi {
            b[usize::from(x)] = true;
        }
    }
    b
}

/// A family under test: how to write a line and read a set back.
trait Fam: Addr {
    fn base(sel: u8) -> Self;
    fn at(base: Self, off: u8) -> Self;
    fn text(a: Self) -> String;
    fn set(s: &CidrSet) -> &IntervalSet<Self>;
    fn entry(e: Entry) -> Option<Interval<Self>>;
    fn off(base: Self, a: Self) -> Option<u8>;
}

impl Fam for u32 {
    fn base(sel: u8) -> u32 {
        [0, 0x0a00_0000, 0xffff_ff00][usize::from(sel % 3)]
    }
    fn at(base: u32, off: u8) -> u32 {
        base + u32::from(off)
    }
    fn text(a: u32) -> String {
        Ipv4Addr::from(a).to_string()
    }
    fn set(s: &CidrSet) -> &IntervalSet<u32> {
        &s.v4
    }
    fn entry(e: Entry) -> Option<Interval<u32>> {
        match e {
            Entry::V4(iv) => Some(iv),
            Entry::V6(_) => None,
        }
    }
    fn off(base: u32, a: u32) -> Option<u8> {
        u8::try_from(a.checked_sub(base)?).ok()
    }
}

impl Fam for u128 {
    fn base(sel: u8) -> u128 {
        [0, 0x2001_0db8u128 << 96, u128::MAX - 0xff][usize::from(sel % 3)]
    }
    fn at(base: u128, off: u8) -> u128 {
        base + u128::from(off)
    }
    fn text(a: u128) -> String {
        Ipv6Addr::from(a).to_string()
    }
    fn set(s: &CidrSet) -> &IntervalSet<u128> {
        &s.v6
    }
    fn entry(e: Entry) -> Option<Interval<u128>> {
        match e {
            Entry::V6(iv) => Some(iv),
            Entry::V4(_) => None,
        }
    }
    fn off(base: u128, a: u128) -> Option<u8> {
        u8::try_from(a.checked_sub(base)?).ok()
    }
}

fn render<A: Fam>(base: A, items: &[Item]) -> String {
    let mut s = String::from("# generated\n");
    for it in items {
        match *it {
            Item::Host(a) => s.push_str(&A::text(A::at(base, a))),
            Item::Net(a, len) => {
                // Host bits left set on purpose: they are masked off.
                s.push_str(&format!(
                    "{}/{}",
                    A::text(A::at(base, a)),
                    A::BITS - 8 + len
                ));
            }
            Item::Range(a, b) => {
                let (lo, hi) = (a.min(b), a.max(b));
                s.push_str(&format!(
                    "{} - {}",
                    A::text(A::at(base, lo)),
                    A::text(A::at(base, hi))
                ));
            }
        }
        s.push('\n');
    }
    s
}

fn parse<A: Fam>(base: A, items: &[Item]) -> IntervalSet<A> {
    let (set, errors) = CidrSet::from_text(&render(base, items));
    assert!(errors.is_empty(), "{errors:?}");
    A::set(&set).clone()
}

/// The set as a bitset over the block; fails if it holds anything outside.
fn to_bits<A: Fam>(base: A, s: &IntervalSet<A>) -> Bits {
    let mut b = [false; 256];
    let mut n = 0u128;
    for iv in s.intervals() {
        let lo = A::off(base, iv.lo()).expect("inside the block");
        let hi = A::off(base, iv.hi()).expect("inside the block");
        for x in lo..=hi {
            b[usize::from(x)] = true;
        }
        n += iv.span() + 1;
    }
    assert_eq!(Some(n), s.count());
    b
}

/// Minimal number of prefixes covering exactly the set bits of an aligned
/// block of 2^k offsets starting at `lo`.
fn min_prefixes(b: &Bits, lo: usize, k: u32) -> usize {
    let block = &b[lo..lo + (1 << k)];
    if block.iter().all(|&x| x) {
        1
    } else if !block.iter().any(|&x| x) {
        0
    } else {
        min_prefixes(b, lo, k - 1) + min_prefixes(b, lo + (1 << (k - 1)), k - 1)
    }
}

fn check_canonical<A: Fam>(base: A, s: &IntervalSet<A>, want: &Bits) {
    assert_eq!(&to_bits(base, s), want);
    // Sorted, disjoint, non-adjacent.
    for w in s.intervals().windows(2) {
        assert!(w[0].hi().succ().expect("not the last address") < w[1].lo());
    }
    // Membership by binary search.
    for off in 0..=255u8 {
        assert_eq!(s.contains(A::at(base, off)), want[usize::from(off)]);
    }
    // The prefixes are disjoint, in order, cover exactly the set, and are
    // as few as possible.
    let prefixes: Vec<_> = s.prefixes().collect();
    let mut b = [false; 256];
    let mut last: Option<A> = None;
    for p in &prefixes {
        let iv = p.interval();
        assert_eq!(iv.lo(), p.addr, "prefix aligned");
        if let Some(l) = last {
            assert!(l < iv.lo(), "disjoint and ordered");
        }
        last = Some(iv.hi());
        for x in A::off(base, iv.lo()).expect("in")..=A::off(base, iv.hi()).expect("in") {
            b[usize::from(x)] = true;
        }
    }
    assert_eq!(&b, want);
    assert_eq!(prefixes.len(), min_prefixes(want, 0, 8));
    assert_eq!(prefixes.len(), s.prefix_count());
}

fn zip(a: &Bits, b: &Bits, f: impl Fn(bool, bool) -> bool) -> Bits {
    let mut out = [false; 256];
    for i in 0..256 {
        out[i] = f(a[i], b[i]);
    }
    out
}

fn algebra<A: Fam>(sel: u8, xs: &[Item], ys: &[Item]) {
    let base = A::base(sel);
    let (a, b) = (parse(base, xs), parse(base, ys));
    let (ra, rb) = (bits(xs), bits(ys));
    check_canonical(base, &a, &ra);
    check_canonical(base, &b, &rb);
    check_canonical(base, &a.union(&b), &zip(&ra, &rb, |x, y| x || y));
    check_canonical(base, &a.intersect(&b), &zip(&ra, &rb, |x, y| x && y));
    check_canonical(base, &a.subtract(&b), &zip(&ra, &rb, |x, y| x && !y));
    check_canonical(base, &b.subtract(&a), &zip(&ra, &rb, |x, y| y && !x));
    // Subtracting the complement is intersecting.
    assert_eq!(a.subtract(&b.complement()), a.intersect(&b));
}

fn covering<A: Fam>(sel: u8, xs: &[Item]) {
    let base = A::base(sel);
    let mut entries = Vec::new();
    let _ = rampart_cidr::read_list(render(base, xs).as_bytes(), |line, r| {
        let e = r.expect("generated lines parse");
        entries.push((A::entry(e).expect("one family"), line));
    });
    let idx = Covering::new(entries.clone());
    for off in 0..=255u8 {
        let a = A::at(base, off);
        let want = entries
            .iter()
            .filter(|(iv, _)| iv.contains(a))
            .min_by_key(|(iv, line)| (iv.span(), *line))
            .copied();
        assert_eq!(idx.most_specific(a), want, "offset {off}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn ipv4_algebra_matches_bitsets(sel in 0u8..3, xs in list(), ys in list()) {
        algebra::<u32>(sel, &xs, &ys);
    }

    #[test]
    fn ipv6_algebra_matches_bitsets(sel in 0u8..3, xs in list(), ys in list()) {
        algebra::<u128>(sel, &xs, &ys);
    }

    #[test]
    fn ipv4_covering_is_the_most_specific_entry(sel in 0u8..3, xs in list()) {
        covering::<u32>(sel, &xs);
    }

    #[test]
    fn ipv6_covering_is_the_most_specific_entry(sel in 0u8..3, xs in list()) {
        covering::<u128>(sel, &xs);
    }

    #[test]
    fn parse_line_never_panics(s in "\\PC{0,40}") {
        let _ = rampart_cidr::parse_line(s.as_bytes());
    }

    #[test]
    fn parse_line_never_panics_on_address_like_text(s in "[0-9a-f:./ \\-#;]{0,40}") {
        let _ = rampart_cidr::parse_line(s.as_bytes());
    }
}

proptest! {
    // Big lists are slow to check in debug builds: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn aggregate_of_many_entries_uses_the_radix_sort(sel in 0u8..3, xs in prop::collection::vec(item(), 5000..6000)) {
        let base = <u32 as Fam>::base(sel);
        check_canonical(base, &parse(base, &xs), &bits(&xs));
    }
}

#[test]
fn whole_spaces_and_edges() {
    let (s, e) = CidrSet::from_text("0.0.0.0/0\n::/0\n");
    assert!(e.is_empty());
    assert_eq!(s.v4.count(), Some(1 << 32));
    assert_eq!(s.v6.count(), None);
    assert!(s.v6.subtract(&s.v6).is_empty());
    let (top, _) = CidrSet::from_text("255.255.255.255\nffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n");
    let p4: Vec<String> =
        s.v4.subtract(&top.v4)
            .prefixes()
            .map(|p| p.to_string())
            .collect();
    assert_eq!(p4.len(), 32);
    assert_eq!(p4[0], "0.0.0.0/1");
    assert_eq!(p4[31], "255.255.255.254");
    assert_eq!(s.v6.subtract(&top.v6).prefix_count(), 128);
}
