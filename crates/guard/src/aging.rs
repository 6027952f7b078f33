//! [`AgingMap`]: a hash map with a hard cap on its entries whose entries
//! age out in insertion order: the bounded-memory structure under the
//! failure counters and the ban history.
//!
//! Every entry carries a stamp (seconds); a FIFO queue holds `(key, stamp)`
//! in the order entries were stamped. Ageing pops the queue's front while
//! it is stale (the entry was restamped or removed since) or expired;
//! inserting past the cap evicts the front, live or stale, so the queue
//! (and with it the map) never holds more than `cap` items. Evictions of
//! live entries are counted: memory stays bounded under any number of
//! distinct addresses, and the loss of precision shows in a metric.
//!
//! The keys are addresses an attacker chooses: the map hashes with
//! `foldhash` seeded per map (fast on small integer keys, unlike SipHash,
//! and not predictable from outside, unlike an unseeded Fx hash).

use std::collections::hash_map::{Entry, HashMap};
use std::collections::VecDeque;
use std::hash::Hash;

/// A bounded map whose entries age out oldest first.
#[derive(Debug, Clone)]
pub struct AgingMap<K, V> {
    map: HashMap<K, Slot<V>, foldhash::fast::RandomState>,
    queue: VecDeque<(K, u32)>,
    cap: usize,
    evicted: u64,
}

#[derive(Debug, Clone)]
struct Slot<V> {
    stamp: u32,
    value: V,
}

impl<K: Hash + Eq + Copy, V> AgingMap<K, V> {
    /// At most `cap` entries (at least 1).
    pub fn new(cap: usize) -> Self {
        AgingMap {
            map: HashMap::default(),
            queue: VecDeque::new(),
            cap: cap.max(1),
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Live entries forgotten because the map was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The entry's value and stamp.
    pub fn get(&self, k: &K) -> Option<(&V, u32)> {
        self.map.get(k).map(|s| (&s.value, s.stamp))
    }

    pub fn get_mut(&mut self, k: &K) -> Option<(&mut V, u32)> {
        self.map.get_mut(k).map(|s| (&mut s.value, s.stamp))
    }

    /// Inserts or replaces `k` with a new stamp (its place in the ageing
    /// order moves to the back).
    pub fn insert(&mut self, k: K, stamp: u32, value: V) {
        match self.map.entry(k) {
            Entry::Occupied(mut o) => {
                let s = o.get_mut();
                s.value = value;
                if s.stamp == stamp {
                    // Same stamp: its queue item is still the live one.
                    return;
                }
                s.stamp = stamp;
            }
            Entry::Vacant(v) => {
                v.insert(Slot { stamp, value });
            }
        }
        self.queue.push_back((k, stamp));
        while self.queue.len() > self.cap {
            self.pop_front_evicting();
        }
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        // Its queue item becomes stale and goes when it reaches the front.
        self.map.remove(k).map(|s| s.value)
    }

    /// Removes entries from the front of the ageing order while
    /// `expired(key, value, stamp)` says so; stops at the first live entry
    /// that has not expired. Returns how many entries were removed.
    pub fn age(&mut self, mut expired: impl FnMut(&K, &V, u32) -> bool) -> usize {
        let mut removed = 0;
        while let Some(&(k, stamp)) = self.queue.front() {
            match self.map.get(&k) {
                Some(s) if s.stamp == stamp => {
                    if !expired(&k, &s.value, stamp) {
                        break;
                    }
                    self.map.remove(&k);
                    removed += 1;
                }
                // Stale: restamped or removed since.
                _ => {}
            }
            self.queue.pop_front();
        }
        removed
    }

    fn pop_front_evicting(&mut self) {
        if let Some((k, stamp)) = self.queue.pop_front() {
            if self.map.get(&k).is_some_and(|s| s.stamp == stamp) {
                self.map.remove(&k);
                self.evicted += 1;
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter().map(|(k, s)| (k, &s.value))
    }

    /// Bytes held by the map's and the queue's allocations (capacity ×
    /// element size; the hash table's control bytes included): what the
    /// memory bound is measured with.
    pub fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(K, Slot<V>)>() + 1;
        // hashbrown allocates a power of two of buckets >= capacity * 8/7.
        let buckets = (self.map.capacity() * 8 / 7).next_power_of_two();
        buckets * slot + self.queue.capacity() * std::mem::size_of::<(K, u32)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_evicts_oldest_and_counts() {
        let mut m = AgingMap::new(3);
        for k in 0..5u32 {
            m.insert(k, k, ());
        }
        assert_eq!(m.len(), 3);
        assert_eq!(m.evicted(), 2);
        assert!(m.get(&0).is_none() && m.get(&1).is_none() && m.get(&4).is_some());
    }

    #[test]
    fn restamp_moves_to_back_and_stale_items_do_not_evict() {
        let mut m = AgingMap::new(3);
        m.insert(1u32, 1, 'a');
        m.insert(2, 2, 'b');
        m.insert(1, 3, 'c'); // queue: (1,1) stale, (2,2), (1,3)
        m.insert(3, 4, 'd'); // queue over cap: the stale (1,1) goes, no eviction
        assert_eq!(m.evicted(), 0);
        assert_eq!(m.len(), 3);
        m.insert(4, 5, 'e'); // evicts 2, the oldest live
        assert_eq!(m.evicted(), 1);
        assert!(m.get(&2).is_none());
        assert_eq!(m.get(&1), Some((&'c', 3)));
    }

    #[test]
    fn ageing_stops_at_the_first_live_unexpired_entry() {
        let mut m = AgingMap::new(10);
        for k in 0..6u32 {
            m.insert(k, k * 10, ());
        }
        m.remove(&3);
        assert_eq!(m.age(|_, _, stamp| stamp < 30), 3);
        assert_eq!(m.len(), 2);
        assert_eq!(m.age(|_, _, stamp| stamp < 40), 0); // 3's stale item goes, 4 stays
        assert_eq!(m.age(|_, _, _| true), 2);
        assert!(m.is_empty());
        assert_eq!(m.evicted(), 0);
    }
}
