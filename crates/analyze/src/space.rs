//! Header space: sets of packets as unions of cubes, a cube being a
//! product of one value set per header field.
//!
//! Every field is a sorted list of disjoint inclusive `u128` intervals over
//! the field's domain `0..=max` (an IPv4 address is a `u32` widened). A rule
//! of the policy becomes a few cubes; "is this rule covered by those" is a
//! cube subtraction that must end empty.

use std::fmt;

/// The header fields the analysis models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// Source address.
    Src = 0,
    /// Destination address.
    Dst = 1,
    /// IP protocol number.
    Proto = 2,
    /// Source port (TCP, UDP, ...).
    Sport = 3,
    /// Destination port.
    Dport = 4,
    /// ICMP / ICMPv6 `type << 8 | code`.
    Icmp = 5,
    /// Input interface, as an index into the policy's interface atoms.
    InIface = 6,
    /// Output interface, likewise.
    OutIface = 7,
    /// Conntrack state: `base * 4 + snat * 2 + dnat` (see [`ct_value`]).
    Ct = 8,
    /// 1 for a non-first fragment.
    Frag = 9,
    /// TCP flag byte.
    Flags = 10,
}

/// Number of fields of a cube.
pub const FIELDS: usize = 11;

impl Field {
    pub const ALL: [Field; FIELDS] = [
        Field::Src,
        Field::Dst,
        Field::Proto,
        Field::Sport,
        Field::Dport,
        Field::Icmp,
        Field::InIface,
        Field::OutIface,
        Field::Ct,
        Field::Frag,
        Field::Flags,
    ];
}

/// Base conntrack states in the order of [`ct_value`].
pub const CT_BASE: [&str; 5] = ["INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED"];

/// The value of the `Ct` field for a base state (index into [`CT_BASE`])
/// and the SNAT/DNAT status bits of the connection.
pub fn ct_value(base: usize, snat: bool, dnat: bool) -> u128 {
    (base as u128) * 4 + u128::from(snat) * 2 + u128::from(dnat)
}

/// A set of values of one field: sorted, disjoint, non-adjacent inclusive
/// intervals.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Values(Vec<(u128, u128)>);

impl fmt::Debug for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(a, b)| format!("{a}..={b}")))
            .finish()
    }
}

impl Values {
    /// No value.
    pub fn empty() -> Self {
        Values(Vec::new())
    }

    /// `lo..=hi` (empty when `lo > hi`).
    pub fn range(lo: u128, hi: u128) -> Self {
        if lo > hi {
            Values::empty()
        } else {
            Values(vec![(lo, hi)])
        }
    }

    pub fn single(v: u128) -> Self {
        Values(vec![(v, v)])
    }

    /// Any list of intervals, normalised.
    pub fn from_ranges(mut v: Vec<(u128, u128)>) -> Self {
        v.retain(|(a, b)| a <= b);
        v.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match out.last_mut() {
                Some(last) if last.1.checked_add(1).is_none_or(|n| a <= n) => {
                    last.1 = last.1.max(b);
                }
                _ => out.push((a, b)),
            }
        }
        Values(out)
    }

    pub fn ranges(&self) -> &[(u128, u128)] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, v: u128) -> bool {
        let i = self.0.partition_point(|&(_, hi)| hi < v);
        self.0.get(i).is_some_and(|&(lo, _)| lo <= v)
    }

    /// Is this every value of `0..=max`?
    pub fn is_full(&self, max: u128) -> bool {
        self.0 == [(0, max)]
    }

    pub fn intersect(&self, o: &Values) -> Values {
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while let (Some(&(a0, a1)), Some(&(b0, b1))) = (self.0.get(i), o.0.get(j)) {
            let lo = a0.max(b0);
            let hi = a1.min(b1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a1 < b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Values(out)
    }

    pub fn overlaps(&self, o: &Values) -> bool {
        let (mut i, mut j) = (0, 0);
        while let (Some(&(a0, a1)), Some(&(b0, b1))) = (self.0.get(i), o.0.get(j)) {
            if a0.max(b0) <= a1.min(b1) {
                return true;
            }
            if a1 < b1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        false
    }

    pub fn union(&self, o: &Values) -> Values {
        let mut v = self.0.clone();
        v.extend_from_slice(&o.0);
        Values::from_ranges(v)
    }

    /// Values of `self` not in `o`.
    pub fn subtract(&self, o: &Values) -> Values {
        let mut out = Vec::new();
        let mut j = 0;
        for &(a0, a1) in &self.0 {
            let mut lo = a0;
            let mut alive = true;
            while o.0.get(j).is_some_and(|&(_, b1)| b1 < lo) {
                j += 1;
            }
            let mut k = j;
            while let Some(&(b0, b1)) = o.0.get(k) {
                if b0 > a1 {
                    break;
                }
                if b0 > lo {
                    out.push((lo, b0 - 1));
                }
                if b1 >= a1 {
                    alive = false;
                    break;
                }
                lo = b1 + 1;
                k += 1;
            }
            if alive {
                out.push((lo, a1));
            }
            j = k;
        }
        Values(out)
    }

    pub fn is_subset(&self, o: &Values) -> bool {
        self.subtract(o).is_empty()
    }

    /// Every value of `0..=max` not in the set.
    pub fn complement(&self, max: u128) -> Values {
        Values::range(0, max).subtract(self)
    }
}

/// The domain (largest value) of each field, for one address family and
/// one policy (the interface atoms depend on the policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Domain {
    pub max: [u128; FIELDS],
}

impl Domain {
    /// `addr_max` is `u32::MAX` or `u128::MAX`; `ifaces` the number of
    /// interface atoms (at least 1).
    pub fn new(addr_max: u128, ifaces: usize) -> Self {
        let ifmax = ifaces.saturating_sub(1) as u128;
        Domain {
            max: [
                addr_max,
                addr_max,
                255,
                65535,
                65535,
                65535,
                ifmax,
                ifmax,
                ct_value(4, true, true),
                1,
                255,
            ],
        }
    }

    pub fn full(&self, f: Field) -> Values {
        Values::range(0, self.max[f as usize])
    }
}

/// A product of one value set per field. A cube with an empty field is
/// empty; constructors keep empty cubes out of [`Space`]s.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cube {
    pub fields: [Values; FIELDS],
}

impl fmt::Debug for Cube {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Cube");
        for (i, v) in self.fields.iter().enumerate() {
            d.field(&format!("{:?}", Field::ALL[i]), v);
        }
        d.finish()
    }
}

impl Cube {
    /// Every packet.
    pub fn full(d: &Domain) -> Cube {
        Cube {
            fields: std::array::from_fn(|i| Values::range(0, d.max[i])),
        }
    }

    pub fn get(&self, f: Field) -> &Values {
        &self.fields[f as usize]
    }

    pub fn set(&mut self, f: Field, v: Values) {
        self.fields[f as usize] = v;
    }

    /// Restricts one field (intersection).
    pub fn restrict(&mut self, f: Field, v: &Values) {
        let i = f as usize;
        self.fields[i] = self.fields[i].intersect(v);
    }

    pub fn is_empty(&self) -> bool {
        self.fields.iter().any(Values::is_empty)
    }

    /// Is every field full?
    pub fn is_full(&self, d: &Domain) -> bool {
        self.fields.iter().zip(d.max).all(|(v, max)| v.is_full(max))
    }

    pub fn overlaps(&self, o: &Cube) -> bool {
        self.fields
            .iter()
            .zip(&o.fields)
            .all(|(a, b)| a.overlaps(b))
    }

    pub fn intersect(&self, o: &Cube) -> Option<Cube> {
        let mut out = self.clone();
        for (a, b) in out.fields.iter_mut().zip(&o.fields) {
            *a = a.intersect(b);
            if a.is_empty() {
                return None;
            }
        }
        Some(out)
    }

    pub fn is_subset(&self, o: &Cube) -> bool {
        self.fields
            .iter()
            .zip(&o.fields)
            .all(|(a, b)| a.is_subset(b))
    }

    /// `self \ o` as at most [`FIELDS`] disjoint cubes.
    pub fn subtract(&self, o: &Cube, out: &mut Vec<Cube>) {
        if !self.overlaps(o) {
            out.push(self.clone());
            return;
        }
        let mut rest = self.clone();
        for i in 0..FIELDS {
            let outside = rest.fields[i].subtract(&o.fields[i]);
            if !outside.is_empty() {
                let mut c = rest.clone();
                c.fields[i] = outside;
                out.push(c);
            }
            rest.fields[i] = rest.fields[i].intersect(&o.fields[i]);
        }
    }
}

/// A union of cubes (not necessarily disjoint).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Space {
    pub cubes: Vec<Cube>,
}

/// A subtraction gave up: the result would need more cubes than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooComplex;

impl Space {
    /// Cubes one subtraction may leave before the analysis gives up (and
    /// reports nothing, which is always sound).
    pub const MAX_CUBES: usize = 4096;

    pub fn new(cubes: Vec<Cube>) -> Space {
        Space {
            cubes: cubes.into_iter().filter(|c| !c.is_empty()).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.cubes.is_empty()
    }

    pub fn overlaps_cube(&self, c: &Cube) -> bool {
        self.cubes.iter().any(|x| x.overlaps(c))
    }

    pub fn overlaps(&self, o: &Space) -> bool {
        o.cubes.iter().any(|c| self.overlaps_cube(c))
    }

    /// Removes the packets of `c`.
    pub fn subtract_cube(&mut self, c: &Cube) -> Result<(), TooComplex> {
        if !self.overlaps_cube(c) {
            return Ok(());
        }
        let mut out = Vec::with_capacity(self.cubes.len() + 4);
        for x in &self.cubes {
            x.subtract(c, &mut out);
            if out.len() > Self::MAX_CUBES {
                return Err(TooComplex);
            }
        }
        self.cubes = out;
        Ok(())
    }

    pub fn subtract(&mut self, o: &Space) -> Result<(), TooComplex> {
        for c in &o.cubes {
            self.subtract_cube(c)?;
            if self.is_empty() {
                break;
            }
        }
        Ok(())
    }

    /// The union of many spaces with cubes that differ only in their
    /// source addresses merged into one cube (a blocklist of ten thousand
    /// `-s ADDR -j DROP` rules becomes one cube), so that subtracting it
    /// costs one pass instead of one per rule.
    pub fn union_compact<'x>(spaces: impl IntoIterator<Item = &'x Space>) -> Space {
        let mut groups: std::collections::HashMap<Vec<Values>, Vec<(u128, u128)>> =
            std::collections::HashMap::new();
        let mut order: Vec<Vec<Values>> = Vec::new();
        for c in spaces.into_iter().flat_map(|s| &s.cubes) {
            let key: Vec<Values> = c.fields[1..].to_vec();
            let e = groups.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                Vec::new()
            });
            e.extend_from_slice(c.fields[0].ranges());
        }
        let cubes = order
            .into_iter()
            .filter_map(|key| {
                let src = Values::from_ranges(groups.remove(&key)?);
                let mut fields = vec![src];
                fields.extend(key);
                let fields: [Values; FIELDS] = fields.try_into().ok()?;
                Some(Cube { fields })
            })
            .collect();
        Space::new(cubes)
    }

    pub fn intersect(&self, o: &Space) -> Space {
        let mut out = Vec::new();
        for a in &self.cubes {
            for b in &o.cubes {
                if let Some(c) = a.intersect(b) {
                    out.push(c);
                }
            }
        }
        Space { cubes: out }
    }

    pub fn intersect_cube(&self, c: &Cube) -> Space {
        Space {
            cubes: self.cubes.iter().filter_map(|a| a.intersect(c)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(r: &[(u128, u128)]) -> Values {
        Values::from_ranges(r.to_vec())
    }

    #[test]
    fn values_algebra() {
        let a = v(&[(0, 10), (20, 30)]);
        let b = v(&[(5, 25)]);
        assert_eq!(a.intersect(&b), v(&[(5, 10), (20, 25)]));
        assert_eq!(a.subtract(&b), v(&[(0, 4), (26, 30)]));
        assert_eq!(a.union(&b), v(&[(0, 30)]));
        assert_eq!(v(&[(0, 3), (4, 9)]), v(&[(0, 9)]));
        assert!(v(&[(6, 8)]).is_subset(&a));
        assert_eq!(a.complement(40), v(&[(11, 19), (31, 40)]));
        let top = Values::range(0, u128::MAX);
        assert_eq!(
            top.subtract(&Values::single(u128::MAX)),
            Values::range(0, u128::MAX - 1)
        );
        assert!(top.subtract(&top).is_empty());
        assert!(a.contains(25) && !a.contains(15));
    }

    #[test]
    fn two_halves_cover_the_whole() {
        let d = Domain::new(u128::from(u32::MAX), 1);
        let mut whole = Cube::full(&d);
        whole.set(Field::Src, Values::range(0, 255));
        let mut lo = Cube::full(&d);
        lo.set(Field::Src, Values::range(0, 127));
        let mut hi = Cube::full(&d);
        hi.set(Field::Src, Values::range(128, 255));
        let mut s = Space::new(vec![whole]);
        s.subtract_cube(&lo).unwrap();
        assert!(!s.is_empty());
        s.subtract_cube(&hi).unwrap();
        assert!(s.is_empty());
    }

    #[test]
    fn compact_union_merges_sources() {
        let d = Domain::new(u128::from(u32::MAX), 1);
        let host = |a: u128| {
            let mut c = Cube::full(&d);
            c.set(Field::Src, Values::single(a));
            Space::new(vec![c])
        };
        let mut tcp = Cube::full(&d);
        tcp.set(Field::Proto, Values::single(6));
        let spaces = vec![host(1), host(2), host(9), Space::new(vec![tcp])];
        let u = Space::union_compact(&spaces);
        assert_eq!(u.cubes.len(), 2);
        assert_eq!(
            u.cubes[0].get(Field::Src),
            &Values::from_ranges(vec![(1, 2), (9, 9)])
        );
    }
}
