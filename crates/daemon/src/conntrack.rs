//! The live-connection source of `rampart guard`: conntrack over netlink
//! turned into the [`ConnCounts`] the engine's connection limits take
//! (`Engine::on_conn_counts`).
//!
//! A [`ConntrackSource`] keeps a picture of the table ([`LiveTable`]):
//! a full dump at start and every `dump_interval`, and between dumps the
//! kernel's NEW / UPDATE / DESTROY events, so a flood shows in the counts
//! within one event read instead of one dump interval. Events go on
//! queueing in the event socket while a dump runs and are applied after
//! it (applying an event twice, or one the dump already saw, gives the
//! same table). When the kernel drops events (`ENOBUFS`, the socket
//! buffer overflowed) the picture is stale: the source counts the
//! overrun ([`SourceStats::overruns`]) and dumps again — at most once per
//! second, so a flood of events cannot keep it dumping back to back.
//! Messages that do not decode are counted with the first reason, never
//! skipped in silence. The kernel sends a flow's state change when a
//! packet of it passes the confirmation point (postrouting or input): a
//! change on a packet dropped on the way out (a filter dropping its own
//! SYN-ACKs) shows in the next dump only.
//!
//! [`LiveTable`] is pure (no socket) and tested on its own; the kernel
//! side is tested in network namespaces (`tests/conntrack.rs`).
//!
//! ```
//! use rampart_daemon::conntrack::LiveTable;
//! use rampart_sys::ctnetlink::{tcp_state, CtEntry, CtEvent, CtEventKind};
//! let e = CtEntry::tcp("192.0.2.7:40000".parse().expect("addr"),
//!                      "10.0.0.1:80".parse().expect("addr"), tcp_state::SYN_RECV);
//! let mut t = LiveTable::default();
//! t.apply(&CtEvent { kind: CtEventKind::New, entry: e });
//! let c = t.counts(24, 64, &[80]);
//! assert_eq!(c.syn_recv[&e.src], 1);
//! t.apply(&CtEvent { kind: CtEventKind::Destroy, entry: e });
//! assert_eq!(t.len(), 0);
//! ```

use rampart_guard::{ConnCounts, ConnEntry, TcpState};
use rampart_sys::ctnetlink::{
    CtEntry, CtError, CtEvent, CtEventKind, CtEvents, CtFamily, CtKey, CtSocket, DecodeError,
    DumpStats, EventGroups,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The `[conntrack]` table of `guard.toml`; defined with the rest of the
/// configuration in `rampart-guard`.
pub use rampart_guard::config::ConntrackConfig;

/// A ctnetlink entry as the limits see it: original source, destination,
/// destination port, TCP state. No string is made.
pub fn conn_entry(e: &CtEntry) -> ConnEntry {
    ConnEntry {
        proto: e.proto,
        src: e.src,
        dst: e.dst,
        dport: e.dport,
        state: e.tcp_state.map(TcpState::from_kernel),
    }
}

/// The connections the source knows of, by conntrack identity.
#[derive(Debug, Clone, Default)]
pub struct LiveTable {
    map: HashMap<CtKey, ConnEntry>,
}

impl LiveTable {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// One event: NEW and UPDATE set the entry (an UPDATE of an entry not
    /// seen yet adds it), DESTROY removes it.
    pub fn apply(&mut self, ev: &CtEvent) {
        match ev.kind {
            CtEventKind::Destroy => {
                self.map.remove(&ev.entry.key());
            }
            _ => {
                self.map.insert(ev.entry.key(), conn_entry(&ev.entry));
            }
        }
    }

    /// Replaces the whole table with a dump's entries.
    pub fn replace(&mut self, entries: impl IntoIterator<Item = CtEntry>) {
        self.map.clear();
        for e in entries {
            self.map.insert(e.key(), conn_entry(&e));
        }
    }

    /// The counts the engine takes, grouping sources in `/v4_len` and
    /// `/v6_len` prefixes and counting only `ports` (all when empty):
    /// `Engine::prefix_lengths` and `Engine::conn_ports`.
    pub fn counts(&self, v4_len: u8, v6_len: u8, ports: &[u16]) -> ConnCounts {
        ConnCounts::from_entries(v4_len, v6_len, ports, self.map.values())
    }
}

/// What the source did, for `rampart guard status` and the logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceStats {
    pub dumps: u64,
    /// Entries of the last dump and how long it took.
    pub last_dump_entries: u64,
    pub last_dump: Duration,
    pub events: u64,
    /// Times the kernel dropped events (each answered with a dump).
    pub overruns: u64,
    /// Messages that did not decode (dump or events), and the last reason.
    pub bad_messages: u64,
    pub last_error: Option<DecodeError>,
    /// Dumps the kernel flagged as inconsistent.
    pub interrupted_dumps: u64,
}

/// Conntrack dumps + events → [`LiveTable`], in the network namespace of
/// the thread that opened it.
#[derive(Debug)]
pub struct ConntrackSource {
    sock: CtSocket,
    events: Option<CtEvents>,
    table: LiveTable,
    interval: Duration,
    next_dump: Instant,
    last_dump_at: Option<Instant>,
    stats: SourceStats,
}

/// The shortest time between two dumps forced by lost events.
const MIN_REDUMP: Duration = Duration::from_secs(1);

impl ConntrackSource {
    /// Opens the sockets (the event socket first, so nothing that happens
    /// during the first dump is missed) and dumps the table.
    pub fn open(cfg: &ConntrackConfig) -> Result<ConntrackSource, CtError> {
        let events = if cfg.events {
            Some(CtEvents::open(EventGroups::ALL, cfg.event_buffer)?)
        } else {
            None
        };
        let mut s = ConntrackSource {
            sock: CtSocket::open()?,
            events,
            table: LiveTable::default(),
            interval: Duration::from_secs(cfg.dump_interval.max(1)),
            next_dump: Instant::now(),
            last_dump_at: None,
            stats: SourceStats::default(),
        };
        s.dump()?;
        Ok(s)
    }

    pub fn table(&self) -> &LiveTable {
        &self.table
    }

    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }

    /// Dumps the whole table now and replaces the picture with it.
    pub fn dump(&mut self) -> Result<(), CtError> {
        let start = Instant::now();
        let mut fresh: HashMap<CtKey, ConnEntry> = HashMap::with_capacity(self.table.len());
        let st: DumpStats = self.sock.dump(CtFamily::Both, |e| {
            fresh.insert(e.key(), conn_entry(e));
        })?;
        self.table.map = fresh;
        self.stats.dumps += 1;
        self.stats.last_dump_entries = st.entries;
        self.stats.last_dump = start.elapsed();
        self.stats.bad_messages += st.bad;
        if st.interrupted {
            self.stats.interrupted_dumps += 1;
        }
        if let Some(e) = st.first_error {
            self.stats.last_error = Some(e);
        }
        let now = Instant::now();
        self.last_dump_at = Some(now);
        self.next_dump = now + self.interval;
        Ok(())
    }

    /// Reads events until `deadline`, dumping when a dump is due (the
    /// interval passed, or events were lost). Returns whether the table
    /// changed. Socket errors other than lost events end the call.
    pub fn poll(&mut self, deadline: Instant) -> Result<bool, CtError> {
        let mut changed = false;
        loop {
            let now = Instant::now();
            if now >= self.next_dump {
                self.dump()?;
                changed = true;
            }
            if now >= deadline {
                return Ok(changed);
            }
            let until = deadline.min(self.next_dump);
            let Some(events) = self.events.as_mut() else {
                // Dumps only: wait for the next one or the deadline.
                std::thread::sleep(until.saturating_duration_since(Instant::now()));
                continue;
            };
            match events.next(until) {
                Ok(Some(ev)) => {
                    self.stats.events += 1;
                    self.table.apply(&ev);
                    changed = true;
                }
                Ok(None) => {}
                Err(CtError::Overrun) => {
                    self.stats.overruns += 1;
                    let earliest = self.last_dump_at.map_or(now, |t| t + MIN_REDUMP);
                    self.next_dump = self.next_dump.min(earliest.max(now));
                }
                Err(CtError::Decode(e)) => {
                    self.stats.bad_messages += 1;
                    self.stats.last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The engine's counts of the current picture.
    pub fn counts(&self, v4_len: u8, v6_len: u8, ports: &[u16]) -> ConnCounts {
        self.table.counts(v4_len, v6_len, ports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_sys::ctnetlink::tcp_state;
    use std::net::IpAddr;

    fn tcp(src: &str, sport: u16, dport: u16, state: u8) -> CtEntry {
        CtEntry::tcp(
            format!("{src}:{sport}").parse().expect("addr"),
            format!("10.0.0.1:{dport}").parse().expect("addr"),
            state,
        )
    }

    fn ev(kind: CtEventKind, entry: CtEntry) -> CtEvent {
        CtEvent { kind, entry }
    }

    #[test]
    fn events_keep_the_counts_live_between_dumps() {
        let mut t = LiveTable::default();
        t.replace([
            tcp("192.0.2.1", 1, 80, tcp_state::ESTABLISHED),
            tcp("192.0.2.1", 2, 80, tcp_state::ESTABLISHED),
            tcp("192.0.2.2", 1, 22, tcp_state::ESTABLISHED),
        ]);
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(t.counts(24, 64, &[]).per_source[&ip("192.0.2.1")], 2);
        // A flood of half-open connections arrives as NEW events.
        for p in 100..110 {
            t.apply(&ev(
                CtEventKind::New,
                tcp("198.51.100.9", p, 80, tcp_state::SYN_SENT),
            ));
            t.apply(&ev(
                CtEventKind::Update,
                tcp("198.51.100.9", p, 80, tcp_state::SYN_RECV),
            ));
        }
        let c = t.counts(24, 64, &[80]);
        assert_eq!(c.syn_recv[&ip("198.51.100.9")], 10);
        assert_eq!(c.total, 12, "port 22 is not watched");
        // An update to ESTABLISHED leaves SYN_RECV; DESTROY removes.
        t.apply(&ev(
            CtEventKind::Update,
            tcp("198.51.100.9", 100, 80, tcp_state::ESTABLISHED),
        ));
        t.apply(&ev(
            CtEventKind::Destroy,
            tcp("198.51.100.9", 101, 80, tcp_state::SYN_RECV),
        ));
        let c = t.counts(24, 64, &[]);
        assert_eq!(c.syn_recv[&ip("198.51.100.9")], 8);
        assert_eq!(c.per_source[&ip("198.51.100.9")], 9);
        // The same event twice, or a destroy of an unknown flow, changes nothing.
        t.apply(&ev(
            CtEventKind::New,
            tcp("192.0.2.2", 1, 22, tcp_state::ESTABLISHED),
        ));
        t.apply(&ev(
            CtEventKind::Destroy,
            tcp("203.0.113.1", 1, 22, tcp_state::CLOSE),
        ));
        assert_eq!(t.len(), 12);
        // A dump replaces everything.
        t.replace([tcp("192.0.2.3", 1, 80, tcp_state::ESTABLISHED)]);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn the_config_has_defaults_and_refuses_unknown_keys() {
        let c: ConntrackConfig = toml::from_str("").expect("empty");
        assert_eq!(c, ConntrackConfig::default());
        let c: ConntrackConfig = toml::from_str("dump_interval = 5\nevents = false").expect("ok");
        assert_eq!((c.dump_interval, c.events), (5, false));
        assert!(toml::from_str::<ConntrackConfig>("dump_intervall = 5").is_err());
    }
}
