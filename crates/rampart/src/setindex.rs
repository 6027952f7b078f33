//! The sorted index of a snapshot's large address sets (`STATE/entries/N.idx`),
//! so that `set add|del` find the few elements a change touches with a
//! binary search instead of reading the set.
//!
//! A set is indexed when every element is one network or address (no
//! comment, no `nomatch`) of one family — what block and ban lists are.
//! Its records, sorted by (first, last) address, are fixed-size: first
//! address, last address, the largest last address of this and every
//! earlier record (to find networks that contain others), each 4 or 16
//! bytes big-endian, and the element's timeout (u32, 0 for none). The
//! element is its record: a network is its first address and a prefix
//! length given by its size.
//!
//! [`IndexedSet`] answers for the set as it stands after the deltas since
//! the snapshot (an overlay of the elements they removed and added) at a
//! given time (timed elements expire): the elements touching an address
//! range, the element with given parts, the first element, witnesses of
//! the set's declaration, the count.

use anyhow::{bail, Context, Result};
use rampart_model::{ElemPart, IpNet, IpSet, SetElement};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::net::IpAddr;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// How many witnesses of each kind a set's index keeps.
const WITNESSES: usize = 64;

/// Where one set's records are in `N.idx`, and what else it knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ix {
    /// Byte offset of the first record.
    pub offset: u64,
    pub count: u64,
    /// Address width in bytes (4 or 16).
    pub width: u8,
    /// Positions of records of networks (not single addresses), first ones.
    pub networks: Vec<u64>,
    /// Positions of records with a timeout, first ones.
    pub timed: Vec<u64>,
}

impl Ix {
    fn record_len(&self) -> u64 {
        u64::from(self.width) * 3 + 4
    }
}

/// The address range of a single-network element part list.
pub fn net_range(parts: &[ElemPart]) -> Option<(u128, u128, u8)> {
    let [ElemPart::Net(n)] = parts else {
        return None;
    };
    let plen = n.prefix_len()?;
    let (lo, width) = match n.addr() {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32u32),
        IpAddr::V6(a) => (u128::from(a), 128u32),
    };
    let host_bits = width - u32::from(plen);
    let host = if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    Some((lo & !host, lo | host, (width / 8) as u8))
}

/// Whether an element can be indexed (and is written in the short line
/// form of the elements file).
pub fn indexable(e: &SetElement) -> bool {
    e.comment.is_none() && !e.nomatch && net_range(&e.parts).is_some()
}

/// The element of a record.
fn element(lo: u128, hi: u128, width: u8, timeout: Option<u32>) -> SetElement {
    let bits = u32::from(width) * 8;
    let span = hi.wrapping_sub(lo).wrapping_add(1);
    let plen = if span == 0 {
        0
    } else {
        bits.saturating_sub(span.trailing_zeros())
    };
    let addr = if width == 4 {
        IpAddr::from(std::net::Ipv4Addr::from(lo as u32))
    } else {
        IpAddr::from(std::net::Ipv6Addr::from(lo))
    };
    let net = IpNet::new(addr, plen as u8).unwrap_or_else(|| IpNet::host(addr));
    SetElement {
        parts: vec![ElemPart::Net(net)],
        timeout,
        comment: None,
        nomatch: false,
    }
}

fn put(out: &mut Vec<u8>, v: u128, width: u8) {
    if width == 4 {
        out.extend_from_slice(&(v as u32).to_be_bytes());
    } else {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

fn get(b: &[u8], width: u8) -> u128 {
    let mut v = 0u128;
    for x in &b[..usize::from(width)] {
        v = (v << 8) | u128::from(*x);
    }
    v
}

/// Appends the index of `set` to `out` when it can be indexed.
pub fn build(set: &IpSet, out: &mut Vec<u8>) -> Option<Ix> {
    if set.elements.is_empty() || !set.elements.iter().all(indexable) {
        return None;
    }
    let mut recs: Vec<(u128, u128, u32)> = Vec::with_capacity(set.elements.len());
    let mut width = 0;
    for e in &set.elements {
        let (lo, hi, w) = net_range(&e.parts)?;
        if width != 0 && w != width {
            return None;
        }
        width = w;
        recs.push((lo, hi, e.timeout.unwrap_or(0)));
    }
    recs.sort_unstable();
    // A set listing an element twice: the index would not say which one
    // counts; read such a set whole.
    if recs
        .windows(2)
        .any(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1))
    {
        return None;
    }
    let ix = Ix {
        offset: out.len() as u64,
        count: recs.len() as u64,
        width,
        networks: recs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.0 != r.1)
            .map(|(i, _)| i as u64)
            .take(WITNESSES)
            .collect(),
        timed: recs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.2 != 0)
            .map(|(i, _)| i as u64)
            .take(WITNESSES)
            .collect(),
    };
    out.reserve(recs.len() * (usize::from(width) * 3 + 4));
    let mut max = 0u128;
    for (lo, hi, t) in recs {
        max = max.max(hi);
        put(out, lo, width);
        put(out, hi, width);
        put(out, max, width);
        out.extend_from_slice(&t.to_be_bytes());
    }
    Some(ix)
}

/// One record: first and last address, the largest last address so far,
/// the timeout (0: none).
#[derive(Debug, Clone, Copy)]
struct Rec {
    lo: u128,
    hi: u128,
    max: u128,
    timeout: u32,
}

/// The changes of the deltas since the snapshot, by address range: the
/// element's latest version (`None`: removed) and the time of the delta
/// that made it.
type Overlay = HashMap<(u128, u128), (Option<SetElement>, u64)>;

fn key(parts: &[ElemPart]) -> Option<(u128, u128)> {
    net_range(parts).map(|(a, b, _)| (a, b))
}

/// One delta of a set: the parts removed, the elements added, its time.
pub type DeltaRef<'a> = (&'a [Vec<ElemPart>], &'a [SetElement], u64);

/// A set of a snapshot read through its index, with the deltas since.
pub struct IndexedSet {
    file: File,
    path: PathBuf,
    ix: Ix,
    /// Time of the snapshot (its elements' timeouts count from there).
    snap_time: u64,
    default_timeout: Option<u32>,
    overlay: Overlay,
    now: u64,
}

impl IndexedSet {
    /// Opens set `ix` of index file `path` of a snapshot of time
    /// `snap_time`; `deltas` are the changes since (oldest first, with
    /// their times); answers are as of `now`. `None` when a delta holds an
    /// element that is not one network (the set is read whole then).
    pub fn open(
        path: &Path,
        ix: Ix,
        snap_time: u64,
        default_timeout: Option<u32>,
        deltas: &[DeltaRef<'_>],
        now: u64,
    ) -> Result<Option<IndexedSet>> {
        let file = File::open(path)
            .with_context(|| format!("state: cannot read the index {}", path.display()))?;
        let len = file
            .metadata()
            .with_context(|| format!("state: cannot read the index {}", path.display()))?
            .len();
        if ix.width != 4 && ix.width != 16 || ix.offset + ix.count * ix.record_len() > len {
            bail!(
                "state: {} is corrupt: shorter than its entry says",
                path.display()
            );
        }
        let mut overlay = Overlay::new();
        for (removed, added, time) in deltas {
            for p in *removed {
                let Some(k) = key(p) else { return Ok(None) };
                overlay.insert(k, (None, *time));
            }
            for e in *added {
                let Some(k) = key(&e.parts) else {
                    return Ok(None);
                };
                overlay.insert(k, (Some(e.clone()), *time));
            }
        }
        Ok(Some(IndexedSet {
            file,
            path: path.to_path_buf(),
            ix,
            snap_time,
            default_timeout,
            overlay,
            now,
        }))
    }

    fn rec(&self, i: u64) -> Result<Rec> {
        let w = self.ix.width;
        let mut b = [0u8; 52];
        let n = self.ix.record_len() as usize;
        self.file
            .read_exact_at(&mut b[..n], self.ix.offset + i * self.ix.record_len())
            .with_context(|| format!("state: cannot read {}", self.path.display()))?;
        let w8 = usize::from(w);
        Ok(Rec {
            lo: get(&b, w),
            hi: get(&b[w8..], w),
            max: get(&b[2 * w8..], w),
            timeout: u32::from_be_bytes([b[3 * w8], b[3 * w8 + 1], b[3 * w8 + 2], b[3 * w8 + 3]]),
        })
    }

    /// Time left of a timeout given at `then`; `None` inside: expired.
    fn left(&self, timeout: Option<u32>, then: u64) -> Option<Option<u32>> {
        match timeout.or(self.default_timeout.filter(|t| *t > 0)) {
            None => Some(None),
            Some(t) => {
                let passed = self.now.saturating_sub(then);
                let left = u64::from(t).checked_sub(passed).filter(|l| *l > 0)?;
                Some(Some(if passed == 0 {
                    t
                } else {
                    u32::try_from(left).unwrap_or(u32::MAX)
                }))
            }
        }
    }

    /// The element of record `r` as it stands now, unless a delta changed
    /// it or it expired.
    fn live(&self, r: &Rec) -> Option<SetElement> {
        if self.overlay.contains_key(&(r.lo, r.hi)) {
            return None;
        }
        let timeout = (r.timeout != 0).then_some(r.timeout);
        let e = element(r.lo, r.hi, self.ix.width, timeout);
        let left = self.left(timeout, self.snap_time)?;
        Some(SetElement { timeout: left, ..e })
    }

    /// The deltas' elements that stand now.
    fn added(&self) -> impl Iterator<Item = SetElement> + '_ {
        self.overlay.values().filter_map(|(e, t)| {
            let e = e.as_ref()?;
            let left = self.left(e.timeout, *t)?;
            Some(SetElement {
                timeout: left,
                ..e.clone()
            })
        })
    }

    /// First record position with (lo, hi) >= key.
    fn lower_bound(&self, key: (u128, u128)) -> Result<u64> {
        let (mut a, mut b) = (0, self.ix.count);
        while a < b {
            let m = a + (b - a) / 2;
            let r = self.rec(m)?;
            if (r.lo, r.hi) < key {
                a = m + 1;
            } else {
                b = m;
            }
        }
        Ok(a)
    }

    /// The element with exactly these parts, as it stands now.
    pub fn exact(&self, parts: &[ElemPart]) -> Result<Option<SetElement>> {
        if let Some((e, t)) = key(parts).and_then(|k| self.overlay.get(&k)) {
            return Ok(e
                .as_ref()
                .and_then(|e| self.left(e.timeout, *t).map(|l| (e, l)))
                .map(|(e, timeout)| SetElement {
                    timeout,
                    ..e.clone()
                }));
        }
        let Some((lo, hi, _)) = net_range(parts) else {
            return Ok(None);
        };
        let i = self.lower_bound((lo, hi))?;
        if i < self.ix.count {
            let r = self.rec(i)?;
            if (r.lo, r.hi) == (lo, hi) {
                return Ok(self.live(&r));
            }
        }
        Ok(None)
    }

    /// Every element now overlapping or adjacent to `lo..=hi`.
    pub fn touching(&self, lo: u128, hi: u128) -> Result<Vec<SetElement>> {
        let lo1 = lo.saturating_sub(1);
        let hi1 = hi.saturating_add(1);
        let mut out = Vec::new();
        // Records starting after hi + 1 cannot touch; walk back from there
        // while some earlier record reaches far enough.
        let mut i = self.lower_bound((hi1, 0))?;
        if i < self.ix.count && self.rec(i)?.lo == hi1 {
            // Records starting exactly at hi + 1 touch too.
            let mut j = i;
            while j < self.ix.count {
                let r = self.rec(j)?;
                if r.lo != hi1 {
                    break;
                }
                out.extend(self.live(&r));
                j += 1;
            }
        }
        while i > 0 {
            i -= 1;
            let r = self.rec(i)?;
            if r.max < lo1 {
                break;
            }
            if r.hi >= lo1 {
                out.extend(self.live(&r));
            }
        }
        for e in self.added() {
            if let Some((a, b, _)) = net_range(&e.parts) {
                if a <= hi1 && b >= lo1 {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    /// The first element now (by address), skipping those with parts in
    /// `except`.
    pub fn first(&self, except: &[Vec<ElemPart>]) -> Result<Option<SetElement>> {
        let mut best: Option<SetElement> = None;
        let key = |e: &SetElement| net_range(&e.parts).map(|(a, b, _)| (a, b));
        for i in 0..self.ix.count {
            let r = self.rec(i)?;
            if let Some(e) = self.live(&r).filter(|e| !except.contains(&e.parts)) {
                best = Some(e);
                break;
            }
        }
        for e in self.added() {
            if !except.contains(&e.parts) && best.as_ref().is_none_or(|b| key(&e) < key(b)) {
                best = Some(e);
            }
        }
        Ok(best)
    }

    /// An element now standing (not in `except`) that is a network (when
    /// `network`) or has a timeout; `Err` inside when the index no longer
    /// knows one for sure (all its witnesses changed).
    pub fn witness(
        &self,
        network: bool,
        except: &[Vec<ElemPart>],
    ) -> Result<std::result::Result<Option<SetElement>, ()>> {
        let list = if network {
            &self.ix.networks
        } else {
            &self.ix.timed
        };
        for &i in list {
            if let Some(e) = self
                .live(&self.rec(i)?)
                .filter(|e| !except.contains(&e.parts))
            {
                return Ok(Ok(Some(e)));
            }
        }
        let want = |e: &SetElement| {
            if network {
                net_range(&e.parts).is_some_and(|(a, b, _)| a != b)
            } else {
                e.timeout.is_some()
            }
        };
        if let Some(e) = self.added().find(|e| want(e) && !except.contains(&e.parts)) {
            return Ok(Ok(Some(e)));
        }
        // All listed witnesses gone: others may remain beyond the list.
        Ok(if list.len() >= WITNESSES {
            Err(())
        } else {
            Ok(None)
        })
    }

    /// How many elements the set has now. Without timeouts this reads
    /// only the records the deltas touched; with them, every record.
    pub fn count(&self) -> Result<usize> {
        let timed = !self.ix.timed.is_empty() || self.default_timeout.is_some_and(|t| t > 0);
        let mut n = 0usize;
        if timed {
            let len = self.ix.record_len();
            let mut buf = vec![0u8; (self.ix.count * len) as usize];
            self.file
                .read_exact_at(&mut buf, self.ix.offset)
                .with_context(|| format!("state: cannot read {}", self.path.display()))?;
            let w = usize::from(self.ix.width);
            for c in buf.chunks_exact(len as usize) {
                let r = Rec {
                    lo: get(c, self.ix.width),
                    hi: get(&c[w..], self.ix.width),
                    max: 0,
                    timeout: u32::from_be_bytes([
                        c[3 * w],
                        c[3 * w + 1],
                        c[3 * w + 2],
                        c[3 * w + 3],
                    ]),
                };
                n += usize::from(self.live(&r).is_some());
            }
        } else {
            n = self.ix.count as usize;
            for &(lo, hi) in self.overlay.keys() {
                let i = self.lower_bound((lo, hi))?;
                if i < self.ix.count {
                    let r = self.rec(i)?;
                    n -= usize::from((r.lo, r.hi) == (lo, hi));
                }
            }
        }
        Ok(n + self.added().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(t: &str, timeout: Option<u32>) -> SetElement {
        let (a, l) = t.split_once('/').unwrap_or((t, "32"));
        SetElement {
            parts: vec![ElemPart::Net(
                IpNet::new(a.parse().expect("a"), l.parse().expect("l")).expect("net"),
            )],
            timeout,
            comment: None,
            nomatch: false,
        }
    }

    #[test]
    fn issue5_the_index_answers_like_a_scan_of_the_set() {
        let set = IpSet {
            name: "s".into(),
            kind: rampart_model::SetKind::HashNet,
            family: Some(rampart_model::Family::Ipv4),
            timeout: None,
            options: Default::default(),
            elements: vec![
                el("10.0.0.0/8", None),
                el("10.1.0.0/16", None),
                el("192.0.2.0/24", Some(100)),
                el("192.0.3.0/24", None),
                el("198.51.100.7", None),
            ],
            origin: None,
        };
        let mut bytes = vec![1, 2, 3];
        let ix = build(&set, &mut bytes).expect("indexable");
        assert_eq!(ix.offset, 3);
        assert_eq!(ix.networks, [0, 1, 2, 3]);
        assert_eq!(ix.timed, [2]);
        let d = std::env::temp_dir().join(format!("rampart-idx-{}", std::process::id()));
        std::fs::write(&d, &bytes).expect("write");
        let added = [el("203.0.113.0/24", None)];
        let removed = [el("192.0.3.0/24", None).parts];
        let s = IndexedSet::open(&d, ix, 1000, None, &[(&removed, &added, 1010)], 1050)
            .expect("open")
            .expect("indexed");
        // A network inside 10.0.0.0/8 is found through the running maximum.
        let t = s.touching(0x0a05_0000, 0x0a05_00ff).expect("touching");
        assert_eq!(t, [el("10.0.0.0/8", None)]);
        // Adjacent on both sides; the removed one is gone; timeouts carried.
        let t = s.touching(0xc000_0300, 0xc000_03ff).expect("touching");
        assert_eq!(t, [el("192.0.2.0/24", Some(50))]);
        assert_eq!(
            s.touching(0xcb00_7100, 0xcb00_71ff).expect("t"),
            [el("203.0.113.0/24", None)]
        );
        assert_eq!(
            s.exact(&el("198.51.100.7", None).parts).expect("exact"),
            Some(el("198.51.100.7", None))
        );
        assert_eq!(s.exact(&removed[0]).expect("exact"), None);
        assert_eq!(s.count().expect("count"), 5);
        assert_eq!(
            s.first(&[el("10.0.0.0/8", None).parts]).expect("first"),
            Some(el("10.1.0.0/16", None))
        );
        assert_eq!(
            s.witness(false, &[]).expect("w"),
            Ok(Some(el("192.0.2.0/24", Some(50))))
        );
        // Expired: gone from every answer.
        let s2 = IndexedSet::open(&d, s.ix.clone(), 1000, None, &[], 1100)
            .expect("open")
            .expect("indexed");
        assert_eq!(s2.count().expect("count"), 4);
        assert_eq!(s2.witness(false, &[]).expect("w"), Ok(None));
        let _ = std::fs::remove_file(&d);
        // Not indexable: a comment.
        let mut c = set.clone();
        c.elements[0].comment = Some("x".into());
        assert!(build(&c, &mut Vec::new()).is_none());
    }
}
