//! Which input network covers an address: the most specific entry of a
//! list, with the line it came from (`rampart cidr contains`).

use crate::interval::{Addr, Interval};

/// The entries of a list (interval + line number), searchable for the
/// smallest entry that covers an address.
///
/// Entries are sorted by first address, with the running maximum of last
/// addresses beside them: a lookup binary-searches the last entry starting
/// at or before the address and walks back only while an earlier entry can
/// still reach it. That walk is short for ordinary lists; its worst case
/// (an address under a huge early network and past many small ones that
/// miss it) is linear, which suits a handful of lookups per run.
#[derive(Debug, Clone, Default)]
pub struct Covering<A> {
    entries: Vec<(Interval<A>, u64)>,
    max_hi: Vec<A>,
}

impl<A: Addr> Covering<A> {
    pub fn new(mut entries: Vec<(Interval<A>, u64)>) -> Self {
        entries.sort_unstable_by_key(|(iv, line)| (iv.lo(), *line));
        let mut max_hi = Vec::with_capacity(entries.len());
        let mut m = A::ZERO;
        for (iv, _) in &entries {
            m = m.max(iv.hi());
            max_hi.push(m);
        }
        Covering { entries, max_hi }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The smallest entry holding `a` (the earliest line among equals).
    pub fn most_specific(&self, a: A) -> Option<(Interval<A>, u64)> {
        let end = self.entries.partition_point(|(iv, _)| iv.lo() <= a);
        let mut best: Option<(Interval<A>, u64)> = None;
        for k in (0..end).rev() {
            if self.max_hi[k] < a {
                break;
            }
            let (iv, line) = self.entries[k];
            if iv.hi() >= a {
                let better = match best {
                    None => true,
                    Some((b, bl)) => (iv.span(), line) < (b.span(), bl),
                };
                if better {
                    best = Some((iv, line));
                }
            }
        }
        best
    }
}
