//! The decision engine: failures, connection counts, time and commands go
//! in; [`Action`]s come out. No I/O and no clock: the caller passes `now`
//! (seconds since the Unix epoch) to every call, applies the actions to the
//! kernel and records them in the store, in the order given.
//!
//! State: failure counters per (jail, address) and the ban history per
//! (jail, network) in bounded [`AgingMap`]s, banned-member windows per
//! prefix, and the active bans in a hash map with an ordered set of their
//! networks beside it (so a prefix finds the bans inside it with one range
//! query) and a heap of expiry times.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use crate::aging::AgingMap;
use crate::config::{GuardConfig, Timestamp};
use crate::counter::ConnCounts;
use crate::escalate::Increment;
use crate::net::canonical;
use crate::whitelist::{Group, Whitelist};
use crate::{Error, Net};

/// A ban that never ends.
pub const FOREVER: Timestamp = u64::MAX;

/// What the caller must do, in order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Action {
    Ban(Ban),
    Unban(Unban),
    Alert(Alert),
}

/// Put `net` into the kernel's ban set until `until` (and record it).
#[derive(Debug, Clone, PartialEq)]
pub struct Ban {
    /// The network to block.
    pub net: Net,
    /// When a prefix ban had to be split around whitelisted addresses,
    /// the prefix this `net` is a part of.
    pub prefix: Option<Net>,
    pub since: Timestamp,
    /// End of the ban, [`FOREVER`] for a permanent one.
    pub until: Timestamp,
    /// The jail, `conntrack`, `prefix` or `manual`.
    pub jail: Arc<str>,
    pub source: Source,
    pub reason: String,
    /// Failures (or connections) that led to it; for a prefix, its members.
    pub hits: u32,
    /// Earlier bans of this network that made this one longer.
    pub count: u32,
    /// A ban that existed before (restored at start, or a member of a
    /// prefix whose ban ended): not a new decision, not counted again.
    pub restored: bool,
    /// Dry run: log it, do not enforce it.
    pub dry_run: bool,
}

impl Ban {
    /// Seconds left at `now`; `None` for a permanent ban.
    pub fn remaining(&self, now: Timestamp) -> Option<u64> {
        (self.until != FOREVER).then(|| self.until.saturating_sub(now))
    }
}

/// Take `net` out of the kernel's ban set.
#[derive(Debug, Clone, PartialEq)]
pub struct Unban {
    pub net: Net,
    pub prefix: Option<Net>,
    pub at: Timestamp,
    pub cause: UnbanCause,
    pub dry_run: bool,
}

/// Why a ban ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnbanCause {
    Expired,
    /// `rampart unban`.
    Manual,
    /// Covered by a new prefix ban; it comes back when the prefix ends
    /// and it is still due.
    Folded {
        into: Net,
    },
    /// An address in it became whitelisted.
    Whitelisted,
}

/// Where a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// A jail's failures.
    Jail,
    /// A connection limit.
    Conntrack,
    /// Prefix escalation.
    Prefix,
    /// By hand.
    Manual,
}

impl Source {
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Jail => "jail",
            Source::Conntrack => "conntrack",
            Source::Prefix => "prefix",
            Source::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Some(match s {
            "jail" => Source::Jail,
            "conntrack" => Source::Conntrack,
            "prefix" => Source::Prefix,
            "manual" => Source::Manual,
            _ => return None,
        })
    }
}

/// Something an operator should see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub kind: AlertKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlertKind {
    /// A prefix was banned.
    PrefixBanned,
    /// A prefix ban was split around whitelisted addresses.
    PrefixCarved,
    /// A decision was refused because the whitelist covers all of it.
    RefusedWhitelisted,
    /// Connections to one destination port passed `per_port`.
    PortLimit,
    /// Counters were forgotten before their time (memory bound reached):
    /// the engine is shedding load.
    Shedding,
    /// A failure named a jail the configuration does not have.
    UnknownJail,
}

/// Counters for monitoring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    pub failures: u64,
    pub ignored_whitelisted: u64,
    pub hits_while_banned: u64,
    pub bans: u64,
    pub prefix_bans: u64,
    pub unbans: u64,
    /// Failure counters forgotten because `max_tracked` was reached.
    pub counters_evicted: u64,
    /// History entries forgotten because `max_history` was reached.
    pub history_evicted: u64,
    pub tracked: usize,
    pub active_bans: usize,
}

/// An active ban for listings (`rampart bans`).
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveBan {
    pub net: Net,
    /// The networks enforced (`[net]` unless carved around the whitelist).
    pub parts: Vec<Net>,
    pub since: Timestamp,
    pub until: Timestamp,
    pub jail: Arc<str>,
    pub source: Source,
    pub reason: String,
    pub hits: u32,
    pub count: u32,
    /// Bans folded into this prefix ban.
    pub members: Vec<Net>,
}

/// A stored ban to rebuild the engine's state from at start (one per
/// store row: an enforced network, a part of a carved prefix, or a member
/// folded into a prefix).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBan {
    pub net: Net,
    pub prefix: Option<Net>,
    pub folded_into: Option<Net>,
    pub since: Timestamp,
    pub until: Timestamp,
    pub jail: String,
    pub source: Source,
    pub reason: String,
    pub hits: u32,
    pub count: u32,
}

/// Past bans of a network in a jail (from the store), for escalation
/// across restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastBans {
    pub net: Net,
    pub jail: String,
    pub count: u32,
    pub last_until: Timestamp,
}

const JAIL_MANUAL: u16 = u16::MAX;
const JAIL_CONN: u16 = u16::MAX - 1;
const JAIL_PREFIX: u16 = u16::MAX - 2;

#[derive(Debug)]
struct Jail {
    name: Arc<str>,
    maxretry: u32,
    findtime: u64,
    bantime: Option<u64>,
    increment: Option<Increment>,
    ignore: Whitelist,
}

#[derive(Debug)]
struct PrefixRule {
    members: u32,
    window: u64,
    v4: u8,
    v6: u8,
    enabled: bool,
}

#[derive(Debug)]
struct ConnRule {
    per_source: Option<u32>,
    per_prefix: Option<u32>,
    per_source_port: Option<u32>,
    per_port: Option<u32>,
    syn_recv: Option<u32>,
    ports: Vec<u16>,
}

#[derive(Debug, Clone)]
struct Entry {
    since: Timestamp,
    until: Timestamp,
    jail: Arc<str>,
    source: Source,
    reason: String,
    hits: u32,
    count: u32,
    parts: Vec<Net>,
    members: Vec<(Net, Entry)>,
}

#[derive(Debug, Clone, Copy)]
struct History {
    count: u32,
    last_until: Timestamp,
}

/// The ban decision engine.
#[derive(Debug)]
pub struct Engine {
    dry_run: bool,
    whitelist: Whitelist,
    jails: Vec<Jail>,
    by_name: HashMap<Arc<str>, u16, foldhash::fast::RandomState>,
    special: [Jail; 3],
    prefix: PrefixRule,
    conn: Option<ConnRule>,
    history_age: u64,
    failures: AgingMap<(u16, IpAddr), u32>,
    history: AgingMap<(u16, Net), History>,
    windows: AgingMap<Net, Members>,
    bans: Bans,
    lens: [Vec<u32>; 2],
    expiries: BinaryHeap<Reverse<(Timestamp, Net)>>,
    rng: u64,
    metrics: Metrics,
    evictions_reported: u64,
}

impl Engine {
    /// Validates the configuration. Every error names its jail and key.
    pub fn new(config: &GuardConfig) -> Result<Engine, Error> {
        let whitelist = Whitelist::from_entries(&config.ignoreip, true, "ignoreip")?;
        let mut jails = Vec::new();
        let mut by_name: HashMap<Arc<str>, u16, foldhash::fast::RandomState> = HashMap::default();
        for (name, j) in &config.jail {
            if !j.enabled {
                continue;
            }
            let place = format!("jail {name}");
            if j.maxretry == 0 {
                return Err(Error::Config {
                    place: format!("{place}: maxretry"),
                    message: "must be at least 1".into(),
                });
            }
            let findtime = j.findtime.seconds().ok_or_else(|| Error::Config {
                place: format!("{place}: findtime"),
                message: "must not be negative".into(),
            })?;
            let increment = match &j.bantime_increment {
                Some(c) => Increment::from_config(c, &place)?,
                None => None,
            };
            let name: Arc<str> = Arc::from(name.as_str());
            by_name.insert(name.clone(), u16::try_from(jails.len()).unwrap_or(0));
            jails.push(Jail {
                name,
                maxretry: j.maxretry,
                findtime,
                bantime: j.bantime.seconds(),
                increment,
                ignore: Whitelist::from_entries(&j.ignoreip, false, &format!("{place}: ignoreip"))?,
            });
        }
        if jails.len() >= usize::from(JAIL_PREFIX) {
            return Err(Error::Config {
                place: "jail".into(),
                message: "too many jails".into(),
            });
        }
        let p = &config.prefix;
        if p.ipv4 > 32 || p.ipv6 > 128 || p.members == 0 {
            return Err(Error::Config {
                place: "prefix".into(),
                message: "ipv4 must be at most 32, ipv6 at most 128, members at least 1".into(),
            });
        }
        let secs = |d: crate::Duration, place: &str| {
            d.seconds().ok_or_else(|| Error::Config {
                place: place.into(),
                message: "must not be negative".into(),
            })
        };
        let special_jail = |name: &str,
                            bantime: crate::Duration,
                            inc: &Option<crate::config::BantimeIncrement>|
         -> Result<Jail, Error> {
            Ok(Jail {
                name: Arc::from(name),
                maxretry: 1,
                findtime: 0,
                bantime: bantime.seconds(),
                increment: match inc {
                    Some(c) => Increment::from_config(c, name)?,
                    None => None,
                },
                ignore: Whitelist::default(),
            })
        };
        let conn_cfg = config
            .connlimit
            .clone()
            .unwrap_or(crate::config::ConnLimitConfig {
                per_source: None,
                per_prefix: None,
                per_source_port: None,
                per_port: None,
                syn_recv: None,
                ports: Vec::new(),
                bantime: crate::Duration(3600),
                bantime_increment: None,
            });
        let special = [
            special_jail("manual", crate::Duration(-1), &None)?,
            special_jail("conntrack", conn_cfg.bantime, &conn_cfg.bantime_increment)?,
            special_jail("prefix", p.bantime, &p.bantime_increment)?,
        ];
        Ok(Engine {
            dry_run: config.dry_run,
            whitelist,
            jails,
            by_name,
            special,
            prefix: PrefixRule {
                members: p.members,
                window: secs(p.window, "prefix: window")?,
                v4: p.ipv4,
                v6: p.ipv6,
                enabled: p.enabled,
            },
            conn: config.connlimit.as_ref().map(|c| ConnRule {
                per_source: c.per_source,
                per_prefix: c.per_prefix,
                per_source_port: c.per_source_port,
                per_port: c.per_port,
                syn_recv: c.syn_recv,
                ports: c.ports.clone(),
            }),
            history_age: secs(config.history, "history")?,
            failures: AgingMap::new(config.limits.max_tracked),
            history: AgingMap::new(config.limits.max_history),
            windows: AgingMap::new(config.limits.max_history),
            bans: Bans::default(),
            lens: [vec![0; 33], vec![0; 129]],
            expiries: BinaryHeap::new(),
            rng: 0x9E37_79B9_7F4A_7C15,
            metrics: Metrics::default(),
            evictions_reported: 0,
        })
    }

    /// Seeds the generator behind `rndtime` (the daemon passes something
    /// unpredictable; tests a constant).
    pub fn with_seed(mut self, seed: u64) -> Engine {
        self.rng = seed | 1;
        self
    }

    pub fn set_dry_run(&mut self, on: bool) {
        self.dry_run = on;
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// The lengths prefix escalation and connection limits group sources
    /// by (IPv4, IPv6).
    pub fn prefix_lengths(&self) -> (u8, u8) {
        (self.prefix.v4, self.prefix.v6)
    }

    /// Destination ports the connection limits count (empty: all).
    pub fn conn_ports(&self) -> &[u16] {
        self.conn.as_ref().map_or(&[], |c| &c.ports)
    }

    /// Host names of the global and the jails' `ignoreip` the caller
    /// should resolve, at start and then now and then.
    pub fn host_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.whitelist.host_names().to_vec();
        for j in &self.jails {
            v.extend(j.ignore.host_names().iter().cloned());
        }
        v.sort();
        v.dedup();
        v
    }

    pub fn metrics(&self) -> Metrics {
        Metrics {
            counters_evicted: self.failures.evicted(),
            history_evicted: self.history.evicted() + self.windows.evicted(),
            tracked: self.failures.len(),
            active_bans: self.bans.len(),
            ..self.metrics.clone()
        }
    }

    /// Bytes held by the failure counters (for the memory bound).
    pub fn counter_bytes(&self) -> usize {
        self.failures.heap_bytes()
    }

    /// Whether the global whitelist holds `addr`.
    pub fn is_whitelisted(&self, addr: IpAddr) -> bool {
        self.whitelist.contains(addr)
    }

    /// The active bans, in address order.
    pub fn active(&self) -> impl Iterator<Item = ActiveBan> + '_ {
        self.bans.iter().map(|(net, e)| ActiveBan {
            net: *net,
            parts: e.parts.clone(),
            since: e.since,
            until: e.until,
            jail: e.jail.clone(),
            source: e.source,
            reason: e.reason.clone(),
            hits: e.hits,
            count: e.count,
            members: e.members.iter().map(|(n, _)| *n).collect(),
        })
    }

    /// The active ban covering `addr`, if any.
    pub fn ban_of(&self, addr: IpAddr) -> Option<Net> {
        self.covering(&Net::host(addr))
    }

    /// One failure of `addr` seen by `jail` (a filter matched a log line);
    /// `info` goes into the ban's reason.
    pub fn on_failure(
        &mut self,
        now: Timestamp,
        jail: &str,
        addr: IpAddr,
        info: &str,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let addr = canonical(addr);
        self.metrics.failures += 1;
        let Some(&j) = self.by_name.get(jail) else {
            out.push(Action::Alert(Alert {
                kind: AlertKind::UnknownJail,
                message: format!("failure of {addr} for unknown jail {jail:?}"),
            }));
            return out;
        };
        let jl = &self.jails[usize::from(j)];
        if self.whitelist.contains(addr) || jl.ignore.contains(addr) {
            self.metrics.ignored_whitelisted += 1;
            return out;
        }
        if let Some(c) = self.covering(&Net::host(addr)) {
            if let Some(e) = self.bans.get_mut(&c) {
                e.hits = e.hits.saturating_add(1);
            }
            self.metrics.hits_while_banned += 1;
            return out;
        }
        let (findtime, maxretry) = (jl.findtime, jl.maxretry);
        let key = (j, addr);
        // fail2ban: the window starts at the first failure and restarts
        // when a failure comes after it ended.
        // A first failure that bans at once (maxretry 1) needs no counter.
        let (count, tracked) = match self.failures.get_mut(&key) {
            Some((c, start)) if u64::from(start) + findtime >= now => {
                *c += 1;
                (*c, true)
            }
            None if maxretry <= 1 => (1, false),
            _ => {
                self.failures.insert(key, stamp(now), 1);
                (1, true)
            }
        };
        if count >= maxretry {
            if tracked {
                self.failures.remove(&key);
            }
            let reason = if info.is_empty() {
                format!("{count} failures within {findtime}s")
            } else {
                format!("{count} failures within {findtime}s; last: {info}")
            };
            self.decide(
                now,
                j,
                Net::host(addr),
                count,
                Source::Jail,
                reason,
                &mut out,
            );
        }
        self.report_shedding(&mut out);
        out
    }

    /// A conntrack snapshot's counts (built with [`Engine::prefix_lengths`]
    /// and [`Engine::conn_ports`]): bans for every source, source port and
    /// prefix over its limit; alerts for ports over `per_port`.
    pub fn on_conn_counts(&mut self, now: Timestamp, counts: &ConnCounts) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(rule) = &self.conn else {
            return out;
        };
        // Per host: the first limit passed gives the reason.
        let mut hosts: BTreeMap<IpAddr, (u32, String)> = BTreeMap::new();
        let mut over = |addr: IpAddr, n: u32, what: String| {
            hosts.entry(addr).or_insert((n, what));
        };
        if let Some(l) = rule.per_source {
            for (a, &n) in &counts.per_source {
                if n > l {
                    over(*a, n, format!("{n} connections (limit {l})"));
                }
            }
        }
        if let Some(l) = rule.syn_recv {
            for (a, &n) in &counts.syn_recv {
                if n > l {
                    over(
                        *a,
                        n,
                        format!("{n} half-open connections (SYN_RECV, limit {l})"),
                    );
                }
            }
        }
        if let Some(l) = rule.per_source_port {
            for ((a, p), &n) in &counts.per_source_port {
                if n > l {
                    over(*a, n, format!("{n} connections to port {p} (limit {l})"));
                }
            }
        }
        let mut prefixes: Vec<(Net, u32, String)> = Vec::new();
        if let Some(l) = rule.per_prefix {
            for (p, &n) in &counts.per_prefix {
                if n > l {
                    prefixes.push((*p, n, format!("{n} connections from {p} (limit {l})")));
                }
            }
        }
        prefixes.sort_by_key(|a| a.0);
        let mut ports: Vec<(u16, u32)> = match rule.per_port {
            Some(l) => counts
                .per_port
                .iter()
                .filter(|(_, &n)| n > l)
                .map(|(&p, &n)| (p, n))
                .collect(),
            None => Vec::new(),
        };
        ports.sort_unstable();
        let port_limit = rule.per_port.unwrap_or(0);
        for (p, n) in ports {
            out.push(Action::Alert(Alert {
                kind: AlertKind::PortLimit,
                message: format!("{n} connections to port {p} (limit {port_limit})"),
            }));
        }
        for (p, n, reason) in prefixes {
            if self.whitelist.carve(&p).is_empty() || self.covering(&p).is_some() {
                continue;
            }
            self.decide(now, JAIL_CONN, p, n, Source::Conntrack, reason, &mut out);
        }
        for (a, (n, reason)) in hosts {
            let a = canonical(a);
            if self.whitelist.contains(a) {
                self.metrics.ignored_whitelisted += 1;
                continue;
            }
            if self.covering(&Net::host(a)).is_some() {
                continue;
            }
            self.decide(
                now,
                JAIL_CONN,
                Net::host(a),
                n,
                Source::Conntrack,
                reason,
                &mut out,
            );
        }
        out
    }

    /// Time passes: bans whose time is up end (a prefix's members still
    /// due come back), counters and history age out.
    pub fn on_tick(&mut self, now: Timestamp) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(Reverse((until, net))) = self.expiries.peek().copied() {
            if until > now {
                break;
            }
            self.expiries.pop();
            if self.bans.get(&net).is_some_and(|e| e.until == until) {
                self.end(now, net, UnbanCause::Expired, None, &mut out);
            }
        }
        let jails = &self.jails;
        self.failures.age(|(j, _), _, start| {
            let findtime = jails.get(usize::from(*j)).map_or(0, |j| j.findtime);
            u64::from(start) + findtime < now
        });
        let age = self.history_age;
        self.history
            .age(|_, h, _| h.last_until != FOREVER && h.last_until.saturating_add(age) < now);
        let window = self.prefix.window;
        self.windows
            .age(|_, _, start| u64::from(start) + window < now);
        self.report_shedding(&mut out);
        out
    }

    /// A ban by hand of an address or network for `duration` seconds
    /// (`None`: forever). Refused when the whitelist covers all of it; a
    /// network that holds whitelisted addresses is split around them.
    pub fn ban(
        &mut self,
        now: Timestamp,
        net: Net,
        duration: Option<u64>,
        reason: &str,
    ) -> Result<Vec<Action>, Error> {
        if self.whitelist.carve(&net).is_empty() {
            return Err(Error::Whitelisted { net });
        }
        let mut out = Vec::new();
        let until = duration.map_or(FOREVER, |d| now.saturating_add(d));
        let entry = Entry {
            since: now,
            until,
            jail: self.special[0].name.clone(),
            source: Source::Manual,
            reason: if reason.is_empty() {
                "banned by hand".into()
            } else {
                reason.to_string()
            },
            hits: 0,
            count: 0,
            parts: Vec::new(),
            members: Vec::new(),
        };
        self.insert(net, entry, false, &mut out);
        Ok(out)
    }

    /// Ends the ban of `net`, or the ban that covers it (a prefix ban:
    /// its other members still due come back). Its failure counters are
    /// cleared.
    pub fn unban(&mut self, now: Timestamp, net: Net) -> Result<Vec<Action>, Error> {
        let target = if self.bans.contains_key(&net) {
            net
        } else {
            self.covering(&net).ok_or(Error::NotBanned { net })?
        };
        let mut out = Vec::new();
        self.end(
            now,
            target,
            UnbanCause::Manual,
            (target != net).then_some(net),
            &mut out,
        );
        if net.is_host() {
            for j in 0..self.jails.len() {
                self.failures
                    .remove(&(u16::try_from(j).unwrap_or(0), net.addr()));
            }
        }
        Ok(out)
    }

    /// The current addresses of a whitelisted host name (from the
    /// caller's resolver). Bans that now cover a whitelisted address are
    /// lifted or split.
    pub fn set_resolved(&mut self, now: Timestamp, name: &str, addrs: &[IpAddr]) -> Vec<Action> {
        self.whitelist.set_resolved(name, addrs);
        for j in &mut self.jails {
            j.ignore.set_resolved(name, addrs);
        }
        self.reconcile(now)
    }

    /// Replaces a dynamic whitelist group (the host's addresses, the admin
    /// SSH sessions); bans that now cover them are lifted or split.
    pub fn set_group(&mut self, now: Timestamp, group: Group, addrs: &[IpAddr]) -> Vec<Action> {
        self.whitelist.set_group(group, addrs);
        self.reconcile(now)
    }

    /// Rebuilds the active bans from the store at start. Bans whose time
    /// is up are dropped; the whitelist of now applies. Returns the bans
    /// to put back into the kernel (`restored`, with their `until`).
    pub fn restore(
        &mut self,
        now: Timestamp,
        rows: impl IntoIterator<Item = StoredBan>,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let mut logical: BTreeMap<Net, StoredBan> = BTreeMap::new();
        let mut folded: Vec<StoredBan> = Vec::new();
        for r in rows {
            if r.until <= now {
                continue;
            }
            if r.folded_into.is_some() {
                folded.push(r);
            } else {
                let key = r.prefix.unwrap_or(r.net);
                logical.entry(key).or_insert(r);
            }
        }
        // Wider networks first, so their members fold in quietly.
        let mut order: Vec<(Net, StoredBan)> = logical.into_iter().collect();
        order.sort_by_key(|(n, _)| (n.prefix_len(), *n));
        for (net, r) in order {
            let e = self.entry_from(&r);
            if let Some(c) = self.covering(&net) {
                if let Some(p) = self.bans.get_mut(&c) {
                    p.members.push((net, e));
                }
                continue;
            }
            self.insert(net, e, true, &mut out);
        }
        for r in folded {
            let e = self.entry_from(&r);
            let into = r.folded_into.unwrap_or(r.net);
            match self.bans.get_mut(&into) {
                Some(p) => p.members.push((r.net, e)),
                None => {
                    if self.covering(&r.net).is_none() && !self.whitelist.carve(&r.net).is_empty() {
                        self.insert(r.net, e, true, &mut out);
                    }
                }
            }
        }
        out
    }

    /// Past bans from the store, so escalation survives a restart.
    /// Unknown jails are skipped.
    pub fn seed_history(&mut self, rows: impl IntoIterator<Item = PastBans>) {
        for r in rows {
            let j = match r.jail.as_str() {
                "manual" => JAIL_MANUAL,
                "conntrack" => JAIL_CONN,
                "prefix" => JAIL_PREFIX,
                name => match self.by_name.get(name) {
                    Some(&j) => j,
                    None => continue,
                },
            };
            self.history.insert(
                (j, r.net),
                stamp(r.last_until.min(u64::from(u32::MAX))),
                History {
                    count: r.count,
                    last_until: r.last_until,
                },
            );
        }
    }

    // ---- internals ----

    fn jail(&self, j: u16) -> &Jail {
        match j {
            JAIL_MANUAL => &self.special[0],
            JAIL_CONN => &self.special[1],
            JAIL_PREFIX => &self.special[2],
            _ => &self.jails[usize::from(j)],
        }
    }

    fn entry_from(&self, r: &StoredBan) -> Entry {
        let jail = match self.by_name.get_key_value(r.jail.as_str()) {
            Some((k, _)) => k.clone(),
            None => match r.jail.as_str() {
                "manual" => self.special[0].name.clone(),
                "conntrack" => self.special[1].name.clone(),
                "prefix" => self.special[2].name.clone(),
                other => Arc::from(other),
            },
        };
        Entry {
            since: r.since,
            until: r.until,
            jail,
            source: r.source,
            reason: r.reason.clone(),
            hits: r.hits,
            count: r.count,
            parts: Vec::new(),
            members: Vec::new(),
        }
    }

    /// Earlier bans of `net` counted for jail `j`.
    fn earlier_bans(&self, j: u16, net: Net, overall: bool) -> u32 {
        if !overall {
            return self.history.get(&(j, net)).map_or(0, |(h, _)| h.count);
        }
        let mut n = 0u32;
        let all = (0..self.jails.len())
            .filter_map(|i| u16::try_from(i).ok())
            .chain([JAIL_MANUAL, JAIL_CONN, JAIL_PREFIX]);
        for i in all {
            n = n.saturating_add(self.history.get(&(i, net)).map_or(0, |(h, _)| h.count));
        }
        n
    }

    /// A new ban decided by jail `j` (or the conntrack/prefix pseudo
    /// jails): its length with escalation, the history, prefix
    /// escalation.
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        now: Timestamp,
        j: u16,
        net: Net,
        hits: u32,
        source: Source,
        reason: String,
        out: &mut Vec<Action>,
    ) {
        let jail = self.jail(j);
        let name = jail.name.clone();
        let overall = jail.increment.as_ref().is_some_and(|i| i.overalljails);
        let count = if jail.increment.is_some() {
            self.earlier_bans(j, net, overall)
        } else {
            0
        };
        let random = self.next_random();
        let jail = self.jail(j);
        let length = match (jail.bantime, &jail.increment) {
            (None, _) => None,
            (Some(b), Some(inc)) => Some(inc.ban_time(b, count, random)),
            (Some(b), None) => Some(b),
        };
        let until = length.map_or(FOREVER, |l| now.saturating_add(l));
        let prev = self.history.get(&(j, net)).map_or(0, |(h, _)| h.count);
        self.history.insert(
            (j, net),
            stamp(now),
            History {
                count: prev.saturating_add(1),
                last_until: until,
            },
        );
        let entry = Entry {
            since: now,
            until,
            jail: name,
            source,
            reason,
            hits,
            count,
            parts: Vec::new(),
            members: Vec::new(),
        };
        if !self.insert(net, entry, false, out) {
            return;
        }
        if net.is_host() && source != Source::Prefix && self.prefix.enabled {
            self.track_prefix(now, net.addr(), out);
        }
    }

    fn track_prefix(&mut self, now: Timestamp, addr: IpAddr, out: &mut Vec<Action>) {
        let len = if addr.is_ipv4() {
            self.prefix.v4
        } else {
            self.prefix.v6
        };
        let p = Net::containing(addr, len);
        if p.is_host() {
            return;
        }
        let window = self.prefix.window;
        let members = match self.windows.get_mut(&p) {
            Some((m, start)) if u64::from(start) + window >= now => m.add(addr),
            _ => {
                self.windows.insert(p, stamp(now), Members::One(addr));
                1
            }
        };
        if members < self.prefix.members as usize || self.covering(&p).is_some() {
            return;
        }
        self.windows.remove(&p);
        let reason = format!("{members} addresses of {p} banned within {window}s");
        out.push(Action::Alert(Alert {
            kind: AlertKind::PrefixBanned,
            message: reason.clone(),
        }));
        self.metrics.prefix_bans += 1;
        let hits = u32::try_from(members).unwrap_or(u32::MAX);
        self.decide(now, JAIL_PREFIX, p, hits, Source::Prefix, reason, out);
    }

    /// Adds an active ban: carves it around the whitelist, folds the bans
    /// inside it, emits the bans. False when nothing was banned.
    fn insert(&mut self, net: Net, mut e: Entry, restored: bool, out: &mut Vec<Action>) -> bool {
        // A host is whole or whitelisted: no interval algebra for it.
        let parts = if net.is_host() {
            if self.whitelist.contains(net.addr()) {
                Vec::new()
            } else {
                vec![net]
            }
        } else {
            self.whitelist.carve(&net)
        };
        if parts.is_empty() {
            if !restored {
                self.metrics.ignored_whitelisted += 1;
                out.push(Action::Alert(Alert {
                    kind: AlertKind::RefusedWhitelisted,
                    message: format!("not banning {net} ({}): whitelisted", e.reason),
                }));
            }
            return false;
        }
        if let Some(c) = self.covering(&net).filter(|c| *c != net) {
            // Already blocked by a wider ban: keep it as a member of that.
            if let Some(p) = self.bans.get_mut(&c) {
                p.members.push((net, e));
            }
            return false;
        }
        let carved = parts.len() != 1 || parts[0] != net;
        if carved && !restored {
            out.push(Action::Alert(Alert {
                kind: AlertKind::PrefixCarved,
                message: format!(
                    "{net} holds whitelisted addresses: banning the {} networks around them",
                    parts.len()
                ),
            }));
        }
        // Fold the bans inside it (not itself). Their unbans go out first:
        // a part of a carved prefix may be the same network as a member.
        let mut members: Vec<(Net, Entry)> = Vec::new();
        let mut unbans: Vec<Action> = Vec::new();
        if !net.is_host() {
            let (lo, hi) = net.range_bounds();
            let inside: Vec<Net> = self
                .bans
                .range(lo, hi)
                .copied()
                .filter(|n| *n != net && net.covers(n))
                .collect();
            for n in inside {
                if let Some(mut m) = self.bans.remove(&n) {
                    self.count_len(&n, -1);
                    members.append(&mut m.members);
                    for part in std::mem::take(&mut m.parts) {
                        unbans.push(self.unban_action(
                            part,
                            n,
                            e.since,
                            UnbanCause::Folded { into: net },
                        ));
                    }
                    members.push((n, m));
                }
            }
        }
        if let Some(old) = self.bans.remove(&net) {
            // The same network again: keep the later end.
            self.count_len(&net, -1);
            e.until = e.until.max(old.until);
            e.hits = e.hits.saturating_add(old.hits);
            members.extend(old.members);
            for part in old.parts.iter().filter(|p| !parts.contains(p)) {
                unbans.push(self.unban_action(*part, net, e.since, UnbanCause::Whitelisted));
            }
        }
        e.parts = parts;
        e.members = members;
        out.append(&mut unbans);
        for part in &e.parts {
            out.push(Action::Ban(Ban {
                net: *part,
                prefix: carved.then_some(net),
                since: e.since,
                until: e.until,
                jail: e.jail.clone(),
                source: e.source,
                reason: e.reason.clone(),
                hits: e.hits,
                count: e.count,
                restored,
                dry_run: self.dry_run,
            }));
        }
        if e.until != FOREVER {
            self.expiries.push(Reverse((e.until, net)));
        }
        if !restored {
            self.metrics.bans += 1;
        }
        self.count_len(&net, 1);
        self.bans.insert(net, e);
        true
    }

    /// Ends the ban of `net`: its networks go, then its members still due
    /// come back. `skip` (the address unbanned by hand) does not come back.
    fn end(
        &mut self,
        now: Timestamp,
        net: Net,
        cause: UnbanCause,
        skip: Option<Net>,
        out: &mut Vec<Action>,
    ) {
        let Some(e) = self.bans.remove(&net) else {
            return;
        };
        self.count_len(&net, -1);
        self.metrics.unbans += 1;
        for part in &e.parts {
            out.push(self.unban_action(*part, net, now, cause));
        }
        for (m, mut me) in e.members {
            if me.until <= now || skip.is_some_and(|s| s.covers(&m) || m.covers(&s)) {
                continue;
            }
            me.parts = Vec::new();
            self.insert(m, me, true, out);
        }
    }

    fn unban_action(&self, part: Net, of: Net, at: Timestamp, cause: UnbanCause) -> Action {
        Action::Unban(Unban {
            net: part,
            prefix: (part != of).then_some(of),
            at,
            cause,
            dry_run: self.dry_run,
        })
    }

    /// After a whitelist change: lift or split every ban that covers a
    /// whitelisted address.
    fn reconcile(&mut self, now: Timestamp) -> Vec<Action> {
        let mut out = Vec::new();
        let affected: Vec<Net> = self
            .bans
            .iter()
            .filter(|(n, e)| {
                let parts = self.whitelist.carve(n);
                parts != e.parts
            })
            .map(|(n, _)| *n)
            .collect();
        for net in affected {
            let parts = self.whitelist.carve(&net);
            if parts.is_empty() {
                self.end(now, net, UnbanCause::Whitelisted, None, &mut out);
                continue;
            }
            if let Some(e) = self.bans.get(&net).cloned() {
                // Re-insert: bans the new parts, then unbans the old ones
                // that are gone.
                self.bans.remove(&net);
                self.count_len(&net, -1);
                let mut e2 = e.clone();
                e2.parts = Vec::new();
                e2.members = Vec::new();
                let members = e.members;
                self.insert(net, e2, true, &mut out);
                let new_parts = self
                    .bans
                    .get(&net)
                    .map(|x| x.parts.clone())
                    .unwrap_or_default();
                for part in e.parts.iter().filter(|p| !new_parts.contains(p)) {
                    out.push(self.unban_action(*part, net, now, UnbanCause::Whitelisted));
                }
                if let Some(x) = self.bans.get_mut(&net) {
                    x.members = members;
                }
            }
        }
        out
    }

    /// The active ban that covers `net` (itself included).
    fn covering(&self, net: &Net) -> Option<Net> {
        let lens = &self.lens[usize::from(!net.is_ipv4())];
        for len in (0..=net.prefix_len()).rev() {
            if lens.get(usize::from(len)).copied().unwrap_or(0) == 0 {
                continue;
            }
            let c = Net::containing(net.addr(), len);
            if self.bans.contains_key(&c) {
                return Some(c);
            }
        }
        None
    }

    fn count_len(&mut self, net: &Net, delta: i32) {
        let lens = &mut self.lens[usize::from(!net.is_ipv4())];
        if let Some(c) = lens.get_mut(usize::from(net.prefix_len())) {
            *c = c.saturating_add_signed(delta);
        }
    }

    fn report_shedding(&mut self, out: &mut Vec<Action>) {
        let evicted = self.failures.evicted() + self.history.evicted() + self.windows.evicted();
        // Report when crossing each power of two, so a flood gives a few
        // alerts, not one per failure.
        if evicted > self.evictions_reported && evicted.is_power_of_two() {
            self.evictions_reported = evicted;
            out.push(Action::Alert(Alert {
                kind: AlertKind::Shedding,
                message: format!(
                    "memory bound reached: {} failure counters and {} history entries forgotten early (max_tracked {}, max_history)",
                    self.failures.evicted(),
                    self.history.evicted() + self.windows.evicted(),
                    self.failures.len()
                ),
            }));
        }
    }

    /// xorshift64*: in [0, 1).
    fn next_random(&mut self) -> f64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The active bans: found by network through a hash map (a lookup per
/// failure and a few per ban), ordered by a set of the networks alone (a
/// prefix ban finds the bans inside it with one range query). The large
/// entries never move inside a B-tree.
#[derive(Debug, Default)]
struct Bans {
    map: HashMap<Net, Entry, foldhash::fast::RandomState>,
    order: std::collections::BTreeSet<Net>,
}

impl Bans {
    fn len(&self) -> usize {
        self.map.len()
    }

    /// In address order.
    fn iter(&self) -> impl Iterator<Item = (&Net, &Entry)> + '_ {
        self.order
            .iter()
            .filter_map(|n| self.map.get(n).map(|e| (n, e)))
    }

    fn get(&self, net: &Net) -> Option<&Entry> {
        self.map.get(net)
    }

    fn get_mut(&mut self, net: &Net) -> Option<&mut Entry> {
        self.map.get_mut(net)
    }

    fn contains_key(&self, net: &Net) -> bool {
        self.map.contains_key(net)
    }

    fn remove(&mut self, net: &Net) -> Option<Entry> {
        let e = self.map.remove(net)?;
        self.order.remove(net);
        Some(e)
    }

    fn insert(&mut self, net: Net, e: Entry) {
        if self.map.insert(net, e).is_none() {
            self.order.insert(net);
        }
    }

    /// The banned networks from `lo` to `hi` in `Net`'s order.
    fn range(&self, lo: Net, hi: Net) -> impl Iterator<Item = &Net> + '_ {
        self.order.range(lo..=hi)
    }
}

/// The distinct banned addresses of a prefix within its window. Under a
/// spread-out flood most prefixes see one: it is kept without an
/// allocation.
#[derive(Debug, Clone)]
enum Members {
    One(IpAddr),
    Many(Vec<IpAddr>),
}

impl Members {
    /// Adds `addr` (once); the number of distinct members.
    fn add(&mut self, addr: IpAddr) -> usize {
        match self {
            Members::One(a) if *a == addr => 1,
            Members::One(a) => {
                *self = Members::Many(vec![*a, addr]);
                2
            }
            Members::Many(v) => {
                if !v.contains(&addr) {
                    v.push(addr);
                }
                v.len()
            }
        }
    }
}

/// Seconds as the counters keep them (u32: until 2106).
fn stamp(now: Timestamp) -> u32 {
    u32::try_from(now).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BantimeIncrement, ConnLimitConfig, JailConfig};
    use crate::Duration;

    const T: Timestamp = 1_700_000_000;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn n(s: &str) -> Net {
        s.parse().expect("net")
    }

    fn config(jail: JailConfig) -> GuardConfig {
        let mut c = GuardConfig::default();
        c.jail.insert("sshd".into(), jail);
        c
    }

    fn engine(jail: JailConfig) -> Engine {
        Engine::new(&config(jail)).expect("valid")
    }

    fn bans(actions: &[Action]) -> Vec<&Ban> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Ban(b) => Some(b),
                _ => None,
            })
            .collect()
    }

    fn unbans(actions: &[Action]) -> Vec<&Unban> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Unban(u) => Some(u),
                _ => None,
            })
            .collect()
    }

    /// `maxretry` failures of `addr` at `t`; the actions of the last one.
    fn fail(e: &mut Engine, t: Timestamp, addr: &str, times: u32) -> Vec<Action> {
        let mut last = Vec::new();
        for _ in 0..times {
            last = e.on_failure(t, "sshd", ip(addr), "Failed password");
        }
        last
    }

    #[test]
    fn maxretry_within_findtime_bans_for_bantime() {
        let mut e = engine(JailConfig::default());
        assert!(fail(&mut e, T, "198.51.100.1", 4).is_empty());
        let a = fail(&mut e, T + 599, "198.51.100.1", 1);
        let b = bans(&a);
        assert_eq!(b.len(), 1);
        assert_eq!(
            (b[0].net, b[0].until, b[0].hits),
            (n("198.51.100.1"), T + 599 + 600, 5)
        );
        assert_eq!(&*b[0].jail, "sshd");
        assert_eq!(b[0].source, Source::Jail);
        assert!(b[0].reason.contains("5 failures") && b[0].reason.contains("Failed password"));
        assert!(!b[0].dry_run && !b[0].restored);
        // Failures while banned count as hits, not as a new ban.
        assert!(fail(&mut e, T + 700, "198.51.100.1", 10).is_empty());
        assert_eq!(e.active().next().expect("active").hits, 15);
    }

    #[test]
    fn findtime_window_restarts_as_fail2ban_does() {
        let mut e = engine(JailConfig::default());
        assert!(fail(&mut e, T, "198.51.100.1", 4).is_empty());
        // 601 s after the window's first failure: the count starts again.
        assert!(fail(&mut e, T + 601, "198.51.100.1", 4).is_empty());
        assert_eq!(bans(&fail(&mut e, T + 700, "198.51.100.1", 1)).len(), 1);
        // Ageing forgets a window that has passed.
        let mut e = engine(JailConfig::default());
        fail(&mut e, T, "198.51.100.2", 3);
        assert_eq!(e.metrics().tracked, 1);
        e.on_tick(T + 601);
        assert_eq!(e.metrics().tracked, 0);
    }

    #[test]
    fn repeat_offenders_get_fail2ban_increments_capped_by_maxtime() {
        let mut e = engine(JailConfig {
            maxretry: 1,
            bantime: Duration(600),
            bantime_increment: Some(BantimeIncrement {
                maxtime: Some(Duration(3000)),
                ..Default::default()
            }),
            ..Default::default()
        });
        let mut t = T;
        let mut lengths = Vec::new();
        for _ in 0..5 {
            let a = fail(&mut e, t, "198.51.100.1", 1);
            let b = bans(&a)[0];
            lengths.push(b.until - t);
            t = b.until;
            e.on_tick(t);
        }
        // 600, then 600·2^1, 600·2^2, then capped at 3000.
        assert_eq!(lengths, [600, 1200, 2400, 3000, 3000]);
    }

    #[test]
    fn multipliers_and_overalljails() {
        let inc = BantimeIncrement {
            multipliers: vec![1, 5, 30],
            overalljails: true,
            ..Default::default()
        };
        let mut c = GuardConfig::default();
        for name in ["sshd", "postfix"] {
            c.jail.insert(
                name.into(),
                JailConfig {
                    maxretry: 1,
                    bantime: Duration(60),
                    bantime_increment: Some(inc.clone()),
                    ..Default::default()
                },
            );
        }
        let mut e = Engine::new(&c).expect("valid");
        let a = ip("198.51.100.9");
        let b1 = bans(&e.on_failure(T, "sshd", a, ""))
            .into_iter()
            .cloned()
            .collect::<Vec<_>>();
        assert_eq!(b1[0].until - T, 60);
        e.on_tick(T + 60);
        // Another jail sees the earlier ban (overalljails): ×5.
        let b2 = bans(&e.on_failure(T + 100, "postfix", a, ""))
            .into_iter()
            .cloned()
            .collect::<Vec<_>>();
        assert_eq!((b2[0].until - (T + 100), b2[0].count), (300, 1));
        e.on_tick(T + 400);
        let b3 = bans(&e.on_failure(T + 500, "sshd", a, ""))
            .into_iter()
            .cloned()
            .collect::<Vec<_>>();
        assert_eq!(b3[0].until - (T + 500), 1800);
    }

    fn prefix_engine() -> Engine {
        let mut c = config(JailConfig {
            maxretry: 1,
            bantime: Duration(7200),
            ..Default::default()
        });
        c.prefix.members = 3;
        c.prefix.window = Duration(600);
        c.prefix.bantime = Duration(3600);
        Engine::new(&c).expect("valid")
    }

    #[test]
    fn prefix_escalation_folds_members_and_restores_them_when_it_ends() {
        let mut e = prefix_engine();
        fail(&mut e, T, "203.0.113.1", 1);
        fail(&mut e, T + 1, "203.0.113.2", 1);
        // A member of another /24 does not count.
        fail(&mut e, T + 1, "203.0.114.2", 1);
        let a = fail(&mut e, T + 2, "203.0.113.3", 1);
        let b = bans(&a);
        assert_eq!(b.len(), 2, "{a:?}");
        assert_eq!(b[0].net, n("203.0.113.3"));
        assert_eq!(
            (b[1].net, b[1].source, b[1].until),
            (n("203.0.113.0/24"), Source::Prefix, T + 2 + 3600)
        );
        let u = unbans(&a);
        let folded: Vec<Net> = u.iter().map(|u| u.net).collect();
        assert_eq!(
            folded,
            [n("203.0.113.1"), n("203.0.113.2"), n("203.0.113.3")]
        );
        assert!(u.iter().all(|u| u.cause
            == UnbanCause::Folded {
                into: n("203.0.113.0/24")
            }));
        // The members' Unbans come before the prefix's Ban (one kernel
        // transaction applies both).
        let first_unban = a
            .iter()
            .position(|x| matches!(x, Action::Unban(_)))
            .expect("unbans");
        let prefix_ban = a
            .iter()
            .position(|x| matches!(x, Action::Ban(b) if b.net.prefix_len() == 24))
            .expect("ban");
        assert!(first_unban < prefix_ban);
        assert!(a.iter().any(|x| matches!(
            x,
            Action::Alert(Alert {
                kind: AlertKind::PrefixBanned,
                ..
            })
        )));
        let active: Vec<Net> = e.active().map(|b| b.net).collect();
        assert_eq!(active, [n("203.0.113.0/24"), n("203.0.114.2")]);
        // A failure inside the prefix is a hit on it.
        assert!(fail(&mut e, T + 3, "203.0.113.77", 1).is_empty());

        // The prefix ends after 1 h; the members (2 h) are still due and
        // come back with their own end.
        let a = e.on_tick(T + 2 + 3600);
        let b = bans(&a);
        let back: Vec<(Net, Timestamp, bool)> =
            b.iter().map(|b| (b.net, b.until, b.restored)).collect();
        assert_eq!(
            back,
            [
                (n("203.0.113.1"), T + 7200, true),
                (n("203.0.113.2"), T + 1 + 7200, true),
                (n("203.0.113.3"), T + 2 + 7200, true)
            ]
        );
        let u = unbans(&a);
        assert_eq!(
            (u.len(), u[0].net, u[0].cause),
            (1, n("203.0.113.0/24"), UnbanCause::Expired)
        );
        assert!(
            a.iter().position(|x| matches!(x, Action::Unban(_)))
                < a.iter().position(|x| matches!(x, Action::Ban(_)))
        );
    }

    #[test]
    fn unbanning_a_member_by_hand_ends_the_prefix_and_keeps_the_others() {
        let mut e = prefix_engine();
        for (i, a) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
            .iter()
            .enumerate()
        {
            fail(&mut e, T + i as u64, a, 1);
        }
        let a = e.unban(T + 10, n("203.0.113.2")).expect("covered");
        let back: Vec<Net> = bans(&a).iter().map(|b| b.net).collect();
        assert_eq!(back, [n("203.0.113.1"), n("203.0.113.3")]);
        assert_eq!(unbans(&a)[0].net, n("203.0.113.0/24"));
        assert_eq!(unbans(&a)[0].cause, UnbanCause::Manual);
        assert_eq!(
            e.unban(T + 10, n("192.0.2.1")),
            Err(Error::NotBanned {
                net: n("192.0.2.1")
            })
        );
        // Members whose own ban ended while folded do not come back.
        let mut e = prefix_engine();
        for (i, a) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
            .iter()
            .enumerate()
        {
            fail(&mut e, T + i as u64, a, 1);
        }
        let a = e.unban(T + 7200, n("203.0.113.0/24")).expect("banned");
        let back: Vec<Net> = bans(&a).iter().map(|b| b.net).collect();
        assert_eq!(back, [n("203.0.113.2"), n("203.0.113.3")]);
    }

    #[test]
    fn whitelist_wins_over_jails_prefixes_and_hand_bans() {
        let mut c = config(JailConfig {
            maxretry: 1,
            ignoreip: vec!["198.51.100.0/24".into()],
            ..Default::default()
        });
        c.ignoreip = vec!["203.0.113.77".into(), "admin.example.net".into()];
        c.prefix.members = 2;
        let mut e = Engine::new(&c).expect("valid");
        assert_eq!(e.host_names(), ["admin.example.net"]);
        // Global, jail-local and localhost entries never ban.
        for a in ["203.0.113.77", "198.51.100.5", "127.0.0.1", "::1"] {
            assert!(fail(&mut e, T, a, 5).is_empty(), "{a}");
        }
        // A prefix with a whitelisted member is split around it.
        fail(&mut e, T, "203.0.113.1", 1);
        let a = fail(&mut e, T, "203.0.113.2", 1);
        let parts: Vec<&Ban> = bans(&a)
            .into_iter()
            .filter(|b| b.source == Source::Prefix)
            .collect();
        assert_eq!(parts.len(), 8);
        assert!(parts
            .iter()
            .all(|b| b.prefix == Some(n("203.0.113.0/24")) && !b.net.contains(ip("203.0.113.77"))));
        assert!(a.iter().any(|x| matches!(
            x,
            Action::Alert(Alert {
                kind: AlertKind::PrefixCarved,
                ..
            })
        )));
        // By hand: refused when all of it is whitelisted.
        assert_eq!(
            e.ban(T, n("127.0.0.0/8"), None, ""),
            Err(Error::Whitelisted {
                net: n("127.0.0.0/8")
            })
        );
        // A host name resolved later lifts the bans that cover it.
        let a = e.ban(T, n("192.0.2.44"), Some(60), "test").expect("bans");
        assert_eq!(bans(&a).len(), 1);
        let a = e.set_resolved(T + 1, "admin.example.net", &[ip("192.0.2.44")]);
        assert_eq!(unbans(&a)[0].net, n("192.0.2.44"));
        assert_eq!(unbans(&a)[0].cause, UnbanCause::Whitelisted);
        // An admin session inside the prefix ban splits it further.
        let a = e.set_group(T + 2, Group::AdminSessions, &[ip("203.0.113.200")]);
        assert!(!bans(&a).is_empty() && !unbans(&a).is_empty());
        for b in e.active() {
            for p in &b.parts {
                assert!(!p.contains(ip("203.0.113.200")) && !p.contains(ip("203.0.113.77")));
            }
        }
    }

    #[test]
    fn dry_run_marks_every_action() {
        let mut c = config(JailConfig {
            maxretry: 1,
            ..Default::default()
        });
        c.dry_run = true;
        let mut e = Engine::new(&c).expect("valid");
        let a = fail(&mut e, T, "198.51.100.1", 1);
        assert!(bans(&a)[0].dry_run);
        let a = e.on_tick(T + 600);
        assert!(unbans(&a)[0].dry_run);
        let a = e.ban(T, n("192.0.2.0/24"), Some(5), "").expect("ok");
        assert!(bans(&a)[0].dry_run);
    }

    #[test]
    fn restore_after_restart_keeps_remaining_time_and_folded_members() {
        let mut e = prefix_engine();
        let mut log = Vec::new();
        for (i, a) in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "192.0.2.9"]
            .iter()
            .enumerate()
        {
            log.extend(fail(&mut e, T + i as u64, a, 1));
        }
        log.extend(
            e.ban(T, n("198.51.100.0/24"), Some(30), "short")
                .expect("ok"),
        );
        // What a store would hold: rows by network, folded ones marked.
        let mut rows: BTreeMap<Net, StoredBan> = BTreeMap::new();
        for x in &log {
            match x {
                Action::Ban(b) => {
                    rows.insert(
                        b.net,
                        StoredBan {
                            net: b.net,
                            prefix: b.prefix,
                            folded_into: None,
                            since: b.since,
                            until: b.until,
                            jail: b.jail.to_string(),
                            source: b.source,
                            reason: b.reason.clone(),
                            hits: b.hits,
                            count: b.count,
                        },
                    );
                }
                Action::Unban(u) => {
                    if let UnbanCause::Folded { into } = u.cause {
                        if let Some(r) = rows.get_mut(&u.net) {
                            r.folded_into = Some(into);
                        }
                    } else {
                        rows.remove(&u.net);
                    }
                }
                Action::Alert(_) => {}
            }
        }
        let mut fresh = prefix_engine();
        let now = T + 100;
        let a = fresh.restore(now, rows.into_values());
        let back: Vec<(Net, Timestamp)> = bans(&a).iter().map(|b| (b.net, b.until)).collect();
        // The 30 s ban is over; the prefix and the other host come back
        // with their original end (remaining = until - now).
        assert_eq!(
            back,
            [
                (n("203.0.113.0/24"), T + 2 + 3600),
                (n("192.0.2.9"), T + 3 + 7200)
            ]
        );
        assert!(bans(&a).iter().all(|b| b.restored));
        assert_eq!(bans(&a)[0].remaining(now), Some(2 + 3600 - 100));
        // The folded members are still there to come back.
        let members = fresh
            .active()
            .find(|b| b.net.prefix_len() == 24)
            .expect("prefix")
            .members;
        assert_eq!(members.len(), 3);
        let a = fresh.unban(now, n("203.0.113.0/24")).expect("banned");
        assert_eq!(bans(&a).len(), 3);
    }

    #[test]
    fn history_seeded_from_the_store_escalates_after_restart() {
        let mut e = engine(JailConfig {
            maxretry: 1,
            bantime_increment: Some(BantimeIncrement::default()),
            ..Default::default()
        });
        e.seed_history([PastBans {
            net: n("198.51.100.1"),
            jail: "sshd".into(),
            count: 2,
            last_until: T - 10,
        }]);
        let a = fail(&mut e, T, "198.51.100.1", 1);
        assert_eq!(bans(&a)[0].until - T, 600 * 4);
        assert_eq!(bans(&a)[0].count, 2);
    }

    #[test]
    fn connection_limits_ban_sources_prefixes_and_alert_ports() {
        let mut c = GuardConfig {
            connlimit: Some(ConnLimitConfig {
                per_source: Some(3),
                per_prefix: Some(5),
                per_source_port: None,
                per_port: Some(6),
                syn_recv: Some(1),
                ports: Vec::new(),
                bantime: Duration(300),
                bantime_increment: None,
            }),
            ..Default::default()
        };
        c.prefix.enabled = false;
        let mut e = Engine::new(&c).expect("valid");
        let entry = |src: &str, state| crate::ConnEntry {
            proto: 6,
            src: ip(src),
            dst: ip("10.0.0.1"),
            dport: Some(80),
            state,
        };
        let mut snapshot = Vec::new();
        for _ in 0..4 {
            snapshot.push(entry("192.0.2.1", Some(crate::TcpState::Established)));
        }
        snapshot.push(entry("192.0.2.2", Some(crate::TcpState::SynRecv)));
        snapshot.push(entry("192.0.2.2", Some(crate::TcpState::SynRecv)));
        snapshot.push(entry("127.0.0.1", Some(crate::TcpState::SynRecv)));
        snapshot.push(entry("127.0.0.1", Some(crate::TcpState::SynRecv)));
        let (v4, v6) = e.prefix_lengths();
        let counts = ConnCounts::from_entries(v4, v6, e.conn_ports(), &snapshot);
        let a = e.on_conn_counts(T, &counts);
        let b: Vec<(Net, Source, Timestamp)> = bans(&a)
            .iter()
            .map(|b| (b.net, b.source, b.until))
            .collect();
        // The /24 (6 > 5) first; its sources are then covered by it.
        assert_eq!(b, [(n("192.0.2.0/24"), Source::Conntrack, T + 300)]);
        assert!(a.iter().any(|x| matches!(
            x,
            Action::Alert(Alert {
                kind: AlertKind::PortLimit,
                ..
            })
        )));
        // Without the prefix limit, the two sources are banned on their own.
        let mut c2 = c.clone();
        if let Some(l) = c2.connlimit.as_mut() {
            l.per_prefix = None;
        }
        let mut e = Engine::new(&c2).expect("valid");
        let a = e.on_conn_counts(T, &counts);
        let b: Vec<(Net, &str)> = bans(&a)
            .iter()
            .map(|b| (b.net, b.reason.as_str()))
            .collect();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].0, n("192.0.2.1"));
        assert!(b[0].1.contains("4 connections"));
        assert!(b[1].1.contains("SYN_RECV"));
    }

    #[test]
    fn unknown_jails_alert_and_bad_configs_are_named() {
        let mut e = engine(JailConfig::default());
        let a = e.on_failure(T, "nope", ip("192.0.2.1"), "");
        assert!(matches!(
            &a[0],
            Action::Alert(Alert {
                kind: AlertKind::UnknownJail,
                ..
            })
        ));
        let e = Engine::new(&config(JailConfig {
            maxretry: 0,
            ..Default::default()
        }))
        .expect_err("refused");
        assert_eq!(e.to_string(), "jail sshd: maxretry: must be at least 1");
        let e = Engine::new(&config(JailConfig {
            ignoreip: vec!["not an address!".into()],
            ..Default::default()
        }))
        .expect_err("refused");
        assert!(e.to_string().starts_with("jail sshd: ignoreip"), "{e}");
    }

    #[test]
    fn permanent_bans_never_expire() {
        let mut e = engine(JailConfig {
            maxretry: 1,
            bantime: Duration(-1),
            ..Default::default()
        });
        let a = fail(&mut e, T, "198.51.100.1", 1);
        assert_eq!(bans(&a)[0].until, FOREVER);
        assert_eq!(bans(&a)[0].remaining(T), None);
        assert!(e.on_tick(u64::from(u32::MAX)).is_empty());
    }
}
