//! State that follows from a sequence of packets: the conntrack table,
//! limit/hashlimit buckets, recent lists, quotas, nth counters and
//! elements added to sets by `-j SET`. Shared by both engines, so their
//! answers over a sequence are the same.

use crate::classifier::FxMap as HashMap;
use crate::context::Time;
use crate::packet::Tuple;
use crate::program::RuleKey;
use rampart_model::set::ElemPart;
use std::net::IpAddr;

/// One tracked connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conn {
    /// As seen at the first hook (before NAT).
    pub orig: Tuple,
    /// The expected reply (after NAT of the original direction).
    pub reply: Tuple,
    pub snat: bool,
    pub dnat: bool,
    pub seen_reply: bool,
    /// A TCP connection opened by a SYN that no reply has answered yet
    /// (conntrack's SYN_SENT).
    pub syn_sent: bool,
    pub mark: u32,
    pub helper: Option<String>,
    pub labels: u128,
    /// Packets and bytes, original and reply direction.
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub last: Time,
}

/// A token bucket in nanoseconds of credit (xt_limit's algorithm with
/// nanoseconds instead of jiffies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bucket {
    pub credit: u128,
    pub last: Time,
}

impl Bucket {
    pub fn full(cap: u128, now: Time) -> Bucket {
        Bucket {
            credit: cap,
            last: now,
        }
    }

    /// Refills for the time passed, then takes `cost` if there is enough
    /// credit. True when the packet is within the rate.
    pub fn take(&mut self, now: Time, cost: u128, cap: u128) -> bool {
        let passed = u128::from(now.since(self.last));
        self.last = self.last.max(now);
        self.credit = (self.credit + passed).min(cap);
        if self.credit >= cost {
            self.credit -= cost;
            true
        } else {
            false
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HashBucket {
    pub bucket: Bucket,
    pub seen: Time,
}

/// Key of a hashlimit bucket: the masked fields its mode selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct HKey {
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

/// One address of a recent list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecentEntry {
    /// Last hits, oldest first (at most [`RECENT_STAMPS`]).
    pub stamps: Vec<Time>,
    pub ttl: u8,
}

/// xt_recent's `ip_pkt_list_tot` default.
pub(crate) const RECENT_STAMPS: usize = 20;

/// Elements added (with their expiry) and deleted by `-j SET`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DynSet {
    pub added: Vec<(Vec<ElemPart>, Option<Time>)>,
    pub deleted: Vec<Vec<ElemPart>>,
}

/// Everything a sequence of packets leaves behind.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    pub conns: Vec<Conn>,
    /// Tuple → (connection, is the reply direction).
    pub by_tuple: HashMap<Tuple, (usize, bool)>,
    pub limits: HashMap<RuleKey, Bucket>,
    pub hashlimits: HashMap<(String, bool), HashMap<HKey, HashBucket>>,
    pub recent: HashMap<String, HashMap<IpAddr, RecentEntry>>,
    pub quotas: HashMap<RuleKey, u64>,
    /// Per connlimit rule and masked address (the rule's key): the
    /// connections it has counted. Keyed so a packet looks only at its own
    /// group, not at every connection the rule ever saw.
    pub connlimit: HashMap<RuleKey, HashMap<Option<IpAddr>, Vec<Tuple>>>,
    pub nth: HashMap<RuleKey, u32>,
    pub sets: HashMap<String, DynSet>,
}

impl State {
    pub fn lookup(&self, t: &Tuple) -> Option<(usize, bool)> {
        self.by_tuple.get(t).copied()
    }

    pub fn insert(&mut self, c: Conn) -> usize {
        let id = self.conns.len();
        self.by_tuple.insert(c.orig, (id, false));
        self.by_tuple.insert(c.reply, (id, true));
        self.conns.push(c);
        id
    }
}

/// The reply tuple conntrack expects for `t` (ICMP queries map to their
/// reply type, kept in `sport`).
pub(crate) fn reply_of(t: &Tuple) -> Tuple {
    let mut r = t.reversed();
    if matches!(t.protocol, 1 | 58) {
        r.sport = match t.sport {
            8 => 0,
            13 => 14,
            15 => 16,
            17 => 18,
            128 => 129,
            x => x,
        };
        r.dport = 0;
    }
    r
}
