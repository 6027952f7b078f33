//! Host names resolved off the loop: fail2ban's `usedns` (a `<HOST>`
//! that captured a host name) and the whitelist's host names. The loop
//! never waits for DNS: [`Resolver::resolve`] answers from a cache (with
//! a time to live) or queues the name for a few resolver threads behind a
//! bounded queue, and [`Resolver::poll`] hands back, each round, the
//! answers that came in with whatever was waiting for them (the failures
//! of each jail, or a whitelist refresh). A full queue or a full waiting
//! list drops the request and counts it ([`Stats`]); nothing blocks.
//!
//! Lookups go through the [`Lookup`] trait: [`SystemLookup`] asks the
//! system resolver (`getaddrinfo`: A and AAAA, `/etc/hosts`); tests give
//! a fake. The system resolver reports no record TTLs, so answers are
//! kept for a fixed [`TTL`] (fail2ban's DNS cache keeps them 5 minutes),
//! failures for [`NEGATIVE_TTL`].
//!
//! ```
//! use rampart_daemon::resolve::{Lookup, Resolver};
//! use std::net::IpAddr;
//! struct Fake;
//! impl Lookup for Fake {
//!     fn lookup(&self, name: &str) -> std::io::Result<Vec<IpAddr>> {
//!         Ok(vec!["192.0.2.7".parse().expect("addr")])
//!     }
//! }
//! let mut r: Resolver<&str> = Resolver::start(Fake, 16, 1).expect("threads");
//! assert!(r.resolve(100, "attacker.example", "failure").is_none()); // queued
//! let mut got = Vec::new();
//! while got.is_empty() {
//!     got = r.poll(100);
//! }
//! assert_eq!(got[0].waiters, ["failure"]);
//! // From the cache now, at once.
//! assert_eq!(r.resolve(101, "attacker.example", "again").map(|a| a.len()), Some(1));
//! ```

use rampart_guard::Timestamp;
use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

/// How long an answer is kept (seconds).
pub const TTL: u64 = 300;
/// How long a failed lookup is kept (seconds).
pub const NEGATIVE_TTL: u64 = 60;
/// Names kept in the cache at most.
pub const CACHE_MAX: usize = 10_000;
/// Requests waiting for answers at most (all names together).
pub const WAITING_MAX: usize = 100_000;

/// Something that resolves a host name to its addresses (A and AAAA).
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, name: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The system resolver (`getaddrinfo`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, name: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok((name, 0).to_socket_addrs()?.map(|s| s.ip()).collect())
    }
}

/// An answer and what waited for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<W> {
    pub name: String,
    /// The addresses (sorted, no duplicates), or why there are none.
    pub addrs: Result<Vec<IpAddr>, String>,
    /// Whether this answer came from a lookup just made (not the cache).
    pub fresh: bool,
    pub waiters: Vec<W>,
}

/// Counts of what the resolver did and shed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub lookups: u64,
    pub failed: u64,
    pub cache_hits: u64,
    /// Requests dropped: the queue to the resolver threads was full.
    pub dropped_queue: u64,
    /// Requests dropped: too many waiting for answers.
    pub dropped_waiting: u64,
}

#[derive(Debug)]
struct Cached {
    addrs: Result<Vec<IpAddr>, String>,
    until: Timestamp,
}

/// The loop's side of the resolver threads.
#[derive(Debug)]
pub struct Resolver<W> {
    tx: SyncSender<String>,
    rx: Receiver<(String, Result<Vec<IpAddr>, String>)>,
    cache: HashMap<String, Cached>,
    waiting: HashMap<String, Vec<W>>,
    waiting_total: usize,
    stats: Stats,
}

impl<W> Resolver<W> {
    /// Starts `threads` resolver threads behind a queue of `queue` names.
    pub fn start(lookup: impl Lookup, queue: usize, threads: usize) -> std::io::Result<Self> {
        let (tx, work) = sync_channel::<String>(queue.max(1));
        let (done_tx, rx) = sync_channel(queue.max(1) + threads.max(1));
        let work = Arc::new(Mutex::new(work));
        let lookup = Arc::new(lookup);
        for i in 0..threads.max(1) {
            let (work, done_tx, lookup) = (work.clone(), done_tx.clone(), lookup.clone());
            std::thread::Builder::new()
                .name(format!("resolver-{i}"))
                .spawn(move || loop {
                    // The lock is held only while taking a name.
                    let name = match work.lock() {
                        Ok(w) => match w.recv() {
                            Ok(n) => n,
                            Err(_) => return,
                        },
                        Err(_) => return,
                    };
                    let addrs = lookup
                        .lookup(&name)
                        .map(|mut v| {
                            v.sort();
                            v.dedup();
                            v
                        })
                        .map_err(|e| e.to_string());
                    if done_tx.send((name, addrs)).is_err() {
                        return;
                    }
                })?;
        }
        Ok(Resolver {
            tx,
            rx,
            cache: HashMap::new(),
            waiting: HashMap::new(),
            waiting_total: 0,
            stats: Stats::default(),
        })
    }

    /// The addresses of `name` if the cache holds a live answer (empty
    /// when the name did not resolve); otherwise `None` and `waiter`
    /// comes back from [`Resolver::poll`] with the answer (or is dropped
    /// and counted when the queue is full).
    pub fn resolve(&mut self, now: Timestamp, name: &str, waiter: W) -> Option<Vec<IpAddr>> {
        if let Some(c) = self.cache.get(name).filter(|c| c.until > now) {
            self.stats.cache_hits += 1;
            return Some(c.addrs.clone().unwrap_or_default());
        }
        self.ask(name, waiter);
        None
    }

    /// Looks `name` up again whatever the cache holds (a periodic
    /// refresh); the answer comes back from [`Resolver::poll`].
    pub fn refresh(&mut self, name: &str, waiter: W) {
        self.ask(name, waiter);
    }

    fn ask(&mut self, name: &str, waiter: W) {
        if self.waiting_total >= WAITING_MAX {
            self.stats.dropped_waiting += 1;
            return;
        }
        if let Some(w) = self.waiting.get_mut(name) {
            // Already asked: wait for the same answer.
            w.push(waiter);
            self.waiting_total += 1;
            return;
        }
        match self.tx.try_send(name.to_string()) {
            Ok(()) => {
                self.waiting.insert(name.to_string(), vec![waiter]);
                self.waiting_total += 1;
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.dropped_queue += 1;
            }
        }
    }

    /// The answers that came in since the last call, each with what was
    /// waiting for it; they go into the cache.
    pub fn poll(&mut self, now: Timestamp) -> Vec<Answer<W>> {
        let mut out = Vec::new();
        while let Ok((name, addrs)) = self.rx.try_recv() {
            self.stats.lookups += 1;
            let ttl = if addrs.is_ok() { TTL } else { NEGATIVE_TTL };
            if addrs.is_err() {
                self.stats.failed += 1;
            }
            if self.cache.len() >= CACHE_MAX && !self.cache.contains_key(&name) {
                self.cache.retain(|_, c| c.until > now);
                if self.cache.len() >= CACHE_MAX {
                    // Still full of live answers: forget one.
                    if let Some(k) = self.cache.keys().next().cloned() {
                        self.cache.remove(&k);
                    }
                }
            }
            self.cache.insert(
                name.clone(),
                Cached {
                    addrs: addrs.clone(),
                    until: now.saturating_add(ttl),
                },
            );
            let waiters = self.waiting.remove(&name).unwrap_or_default();
            self.waiting_total = self.waiting_total.saturating_sub(waiters.len());
            out.push(Answer {
                name,
                addrs,
                fresh: true,
                waiters,
            });
        }
        out
    }

    /// Names waiting for an answer.
    pub fn pending(&self) -> usize {
        self.waiting.len()
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Condvar;

    /// A fake resolver: answers from a table, counts lookups, and can be
    /// held (to fill the queue).
    #[derive(Clone)]
    struct Fake {
        calls: Arc<AtomicUsize>,
        gate: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Lookup for Fake {
        fn lookup(&self, name: &str) -> std::io::Result<Vec<IpAddr>> {
            let (m, cv) = &*self.gate;
            let mut open = m.lock().expect("lock");
            while !*open {
                open = cv.wait(open).expect("wait");
            }
            self.calls.fetch_add(1, Ordering::SeqCst);
            match name {
                "two.example" => Ok(vec![
                    "2001:db8::7".parse().expect("a"),
                    "192.0.2.7".parse().expect("a"),
                    "192.0.2.7".parse().expect("a"),
                ]),
                "one.example" => Ok(vec!["198.51.100.1".parse().expect("a")]),
                _ => Err(std::io::Error::other("no such host")),
            }
        }
    }

    fn fake(open: bool) -> Fake {
        Fake {
            calls: Arc::new(AtomicUsize::new(0)),
            gate: Arc::new((Mutex::new(open), Condvar::new())),
        }
    }

    fn open(f: &Fake) {
        *f.gate.0.lock().expect("lock") = true;
        f.gate.1.notify_all();
    }

    fn wait_answers<W>(r: &mut Resolver<W>, now: Timestamp, n: usize) -> Vec<Answer<W>> {
        let mut got = Vec::new();
        let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while got.len() < n {
            assert!(std::time::Instant::now() < end, "answers did not come");
            got.extend(r.poll(now));
            std::thread::yield_now();
        }
        got
    }

    #[test]
    fn answers_come_back_with_their_waiters_and_are_cached() {
        let f = fake(true);
        let mut r: Resolver<u32> = Resolver::start(f.clone(), 8, 2).expect("start");
        assert_eq!(r.resolve(1000, "two.example", 1), None);
        assert_eq!(r.resolve(1000, "two.example", 2), None); // same lookup
        assert_eq!(r.resolve(1000, "nx.example", 3), None);
        let mut got = wait_answers(&mut r, 1000, 2);
        got.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(got[0].name, "nx.example");
        assert!(got[0].addrs.is_err());
        assert_eq!(got[1].waiters, [1, 2]);
        assert_eq!(
            got[1].addrs.as_ref().expect("ok").len(),
            2,
            "sorted, no duplicates"
        );
        assert_eq!(f.calls.load(Ordering::SeqCst), 2);
        // Cached: no lookup, no waiting.
        assert_eq!(r.resolve(1050, "two.example", 4).map(|v| v.len()), Some(2));
        assert_eq!(r.resolve(1050, "nx.example", 5), Some(vec![]));
        assert_eq!(f.calls.load(Ordering::SeqCst), 2);
        // Expired: asked again.
        assert_eq!(r.resolve(1000 + NEGATIVE_TTL, "nx.example", 6), None);
        assert_eq!(
            r.resolve(1000 + TTL - 1, "two.example", 7).map(|v| v.len()),
            Some(2)
        );
        assert_eq!(r.resolve(1000 + TTL, "two.example", 8), None);
        let got = wait_answers(&mut r, 1000 + TTL, 2);
        assert_eq!(got.len(), 2);
        // A refresh looks up whatever the cache holds.
        r.refresh("one.example", 9);
        r.refresh("one.example", 10);
        let got = wait_answers(&mut r, 2000, 1);
        assert_eq!(got[0].waiters, [9, 10]);
        assert_eq!(r.pending(), 0);
        let st = r.stats();
        assert_eq!((st.lookups, st.failed, st.cache_hits), (5, 2, 3));
    }

    #[test]
    fn a_full_queue_drops_and_counts_and_never_blocks() {
        let f = fake(false); // lookups hang until opened
        let mut r: Resolver<usize> = Resolver::start(f.clone(), 4, 1).expect("start");
        let t0 = std::time::Instant::now();
        for i in 0..100 {
            assert_eq!(r.resolve(1, &format!("n{i}.example"), i), None);
        }
        assert!(t0.elapsed() < std::time::Duration::from_secs(1));
        let st = r.stats();
        // One name taken by the thread (held), four queued, the rest shed.
        assert!(st.dropped_queue >= 95 && st.dropped_queue <= 96, "{st:?}");
        open(&f);
        let n = 100 - st.dropped_queue as usize;
        let got = wait_answers(&mut r, 1, n);
        assert_eq!(got.len(), n);
    }
}
