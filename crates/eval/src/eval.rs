//! Rule evaluation: the generic matches, every match extension and every
//! target, three-valued (yes / no / unknown), with the reasons.

use crate::context::{Context, Time};
use crate::outcome::{NatRewrite, NatSide, PathKind, RuleRef};
use crate::packet::{CtState, Packet, Tuple};
use crate::program::{Program, RuleKey};
use crate::sets::{Found, KeyPart, SetIndex};
use crate::state::{reply_of, Bucket, HKey, HashBucket, RecentEntry, State, RECENT_STAMPS};
use rampart_model::matches::addrtype::AddrType;
use rampart_model::matches::connbytes::{ConnbytesDir, ConnbytesMode};
use rampart_model::matches::hashlimit::HashlimitRate;
use rampart_model::matches::multiport::MultiportDir;
use rampart_model::matches::pkttype::PktType;
use rampart_model::matches::recent::{RecentCommand, RecentSide};
use rampart_model::matches::set::SetDir;
use rampart_model::matches::statistic::StatisticMode;
use rampart_model::set::SetKind;
use rampart_model::targets::connmark::{ConnmarkMode, ShiftDir};
use rampart_model::targets::nfqueue::QueueSpec;
use rampart_model::{Family, Hook, Iface, IpNet, Match, Neg, PortRange, Rule, TableKind, Target};
use std::net::IpAddr;

/// `format!` only when reasons are asked for (the fast path builds no
/// strings).
macro_rules! fmt {
    ($on:expr, $($t:tt)*) => {
        if $on { format!($($t)*) } else { String::new() }
    };
}

/// Three-valued match result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tri {
    Yes,
    No,
    Unknown,
}

fn tri(b: bool) -> Tri {
    if b {
        Tri::Yes
    } else {
        Tri::No
    }
}

fn neg<T>(n: &Neg<T>, hit: bool) -> Tri {
    tri(hit != n.invert)
}

fn not(invert: bool) -> &'static str {
    if invert {
        "not "
    } else {
        ""
    }
}

/// Reasons collected while a rule is evaluated (only when asked for:
/// the closures are not run otherwise).
#[derive(Debug, Default)]
pub(crate) struct Notes {
    pub on: bool,
    pub yes: Vec<String>,
    pub no: Option<String>,
    pub unknown: Vec<String>,
}

impl Notes {
    pub fn new(on: bool) -> Notes {
        Notes {
            on,
            ..Notes::default()
        }
    }

    fn add(&mut self, t: Tri, f: impl FnOnce() -> String) {
        if !self.on {
            return;
        }
        match t {
            Tri::Yes => self.yes.push(f()),
            Tri::No => {
                if self.no.is_none() {
                    self.no = Some(f());
                }
            }
            Tri::Unknown => self.unknown.push(f()),
        }
    }

    /// One line for the trace.
    pub fn reason(&self, t: Tri) -> String {
        match t {
            Tri::Yes if self.yes.is_empty() => "matches every packet".into(),
            Tri::Yes => self.yes.join(", "),
            Tri::No => self.no.clone().unwrap_or_default(),
            Tri::Unknown => format!("unknown: {}", self.unknown.join("; ")),
        }
    }
}

/// What the connection of the packet looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnView {
    /// Tuples, direction and status are known (a session, or a NEW
    /// packet); false for a lone packet given as ESTABLISHED/RELATED.
    pub known: bool,
    pub orig: Tuple,
    pub reply: Tuple,
    pub reply_dir: bool,
    pub snat: bool,
    pub dnat: bool,
    pub seen_reply: bool,
    pub mark: u32,
    pub helper: Option<String>,
    pub labels: u128,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    pub id: Option<usize>,
}

/// The packet while it travels through the hooks.
#[derive(Debug, Clone)]
pub(crate) struct Flight<'a> {
    /// The packet as rewritten so far; its interface names are not kept
    /// here (`in_iface`, `out`) so that copying it never allocates.
    pub p: Packet,
    pub in_iface: Option<&'a str>,
    pub path: PathKind,
    pub hook: Hook,
    pub table: TableKind,
    pub ct: CtState,
    /// Conntrack has looked at the packet (false in the raw table).
    pub tracked: bool,
    pub conn: ConnView,
    /// Output interface once routed; `None` with `routed`: not known.
    pub out: Option<&'a str>,
    pub routed: bool,
    pub mark_known: bool,
    /// Bumped when addresses/ports change (the classifier re-indexes).
    pub version: u32,
}

/// What a target asks the walker to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Act {
    Continue,
    Accept,
    Drop,
    Reject(rampart_model::targets::reject::RejectWith),
    Queue(u16),
    Unknown(String),
    Return,
    Jump(usize),
    Goto(usize),
}

/// Everything rule evaluation reads and changes.
pub(crate) struct Env<'a, 'b, 'p> {
    pub pkt: &'a Packet,
    pub prog: &'b Program<'p>,
    pub ctx: &'a Context,
    pub st: &'b mut State,
    pub sets: &'b dyn SetIndex,
    pub fl: Flight<'a>,
    pub now: Time,
    /// A single packet without a session: state that only a sequence
    /// gives is described as "as the first packet".
    pub lone: bool,
    /// Build reasons (the trace); off on the fast path.
    pub explain: bool,
    pub nat: Vec<NatRewrite>,
}

impl std::fmt::Debug for Env<'_, '_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").field("fl", &self.fl).finish()
    }
}

fn is_stateful(m: &Match) -> bool {
    match m {
        Match::Limit(_)
        | Match::Hashlimit(_)
        | Match::Recent(_)
        | Match::Quota(_)
        | Match::Statistic(_) => true,
        Match::Connlabel(c) => c.set,
        _ => false,
    }
}

/// Port of a packet for port matches (`None`: not a ported protocol).
fn net_text(n: &IpNet) -> String {
    n.to_string()
}

impl<'a> Env<'a, '_, '_> {
    fn family(&self) -> Family {
        self.fl.p.family()
    }

    /// Evaluates a rule: generic matches, then each match in order. A
    /// stateful match (limit, recent, ...) is only evaluated, and only
    /// changes state, when everything before it matched. `dry`: change no
    /// state (used for rules the classifier skipped).
    pub fn rule(&mut self, rule: &Rule, key: RuleKey, notes: &mut Notes, dry: bool) -> Tri {
        let mut unknown = false;
        macro_rules! step {
            ($t:expr, $f:expr) => {{
                let t: Tri = $t;
                notes.add(t, $f);
                match t {
                    Tri::No => return Tri::No,
                    Tri::Unknown => unknown = true,
                    Tri::Yes => {}
                }
            }};
        }
        let p = &self.fl.p;
        if let Some(n) = &rule.source {
            let hit = n.value.contains(p.src);
            let src = p.src;
            step!(neg(n, hit), || format!(
                "source {src} {}in {}",
                if hit { "" } else { "not " },
                net_text(&n.value)
            ));
        }
        let p = &self.fl.p;
        if let Some(n) = &rule.destination {
            let hit = n.value.contains(p.dst);
            let dst = p.dst;
            step!(neg(n, hit), || format!(
                "destination {dst} {}in {}",
                if hit { "" } else { "not " },
                net_text(&n.value)
            ));
        }
        if let Some(i) = &rule.in_iface {
            let (t, name) = self.iface_in(i);
            step!(t, || iface_text("input", i, name, t));
        }
        if let Some(o) = &rule.out_iface {
            let (t, name) = self.iface_out(o);
            step!(t, || iface_text("output", o, name, t));
        }
        if let Some(pr) = &rule.protocol {
            let pp = self.fl.p.protocol;
            let hit = pr.value.0 == 0 || pr.value.0 == pp;
            step!(neg(pr, hit), || format!(
                "protocol {} {}{}",
                proto_name(pp),
                if hit != pr.invert { "is " } else { "is not " },
                if pr.invert {
                    fmt!(self.explain, "not {}", proto_name(pr.value.0))
                } else {
                    proto_name(pr.value.0)
                }
            ));
        }
        if let Some(f) = rule.fragment {
            let frag = self.fl.p.fragment;
            step!(tri(frag == f), || if frag {
                "a non-first fragment".to_string()
            } else {
                "not a non-first fragment".to_string()
            });
        }
        for m in &rule.matches {
            if unknown && is_stateful(m) {
                continue;
            }
            let dry_here = dry || unknown;
            let (t, why) = self.one(m, key, dry_here, notes.on);
            step!(t, || format!("-m {}: {why}", m.name()));
        }
        if unknown {
            Tri::Unknown
        } else {
            Tri::Yes
        }
    }

    fn iface_in(&self, i: &Neg<Iface>) -> (Tri, Option<&'a str>) {
        if self.fl.path == PathKind::Output {
            // No input device on locally generated packets.
            return (neg(i, i.value.matches("")), Some(""));
        }
        match self.fl.in_iface {
            Some(n) => (neg(i, i.value.matches(n)), Some(n)),
            None if i.value.matches_all() => (neg(i, true), None),
            None => (Tri::Unknown, None),
        }
    }

    fn iface_out(&self, o: &Neg<Iface>) -> (Tri, Option<&'a str>) {
        let has_out = matches!(
            self.fl.hook,
            Hook::Forward | Hook::Output | Hook::Postrouting
        );
        if !has_out {
            return (neg(o, o.value.matches("")), Some(""));
        }
        match self.fl.out {
            Some(n) => (neg(o, o.value.matches(n)), Some(n)),
            None if o.value.matches_all() => (neg(o, true), None),
            None => (Tri::Unknown, None),
        }
    }

    fn states(&self) -> (u8, String) {
        // Bits as CtStates: invalid new related established untracked snat dnat.
        if !self.fl.tracked {
            return (
                1,
                fmt!(
                    self.explain,
                    "INVALID (conntrack has not seen the packet yet)"
                ),
            );
        }
        let mut bits = match self.fl.ct {
            CtState::Invalid => 1,
            CtState::New => 2,
            CtState::Related => 4,
            CtState::Established => 8,
            CtState::Untracked => 16,
        };
        let mut s = self.fl.ct.name().to_string();
        if self.fl.conn.snat {
            bits |= 32;
            s.push_str(",SNAT");
        }
        if self.fl.conn.dnat {
            bits |= 64;
            s.push_str(",DNAT");
        }
        (bits, s)
    }

    /// One match extension: (result, reason).
    fn one(&mut self, m: &Match, key: RuleKey, dry: bool, explain: bool) -> (Tri, String) {
        let unknown = |why: &str| (Tri::Unknown, why.to_string());
        let p = self.fl.p.clone();
        let ports = p.has_ports() && !p.fragment;
        match m {
            Match::Comment(c) => (Tri::Yes, fmt!(self.explain, "comment \"{}\"", c.comment)),
            Match::Tcp(t) => {
                if p.protocol != 6 || p.fragment {
                    return (Tri::No, fmt!(self.explain, "not a TCP header"));
                }
                let mut r = port_check(self.explain, &t.sport, p.sport, "source port");
                if r.0 != Tri::No {
                    r = and(r, port_check(self.explain, &t.dport, p.dport, "destination port"));
                }
                if r.0 != Tri::No {
                    if let Some(f) = &t.flags {
                        let hit = p.tcp_flags & f.value.mask == f.value.comp;
                        r = and(
                            r,
                            (
                                neg(f, hit),
                                fmt!(self.explain,
                                    "flags {} {}{}/{}",
                                    crate::packet::flags_text(p.tcp_flags),
                                    if hit != f.invert { "match " } else { "do not match " },
                                    crate::packet::flags_text(f.value.comp),
                                    crate::packet::flags_text(f.value.mask)
                                ),
                            ),
                        );
                    }
                }
                if r.0 != Tri::No && t.option.is_some() {
                    r = and(r, unknown("depends on TCP options, which the packet model does not carry"));
                }
                r
            }
            Match::Udp(u) => {
                if !matches!(p.protocol, 17 | 136) || p.fragment {
                    return (Tri::No, fmt!(self.explain, "not a UDP header"));
                }
                let r = port_check(self.explain, &u.sport, p.sport, "source port");
                if r.0 == Tri::No {
                    return r;
                }
                and(r, port_check(self.explain, &u.dport, p.dport, "destination port"))
            }
            Match::Sctp(s) => {
                if p.protocol != 132 || p.fragment {
                    return (Tri::No, fmt!(self.explain, "not an SCTP header"));
                }
                let mut r = port_check(self.explain, &s.sport, p.sport, "source port");
                if r.0 != Tri::No {
                    r = and(r, port_check(self.explain, &s.dport, p.dport, "destination port"));
                }
                if r.0 != Tri::No && s.chunks.is_some() {
                    r = and(r, unknown("depends on SCTP chunks, which the packet model does not carry"));
                }
                r
            }
            Match::Dccp(d) => {
                if p.protocol != 33 || p.fragment {
                    return (Tri::No, fmt!(self.explain, "not a DCCP header"));
                }
                let mut r = port_check(self.explain, &d.sport, p.sport, "source port");
                if r.0 != Tri::No {
                    r = and(r, port_check(self.explain, &d.dport, p.dport, "destination port"));
                }
                if r.0 != Tri::No && (d.types.is_some() || d.option.is_some()) {
                    r = and(r, unknown("depends on the DCCP packet type/options, which the packet model does not carry"));
                }
                r
            }
            Match::Multiport(mp) => {
                if !ports {
                    return (Tri::No, fmt!(self.explain, "no ports (not a TCP/UDP/SCTP/DCCP header)"));
                }
                let has = |port: u16| mp.ports.value.iter().any(|r| r.contains(port));
                let (hit, what) = match mp.dir {
                    MultiportDir::Source => (has(p.sport), fmt!(self.explain, "source port {}", p.sport)),
                    MultiportDir::Destination => {
                        (has(p.dport), fmt!(self.explain, "destination port {}", p.dport))
                    }
                    MultiportDir::Either => (
                        has(p.sport) || has(p.dport),
                        fmt!(self.explain, "port {} or {}", p.sport, p.dport),
                    ),
                };
                let list: Vec<String> = mp.ports.value.iter().map(|r| r.to_string()).collect();
                (
                    neg(&mp.ports, hit),
                    fmt!(self.explain, "{what} {}in {}{}", not(!hit), not(mp.ports.invert), list.join(",")),
                )
            }
            Match::Icmp(i) => {
                if p.protocol != 1 || p.fragment {
                    return (Tri::No, fmt!(self.explain, "not an ICMP packet"));
                }
                let hit = i.type_matches(p.icmp_type, p.icmp_code);
                (neg(&i.icmp_type, hit), icmp_text(self.explain, &i.icmp_type, p.icmp_type, p.icmp_code, hit))
            }
            Match::Icmp6(i) => {
                if p.protocol != 58 {
                    return (Tri::No, fmt!(self.explain, "not an ICMPv6 packet"));
                }
                let t = i.icmp_type.value;
                let hit = t.icmp_type == 0xff
                    || (t.icmp_type == p.icmp_type
                        && t.code_min <= p.icmp_code
                        && p.icmp_code <= t.code_max);
                (neg(&i.icmp_type, hit), icmp_text(self.explain, &i.icmp_type, p.icmp_type, p.icmp_code, hit))
            }
            Match::Esp(e) => proto_only(self.explain, p.protocol, 50, "ESP", e.spi.is_some(), "the ESP SPI"),
            Match::Ah(a) => proto_only(self.explain,
                p.protocol,
                51,
                "AH",
                a.spi.is_some() || a.len.is_some() || a.res,
                "the AH header fields",
            ),
            Match::Ipcomp(c) => proto_only(self.explain,
                p.protocol,
                108,
                "IPComp",
                c.spi.is_some() || c.res,
                "the IPComp CPI",
            ),
            Match::Mh(h) => proto_only(self.explain, p.protocol, 135, "Mobility Header", h.types.is_some(), "the MH type"),
            Match::State(s) => {
                let (bits, name) = self.states();
                let want = states_bits(&s.states.value);
                let hit = bits & want != 0;
                (
                    neg(&s.states, hit),
                    fmt!(self.explain,
                        "state {name} {}in {}{}",
                        not(!hit),
                        not(s.states.invert),
                        s.states.value.names().join(",")
                    ),
                )
            }
            Match::Conntrack(c) => self.conntrack(c),
            Match::Helper(h) => {
                if !self.fl.conn.known {
                    return unknown("the connection's helper is not known for a lone packet (use a session)");
                }
                let have = self.fl.conn.helper.clone().unwrap_or_default();
                let hit = !have.is_empty() && (h.name.value.is_empty() || h.name.value == have);
                (
                    neg(&h.name, hit),
                    fmt!(self.explain, "helper `{have}` {}`{}`", if hit { "is " } else { "is not " }, h.name.value),
                )
            }
            Match::Frag(_) | Match::Hbh(_) | Match::Dst(_) | Match::Rt(_) | Match::Srh(_)
            | Match::Ipv6Header(_) => {
                unknown("depends on IPv6 extension headers, which the packet model does not carry")
            }
            Match::Eui64(_) => match (p.src_mac, p.src) {
                (Some(mac), IpAddr::V6(a)) => {
                    let o = a.octets();
                    let m = mac.0;
                    let eui = [m[0] ^ 0x02, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]];
                    let hit = o[8..16] == eui;
                    (tri(hit), fmt!(self.explain, "source address {}derived from MAC {mac}", not(!hit)))
                }
                _ => unknown("depends on the source MAC address (give mac=...)"),
            },
            Match::Limit(l) => {
                let count = l.rate.count.max(1);
                let cost = u128::from(l.rate.unit.seconds()) * u128::from(Time::SECOND)
                    / u128::from(count);
                let cap = cost * u128::from(l.burst.max(1));
                let now = self.now;
                let ok = if dry {
                    self.st
                        .limits
                        .get(&key)
                        .copied()
                        .unwrap_or_else(|| Bucket::full(cap, now))
                        .take(now, cost, cap)
                } else {
                    self.st
                        .limits
                        .entry(key)
                        .or_insert_with(|| Bucket::full(cap, now))
                        .take(now, cost, cap)
                };
                let lone = if self.lone { " (as the first packet seen)" } else { "" };
                (
                    tri(ok),
                    fmt!(self.explain,
                        "{} the rate {}, burst {}{lone}",
                        if ok { "within" } else { "above" },
                        l.rate,
                        l.burst
                    ),
                )
            }
            Match::Hashlimit(h) => self.hashlimit(h, dry),
            Match::Connlimit(c) => {
                let fam = self.family();
                let width = if fam == Family::Ipv4 { 32 } else { 128 };
                let use_src = matches!(c.key, rampart_model::matches::connlimit::ConnlimitKey::Saddr);
                let addr_of = |t: &Tuple| if use_src { t.src } else { t.dst };
                let mask = |a: IpAddr| IpNet::new(a, c.mask.min(width)).map(|n| n.addr());
                let me = mask(addr_of(&self.fl.conn.orig));
                let tracked = self.fl.tracked
                    && !matches!(self.fl.ct, CtState::Invalid | CtState::Untracked);
                let cur = self.fl.conn.orig;
                // The connections this rule has counted that conntrack
                // still holds, plus this one.
                let seen = self.st.connlimit.get(&key).and_then(|g| g.get(&me));
                let mut n = seen.map_or(0, |s| {
                    s.iter()
                        .filter(|t| **t != cur && self.st.lookup(t).is_some())
                        .count() as u64
                });
                if tracked {
                    n += 1;
                    if !dry && !seen.is_some_and(|s| s.contains(&cur)) {
                        self.st
                            .connlimit
                            .entry(key)
                            .or_default()
                            .entry(me)
                            .or_default()
                            .push(cur);
                    }
                }
                let hit = if c.above {
                    n > u64::from(c.limit)
                } else {
                    n <= u64::from(c.limit)
                };
                let lone = if self.lone {
                    " (connections before this packet are not known)"
                } else {
                    ""
                };
                (
                    tri(hit),
                    fmt!(self.explain,
                        "{n} connection(s) from {}/{} {} {}{lone}",
                        me.map_or_else(String::new, |a| a.to_string()),
                        c.mask,
                        if c.above { "above" } else { "up to" },
                        c.limit
                    ),
                )
            }
            Match::Recent(r) => self.recent(r, dry),
            Match::SetMatch(sm) => self.set_match(sm),
            Match::Connbytes(cb) => {
                if !self.fl.conn.known {
                    return unknown("the connection's counters are not known for a lone packet (use a session)");
                }
                let c = &self.fl.conn;
                let (pk, by) = match cb.dir {
                    ConnbytesDir::Original => (c.packets[0], c.bytes[0]),
                    ConnbytesDir::Reply => (c.packets[1], c.bytes[1]),
                    ConnbytesDir::Both => (c.packets[0] + c.packets[1], c.bytes[0] + c.bytes[1]),
                };
                let v = match cb.mode {
                    ConnbytesMode::Packets => pk,
                    ConnbytesMode::Bytes => by,
                    ConnbytesMode::Avgpkt => by.checked_div(pk).unwrap_or(0),
                };
                let r = cb.range.value;
                let hit = v >= r.from && (r.to == 0 || v <= r.to);
                (neg(&cb.range, hit), fmt!(self.explain, "connection count {v} {}in {}:{}", not(!hit), r.from, r.to))
            }
            Match::Quota(q) => {
                let len = u64::from(p.length);
                let left = self.st.quotas.get(&key).copied().unwrap_or(q.quota.value);
                let ok = left >= len;
                if ok && !dry {
                    self.st.quotas.insert(key, left - len);
                }
                (neg(&q.quota, ok), fmt!(self.explain, "{left} byte(s) of quota left for {len}"))
            }
            Match::Statistic(s) => match s.mode {
                StatisticMode::Random { probability } => {
                    if probability == 0 {
                        (tri(s.invert), fmt!(self.explain, "probability 0"))
                    } else if probability >= rampart_model::matches::statistic::Statistic::PROBABILITY_ONE {
                        (tri(!s.invert), fmt!(self.explain, "probability 1"))
                    } else {
                        unknown("random (--mode random)")
                    }
                }
                StatisticMode::Nth { every, packet } => {
                    let every1 = every.saturating_sub(1);
                    let cur = self.st.nth.get(&key).copied().unwrap_or(packet);
                    let next = if cur >= every1 { 0 } else { cur + 1 };
                    if !dry {
                        self.st.nth.insert(key, next);
                    }
                    let hit = next == 0;
                    (tri(hit != s.invert), fmt!(self.explain, "every {every}th packet: counter {next}"))
                }
            },
            Match::StringMatch(_) => unknown("depends on the payload (-m string)"),
            Match::U32(_) => unknown("depends on packet bytes (-m u32)"),
            Match::Bpf(_) => unknown("depends on a BPF program over the packet"),
            Match::Time(t) => self.time(t),
            Match::Nfacct(n) => (Tri::Yes, fmt!(self.explain, "accounted in `{}`", n.name)),
            Match::Rateest(_) => unknown("depends on a rate estimator's measured rate"),
            Match::Cluster(_) => unknown("depends on the cluster hash of the source address"),
            Match::Connlabel(c) => {
                let bit = 1u128 << (c.label.value % 128);
                if c.set {
                    if self.fl.tracked && self.fl.ct != CtState::Untracked {
                        if !dry {
                            self.fl.conn.labels |= bit;
                        }
                        return (tri(!c.label.invert), fmt!(self.explain, "label {} set", c.label.value));
                    }
                    return (tri(c.label.invert), fmt!(self.explain, "no connection to label"));
                }
                if !self.fl.conn.known {
                    return unknown("the connection's labels are not known for a lone packet (use a session)");
                }
                let hit = self.fl.conn.labels & bit != 0;
                (neg(&c.label, hit), fmt!(self.explain, "label {} {}set", c.label.value, not(!hit)))
            }
            Match::Iprange(r) => {
                let mut out = (Tri::Yes, String::new());
                if let Some(s) = &r.src {
                    let hit = s.value.contains(p.src);
                    out = and(out, (neg(s, hit), fmt!(self.explain, "source {} {}in {}{}", p.src, not(!hit), not(s.invert), s.value)));
                }
                if let Some(d) = &r.dst {
                    if out.0 != Tri::No {
                        let hit = d.value.contains(p.dst);
                        out = and(out, (neg(d, hit), fmt!(self.explain, "destination {} {}in {}{}", p.dst, not(!hit), not(d.invert), d.value)));
                    }
                }
                out
            }
            Match::Addrtype(a) => {
                let mut out = (Tri::Yes, String::new());
                if let Some(s) = &a.src_type {
                    out = and(out, self.addrtype(s, p.src, "source", a.limit_iface_in, a.limit_iface_out));
                }
                if out.0 != Tri::No {
                    if let Some(d) = &a.dst_type {
                        out = and(out, self.addrtype(d, p.dst, "destination", a.limit_iface_in, a.limit_iface_out));
                    }
                }
                out
            }
            Match::Mac(mm) => match p.src_mac {
                Some(mac) => {
                    let hit = mac == mm.source.value;
                    (neg(&mm.source, hit), fmt!(self.explain, "MAC {mac} {}{}", if hit { "is " } else { "is not " }, mm.source.value))
                }
                None => unknown("depends on the source MAC address (give mac=...)"),
            },
            Match::Mark(mk) => {
                if !self.fl.mark_known {
                    return unknown("the mark was set from a hash (HMARK)");
                }
                let hit = mk.mark.value.matches(self.fl.p.mark);
                (
                    neg(&mk.mark, hit),
                    fmt!(self.explain, "mark {:#x} {}{:#x}/{:#x}", self.fl.p.mark, if hit != mk.mark.invert { "matches " } else { "does not match " }, mk.mark.value.value, mk.mark.value.mask),
                )
            }
            Match::Connmark(cm) => {
                // Without a conntrack entry (INVALID, UNTRACKED, or in the
                // raw table) there is no mark: the kernel's match fails,
                // negated or not.
                if !self.fl.tracked || matches!(self.fl.ct, CtState::Invalid | CtState::Untracked) {
                    let why = if self.fl.tracked { self.fl.ct.name() } else { "has not seen the packet yet" };
                    return (Tri::No, fmt!(self.explain, "no connection mark: conntrack {why}"));
                }
                if !self.fl.conn.known && !self.lone {
                    return unknown("the connection mark is not known");
                }
                let v = self.fl.conn.mark;
                let hit = cm.mark.value.matches(v);
                (neg(&cm.mark, hit), fmt!(self.explain, "connmark {v:#x} {}{:#x}/{:#x}", if hit != cm.mark.invert { "matches " } else { "does not match " }, cm.mark.value.value, cm.mark.value.mask))
            }
            Match::Length(l) => {
                let hit = l.length.value.contains(p.length);
                (neg(&l.length, hit), fmt!(self.explain, "length {} {}in {}{}", p.length, not(!hit), not(l.length.invert), l.length.value))
            }
            Match::Ttl(t) => {
                let hit = t.op.holds(p.ttl, t.value);
                (tri(hit), fmt!(self.explain, "TTL {} {:?} {}", p.ttl, t.op, t.value))
            }
            Match::Hl(h) => {
                let hit = h.op.holds(p.ttl, h.value);
                (tri(hit), fmt!(self.explain, "hop limit {} {:?} {}", p.ttl, h.op, h.value))
            }
            Match::Pkttype(pt) => {
                let kind = if p.dst.is_multicast() {
                    PktType::Multicast
                } else if self.ctx.is_broadcast(p.dst) {
                    PktType::Broadcast
                } else {
                    PktType::Unicast
                };
                let hit = kind == pt.pkt_type.value;
                (neg(&pt.pkt_type, hit), fmt!(self.explain, "packet type {} {}{}", kind.name(), if hit != pt.pkt_type.invert { "matches " } else { "does not match " }, pt.pkt_type.value.name()))
            }
            Match::Owner(_) => unknown("depends on the local socket's owner"),
            Match::Physdev(_) => unknown("depends on the bridge port (physdev)"),
            Match::Tos(t) => {
                let hit = p.tos & t.tos.value.mask == t.tos.value.value;
                (neg(&t.tos, hit), fmt!(self.explain, "TOS {:#04x} {}{:#04x}/{:#04x}", p.tos, if hit != t.tos.invert { "matches " } else { "does not match " }, t.tos.value.value, t.tos.value.mask))
            }
            Match::Dscp(d) => {
                let v = p.tos >> 2;
                let hit = v == d.dscp.value;
                (neg(&d.dscp, hit), fmt!(self.explain, "DSCP {v:#x} {}{}{:#x}", if hit { "is " } else { "is not " }, not(d.dscp.invert), d.dscp.value))
            }
            Match::Ecn(e) => {
                let mut out = (Tri::Yes, String::new());
                if e.tcp_ece.is_some() || e.tcp_cwr.is_some() {
                    if p.protocol != 6 {
                        return (Tri::No, fmt!(self.explain, "not TCP"));
                    }
                    use rampart_model::matches::tcp::flags;
                    if let Some(want) = e.tcp_ece {
                        out = and(out, (tri((p.tcp_flags & flags::ECE != 0) == want), fmt!(self.explain, "ECE flag")));
                    }
                    if let Some(want) = e.tcp_cwr {
                        out = and(out, (tri((p.tcp_flags & flags::CWR != 0) == want), fmt!(self.explain, "CWR flag")));
                    }
                }
                if let Some(ect) = &e.ip_ect {
                    let hit = p.tos & 3 == ect.value;
                    out = and(out, (neg(ect, hit), fmt!(self.explain, "ECN bits {}", p.tos & 3)));
                }
                out
            }
            Match::Tcpmss(_) => unknown("depends on the TCP MSS option, which the packet model does not carry"),
            Match::Devgroup(_) => unknown("depends on the interfaces' device groups"),
            Match::Cpu(_) => unknown("depends on the CPU that handles the packet"),
            Match::Socket(_) => unknown("depends on local sockets"),
            Match::Rpfilter(_) => unknown("depends on the reverse-path route of the source"),
            Match::Cgroup(_) => unknown("depends on the sending process's cgroup"),
            Match::Realm(_) => unknown("depends on the route's realm"),
            Match::IpsecPolicy(_) => unknown("depends on IPsec policies (xfrm)"),
            Match::Ipvs(_) => unknown("depends on IPVS"),
            Match::Osf(_) => unknown("depends on the TCP SYN fingerprint (payload and options)"),
        }
        .map_explain(explain)
    }

    fn conntrack(&self, c: &rampart_model::matches::conntrack::Conntrack) -> (Tri, String) {
        let mut out = (Tri::Yes, String::new());
        if let Some(s) = &c.state {
            let (bits, name) = self.states();
            let hit = bits & states_bits(&s.value) != 0;
            out = and(
                out,
                (
                    neg(s, hit),
                    fmt!(
                        self.explain,
                        "ctstate {name} {}in {}{}",
                        not(!hit),
                        not(s.invert),
                        s.value.names().join(",")
                    ),
                ),
            );
            if out.0 == Tri::No {
                return out;
            }
        }
        let rest = c.tests_more_than_state();
        if !rest {
            return out;
        }
        if !self.fl.tracked || matches!(self.fl.ct, CtState::Untracked | CtState::Invalid) {
            return and(out, (Tri::No, fmt!(self.explain, "no connection")));
        }
        if !self.fl.conn.known {
            return and(
                out,
                (
                    Tri::Unknown,
                    fmt!(self.explain, "the connection's tuples are not known for a lone packet that is not NEW (use a session)"),
                ),
            );
        }
        let cv = &self.fl.conn;
        if let Some(pr) = &c.proto {
            let hit = cv.orig.protocol == pr.value.0;
            out = and(
                out,
                (
                    neg(pr, hit),
                    fmt!(self.explain, "ctproto {}", proto_name(cv.orig.protocol)),
                ),
            );
        }
        let nets = [
            (&c.orig_src, cv.orig.src, "ctorigsrc"),
            (&c.orig_dst, cv.orig.dst, "ctorigdst"),
            (&c.repl_src, cv.reply.src, "ctreplsrc"),
            (&c.repl_dst, cv.reply.dst, "ctrepldst"),
        ];
        for (n, ip, name) in nets {
            if let Some(n) = n {
                let hit = n.value.contains(ip);
                out = and(
                    out,
                    (
                        neg(n, hit),
                        fmt!(self.explain, "{name} {ip} {}in {}", not(!hit), n.value),
                    ),
                );
            }
        }
        let ports: [(&Option<Neg<PortRange>>, u16, &str); 4] = [
            (&c.orig_src_port, cv.orig.sport, "ctorigsrcport"),
            (&c.orig_dst_port, cv.orig.dport, "ctorigdstport"),
            (&c.repl_src_port, cv.reply.sport, "ctreplsrcport"),
            (&c.repl_dst_port, cv.reply.dport, "ctrepldstport"),
        ];
        for (pr, port, name) in ports {
            if let Some(pr) = pr {
                let hit = pr.value.contains(port);
                out = and(
                    out,
                    (
                        neg(pr, hit),
                        fmt!(self.explain, "{name} {port} {}in {}", not(!hit), pr.value),
                    ),
                );
            }
        }
        if let Some(d) = c.dir {
            let reply = matches!(d, rampart_model::matches::conntrack::CtDir::Reply);
            out = and(
                out,
                (
                    tri(reply == cv.reply_dir),
                    fmt!(
                        self.explain,
                        "direction {}",
                        if cv.reply_dir { "REPLY" } else { "ORIGINAL" }
                    ),
                ),
            );
        }
        if let Some(s) = &c.status {
            let v = s.value;
            if v.assured {
                out = and(
                    out,
                    (
                        Tri::Unknown,
                        fmt!(
                            self.explain,
                            "ASSURED depends on conntrack's protocol heuristics"
                        ),
                    ),
                );
            } else {
                let confirmed = cv.id.is_some();
                // EXPECTED: connections from helper expectations, which
                // are not modelled, never have it here.
                let hit = (v.seen_reply && cv.seen_reply) || (v.confirmed && confirmed);
                out = and(
                    out,
                    (
                        neg(s, hit),
                        fmt!(self.explain, "ctstatus {}", v.names().join(",")),
                    ),
                );
            }
        }
        if c.expire.is_some() {
            out = and(
                out,
                (
                    Tri::Unknown,
                    fmt!(
                        self.explain,
                        "depends on the connection's remaining timeout"
                    ),
                ),
            );
        }
        out
    }

    fn hashlimit(
        &mut self,
        h: &rampart_model::matches::hashlimit::Hashlimit,
        dry: bool,
    ) -> (Tri, String) {
        let p = &self.fl.p;
        let width = if p.src.is_ipv4() { 32 } else { 128 };
        let mask = |a: IpAddr, m: u8| IpNet::new(a, m.min(width)).map_or(a, |n| n.addr());
        let key = HKey {
            src: h.mode.srcip.then(|| mask(p.src, h.srcmask)),
            dst: h.mode.dstip.then(|| mask(p.dst, h.dstmask)),
            sport: h.mode.srcport.then_some(p.sport),
            dport: h.mode.dstport.then_some(p.dport),
        };
        let (cost, cap, rate_text) = match h.rate {
            HashlimitRate::Packets { rate, burst } => {
                let cost = u128::from(rate.unit.seconds()) * u128::from(Time::SECOND)
                    / u128::from(rate.count.max(1));
                (
                    cost,
                    cost * u128::from(burst.max(1)),
                    fmt!(self.explain, "{rate}, burst {burst}"),
                )
            }
            HashlimitRate::Bytes { per_second, burst } => {
                let per = u128::from(per_second.max(1));
                let cost = u128::from(p.length) * u128::from(Time::SECOND) / per;
                let cap_bytes = u128::from(if burst == 0 { per_second } else { burst }).max(1);
                (
                    cost,
                    cap_bytes * u128::from(Time::SECOND) / per,
                    fmt!(self.explain, "{per_second} bytes/s"),
                )
            }
        };
        if h.rate_match.is_some() {
            return (
                Tri::Unknown,
                fmt!(self.explain, "--hashlimit-rate-match is not modelled"),
            );
        }
        let now = self.now;
        let expire = u64::from(h.expire).saturating_mul(1_000_000);
        let table = self
            .st
            .hashlimits
            .entry((h.name.clone(), p.src.is_ipv4()))
            .or_default();
        let mut b = match table.get(&key) {
            Some(e) if now.since(e.seen) <= expire => e.clone(),
            _ => HashBucket {
                bucket: Bucket::full(cap, now),
                seen: now,
            },
        };
        let within = b.bucket.take(now, cost, cap);
        b.seen = now;
        if !dry {
            table.insert(key, b);
        }
        let hit = within != h.above;
        let lone = if self.lone {
            " (as the first packet seen)"
        } else {
            ""
        };
        let who = key
            .src
            .map_or_else(|| "all packets".to_string(), |a| a.to_string());
        (
            tri(hit),
            fmt!(
                self.explain,
                "{who}: {} {rate_text} (hashlimit {}{}){lone}",
                if within { "within" } else { "above" },
                h.name,
                if h.above { ", --hashlimit-above" } else { "" }
            ),
        )
    }

    fn recent(&mut self, r: &rampart_model::matches::recent::Recent, dry: bool) -> (Tri, String) {
        let p = &self.fl.p;
        let addr = match r.side {
            RecentSide::Source => p.src,
            RecentSide::Dest => p.dst,
        };
        let addr = match (addr, r.mask) {
            (IpAddr::V4(a), IpAddr::V4(m)) => IpAddr::V4((u32::from(a) & u32::from(m)).into()),
            (IpAddr::V6(a), IpAddr::V6(m)) => IpAddr::V6((u128::from(a) & u128::from(m)).into()),
            (a, _) => a,
        };
        let ttl = p.ttl;
        let now = self.now;
        let invert = r.command.invert;
        let mut ret = invert;
        let list = self.st.recent.entry(r.name.clone()).or_default();
        let mut entry = list.get(&addr).cloned();
        let cmd = r.command.value;
        let mut text;
        if cmd == RecentCommand::Set {
            let mut e = entry.unwrap_or(RecentEntry {
                stamps: vec![],
                ttl,
            });
            push_stamp(&mut e, now);
            e.ttl = ttl;
            if !dry {
                list.insert(addr, e);
            }
            ret = !ret;
            text = fmt!(self.explain, "{addr} added to list {}", r.name);
        } else {
            match entry.as_mut() {
                None => text = fmt!(self.explain, "{addr} not in list {}", r.name),
                Some(e) => {
                    if cmd == RecentCommand::Remove {
                        if !dry {
                            list.remove(&addr);
                        }
                        ret = !ret;
                        text = fmt!(self.explain, "{addr} removed from list {}", r.name);
                    } else if r.rttl && e.ttl != ttl {
                        text = fmt!(self.explain, "{addr} in list {} with another TTL", r.name);
                    } else {
                        let window = r.seconds.map(|s| u64::from(s) * Time::SECOND);
                        let hits = e
                            .stamps
                            .iter()
                            .filter(|s| window.is_none_or(|w| now.since(**s) <= w))
                            .count() as u32;
                        let need = r.hitcount.unwrap_or(0);
                        let ok = if need == 0 { hits > 0 } else { hits >= need };
                        if ok {
                            ret = !ret;
                        }
                        text = fmt!(
                            self.explain,
                            "{addr} seen {hits} time(s){} in list {} (needs {})",
                            r.seconds.map_or_else(String::new, |s| fmt!(
                                self.explain,
                                " in the last {s}s"
                            )),
                            r.name,
                            need.max(1)
                        );
                        if cmd == RecentCommand::Update && ret {
                            push_stamp(e, now);
                            e.ttl = ttl;
                            if !dry {
                                list.insert(addr, e.clone());
                            }
                        }
                    }
                }
            }
        }
        if self.lone && cmd != RecentCommand::Set {
            text.push_str(" (lists start empty for a lone packet)");
        }
        (tri(ret), text)
    }

    fn set_match(&mut self, sm: &rampart_model::matches::set::SetMatch) -> (Tri, String) {
        let Some(set) = self.prog.policy.set(&sm.set) else {
            return (
                Tri::Unknown,
                fmt!(self.explain, "set `{}` is not in the policy", sm.set),
            );
        };
        let f = self.set_lookup(set, &sm.dirs, 0);
        let (hit, what) = match f {
            Found::Unknown => {
                return (
                    Tri::Unknown,
                    fmt!(
                        self.explain,
                        "set `{}`: the packet lacks a field of its elements (MAC or interface)",
                        sm.set
                    ),
                )
            }
            Found::Yes => (true, "in"),
            Found::NoMatch if sm.return_nomatch => (true, "a nomatch element of"),
            Found::NoMatch => (false, "excluded (nomatch) from"),
            Found::No => (false, "not in"),
        };
        if (sm.packets.is_some() || sm.bytes.is_some()) && hit != sm.invert {
            {
                return (
                    Tri::Unknown,
                    fmt!(
                        self.explain,
                        "depends on the set element's packet/byte counters"
                    ),
                );
            }
        }
        // The directions are only named when a reason is wanted: no
        // allocation per packet on the classifier's fast path.
        (
            tri(hit != sm.invert),
            fmt!(
                self.explain,
                "{} {what} set {}",
                sm.dirs
                    .iter()
                    .map(|d| d.name())
                    .collect::<Vec<_>>()
                    .join(","),
                sm.set
            ),
        )
    }

    /// Looks the packet up in a set (static elements through the engine's
    /// index, then elements added or deleted by `-j SET`).
    pub fn set_lookup(&self, set: &rampart_model::IpSet, dirs: &[SetDir], depth: u8) -> Found {
        if set.kind == SetKind::ListSet {
            if depth > 2 {
                return Found::Unknown;
            }
            for e in &set.elements {
                if let Some(rampart_model::ElemPart::SetName(n)) = e.parts.first() {
                    if let Some(member) = self.prog.policy.set(n) {
                        match self.set_lookup(member, dirs, depth + 1) {
                            Found::No | Found::NoMatch => {}
                            f => return f,
                        }
                    }
                }
            }
            return Found::No;
        }
        let one;
        let many;
        let key: &[KeyPart] = match (set.kind, dirs.first()) {
            // The common one-address sets: no key vector.
            (SetKind::HashIp | SetKind::HashNet | SetKind::BitmapIp, Some(d)) => {
                let p = &self.fl.p;
                one = [KeyPart::Addr(if *d == SetDir::Src { p.src } else { p.dst })];
                &one
            }
            _ => match self.set_key(set.kind, dirs) {
                Some(k) => {
                    many = k;
                    &many
                }
                None => return Found::No,
            },
        };
        let dynset = if self.st.sets.is_empty() {
            None
        } else {
            self.st.sets.get(&set.name)
        };
        if let Some(d) = dynset {
            let now = self.now;
            let live = d
                .added
                .iter()
                .filter(|(_, exp)| exp.is_none_or(|e| e > now))
                .map(|(parts, _)| (&parts[..], false));
            let f = crate::sets::linear(live, key);
            if f != Found::No {
                return f;
            }
            let del = d.deleted.iter().map(|parts| (&parts[..], false));
            if crate::sets::linear(del, key) == Found::Yes {
                return Found::No;
            }
        }
        self.sets.lookup(set, key)
    }

    /// The key of the packet for a set of this kind (`None`: the packet
    /// cannot be in it, e.g. an IPv6 packet and an IPv4 set).
    fn set_key(&self, kind: SetKind, dirs: &[SetDir]) -> Option<Vec<KeyPart>> {
        let p = &self.fl.p;
        let dims: Vec<&str> = kind
            .name()
            .split_once(':')
            .map(|(_, d)| d.split(',').collect())
            .unwrap_or_default();
        let mut key = Vec::with_capacity(dims.len());
        for (i, dim) in dims.iter().enumerate() {
            let dir = *dirs.get(i).or(dirs.last())?;
            let src = dir == SetDir::Src;
            key.push(match *dim {
                "ip" | "net" => KeyPart::Addr(if src { p.src } else { p.dst }),
                "port" => {
                    if !p.has_ports() && !p.is_icmp() {
                        return None;
                    }
                    KeyPart::Port {
                        proto: p.protocol,
                        port: if p.is_icmp() {
                            u16::from(p.icmp_type) << 8 | u16::from(p.icmp_code)
                        } else if src {
                            p.sport
                        } else {
                            p.dport
                        },
                    }
                }
                "mac" => KeyPart::Mac(if src { p.src_mac } else { None }),
                "iface" => KeyPart::Iface(
                    if src { self.fl.in_iface } else { self.fl.out }.map(str::to_string),
                ),
                "mark" => KeyPart::Mark(p.mark),
                _ => return None,
            });
        }
        Some(key)
    }

    fn addrtype(
        &self,
        want: &Neg<Vec<AddrType>>,
        ip: IpAddr,
        side: &str,
        limit_in: bool,
        limit_out: bool,
    ) -> (Tri, String) {
        let unspec = match ip {
            IpAddr::V4(a) => a.is_unspecified(),
            IpAddr::V6(a) => a.is_unspecified(),
        };
        let kind = if self.ctx.is_local(ip) {
            if limit_in || limit_out {
                let dev = if limit_in {
                    self.fl.in_iface
                } else {
                    self.fl.out
                };
                match (
                    self.ctx.local_entry(ip).and_then(|l| l.iface.as_deref()),
                    dev,
                ) {
                    (Some(a), Some(b)) if a == b => AddrType::Local,
                    (Some(_), Some(_)) => AddrType::Unicast,
                    _ => {
                        return (
                            Tri::Unknown,
                            fmt!(
                                self.explain,
                                "the interface of the local address is not known"
                            ),
                        )
                    }
                }
            } else {
                AddrType::Local
            }
        } else if ip.is_multicast() {
            AddrType::Multicast
        } else if self.ctx.is_broadcast(ip) {
            AddrType::Broadcast
        } else if unspec {
            AddrType::Unspec
        } else {
            AddrType::Unicast
        };
        let hit = want.value.contains(&kind);
        let route_types = want.value.iter().any(|t| {
            matches!(
                t,
                AddrType::Blackhole
                    | AddrType::Unreachable
                    | AddrType::Prohibit
                    | AddrType::Throw
                    | AddrType::Nat
                    | AddrType::Xresolve
                    | AddrType::Anycast
            )
        });
        if !hit && route_types && kind == AddrType::Unicast {
            return (
                Tri::Unknown,
                fmt!(self.explain, "the route type of {ip} is not known"),
            );
        }
        let names: Vec<&str> = want.value.iter().map(|t| t.name()).collect();
        (
            neg(want, hit),
            fmt!(
                self.explain,
                "{side} {ip} is {} ({}in {}{})",
                kind.name(),
                not(!hit),
                not(want.invert),
                names.join(",")
            ),
        )
    }

    fn time(&self, t: &rampart_model::matches::time::Time) -> (Tri, String) {
        if t.kerneltz {
            return (
                Tri::Unknown,
                fmt!(
                    self.explain,
                    "--kerneltz: depends on the kernel's time zone"
                ),
            );
        }
        let secs = self.now.secs();
        let stamp = u32::try_from(secs).unwrap_or(u32::MAX);
        if stamp < t.date_start || stamp > t.date_stop {
            return (
                Tri::No,
                fmt!(self.explain, "outside --datestart/--datestop"),
            );
        }
        let tod = (secs % 86_400) as u32;
        let mut days = secs / 86_400;
        let in_time = if t.time_start <= t.time_stop {
            t.time_start <= tod && tod <= t.time_stop
        } else {
            let late = tod >= t.time_start;
            if t.contiguous && !late && tod <= t.time_stop {
                days = days.saturating_sub(1);
            }
            late || tod <= t.time_stop
        };
        if !in_time {
            return (
                Tri::No,
                fmt!(
                    self.explain,
                    "time of day {:02}:{:02} UTC outside the window",
                    tod / 3600,
                    tod / 60 % 60
                ),
            );
        }
        let wday = ((days + 3) % 7) + 1; // Monday = 1
        if t.weekdays & (1 << wday) == 0 {
            return (Tri::No, fmt!(self.explain, "not on one of the weekdays"));
        }
        let (_, _, mday) = civil(days as i64);
        if t.monthdays & (1u32 << mday) == 0 {
            return (
                Tri::No,
                fmt!(self.explain, "not on one of the days of the month"),
            );
        }
        (
            Tri::Yes,
            fmt!(
                self.explain,
                "{:02}:{:02} UTC is inside the window",
                tod / 3600,
                tod / 60 % 60
            ),
        )
    }

    // ---- targets ----

    /// Runs the target of a matching rule.
    pub fn target(
        &mut self,
        rule: &Rule,
        rref: impl Fn() -> RuleRef,
        jump: Option<usize>,
        dry: bool,
    ) -> (Act, Option<String>) {
        let Some(t) = &rule.target else {
            return (Act::Continue, None);
        };
        let fam = self.family();
        match t {
            Target::Accept => (Act::Accept, None),
            Target::Drop => (Act::Drop, None),
            Target::Return => (Act::Return, None),
            Target::Queue => (Act::Queue(0), None),
            Target::Jump { chain } | Target::Goto { chain } => match jump {
                Some(c) if matches!(t, Target::Jump { .. }) => {
                    (Act::Jump(c), Some(fmt!(self.explain, "jump to {chain}")))
                }
                Some(c) => (Act::Goto(c), Some(fmt!(self.explain, "goto {chain}"))),
                None => (
                    Act::Unknown(fmt!(self.explain, "chain {chain} does not exist")),
                    None,
                ),
            },
            Target::Reject(r) => (Act::Reject(r.with), None),
            Target::Log(l) => (
                Act::Continue,
                Some(fmt!(
                    self.explain,
                    "logged{}",
                    l.prefix
                        .as_ref()
                        .map_or_else(String::new, |p| fmt!(self.explain, " \"{p}\""))
                )),
            ),
            Target::Nflog(n) => (
                Act::Continue,
                Some(fmt!(self.explain, "logged to nflog group {}", n.group)),
            ),
            Target::Audit(_)
            | Target::Trace(_)
            | Target::Led(_)
            | Target::Idletimer(_)
            | Target::Rateest(_) => (Act::Continue, Some(fmt!(self.explain, "noted"))),
            Target::Tee(te) => (
                Act::Continue,
                Some(fmt!(self.explain, "copy sent to {}", te.gateway)),
            ),
            Target::Nfqueue(q) => {
                let num = match q.queue {
                    QueueSpec::Num(n) => n,
                    QueueSpec::Balance { first, .. } => first,
                };
                (Act::Queue(num), None)
            }
            Target::Synproxy(_) => (
                Act::Unknown(fmt!(
                    self.explain,
                    "SYNPROXY answers the TCP handshake itself"
                )),
                None,
            ),
            Target::Tproxy(_) => (
                Act::Unknown(fmt!(
                    self.explain,
                    "TPROXY depends on a transparent local socket"
                )),
                None,
            ),
            Target::Dnpt(_) | Target::Snpt(_) => (
                Act::Unknown(fmt!(
                    self.explain,
                    "NPTv6 prefix translation is not modelled"
                )),
                None,
            ),
            Target::Snat(_)
            | Target::Dnat(_)
            | Target::Masquerade(_)
            | Target::Redirect(_)
            | Target::Netmap(_) => self.nat(t, rref(), fam),
            Target::Mark(m) => {
                let old = self.fl.p.mark;
                if !dry {
                    self.fl.p.mark = m.apply(old);
                }
                (
                    Act::Continue,
                    Some(fmt!(self.explain, "mark {old:#x} -> {:#x}", m.apply(old))),
                )
            }
            Target::Connmark(c) => {
                // Without a conntrack entry there is no mark to set or
                // restore: the kernel does nothing.
                if !self.fl.tracked || matches!(self.fl.ct, CtState::Invalid | CtState::Untracked) {
                    return (
                        Act::Continue,
                        Some(fmt!(self.explain, "nothing: no connection yet or at all")),
                    );
                }
                let ct = self.fl.conn.mark;
                let nf = self.fl.p.mark;
                let sh = |v: u32| match c.shift {
                    Some(s) if s.dir == ShiftDir::Left => {
                        v.checked_shl(u32::from(s.bits)).unwrap_or(0)
                    }
                    Some(s) => v.checked_shr(u32::from(s.bits)).unwrap_or(0),
                    None => v,
                };
                let eff = match c.mode {
                    ConnmarkMode::Set { value, mask } => {
                        let n = (ct & !mask) ^ value;
                        if !dry {
                            self.fl.conn.mark = n;
                        }
                        fmt!(self.explain, "connmark {ct:#x} -> {n:#x}")
                    }
                    ConnmarkMode::Save { nfmask, ctmask } => {
                        let n = (ct & !ctmask) ^ sh(nf & nfmask);
                        if !dry {
                            self.fl.conn.mark = n;
                        }
                        fmt!(self.explain, "connmark {ct:#x} -> {n:#x} (saved)")
                    }
                    ConnmarkMode::Restore { nfmask, ctmask } => {
                        let n = (nf & !nfmask) ^ sh(ct & ctmask);
                        if !dry {
                            self.fl.p.mark = n;
                        }
                        fmt!(self.explain, "mark {nf:#x} -> {n:#x} (restored)")
                    }
                };
                (Act::Continue, Some(eff))
            }
            Target::Ct(c) => {
                if c.notrack {
                    if !dry {
                        self.fl.ct = CtState::Untracked;
                    }
                    return (Act::Continue, Some(fmt!(self.explain, "not tracked")));
                }
                if let Some(h) = &c.helper {
                    if !dry {
                        self.fl.conn.helper = Some(h.clone());
                    }
                    return (Act::Continue, Some(fmt!(self.explain, "helper {h}")));
                }
                (
                    Act::Continue,
                    Some(fmt!(self.explain, "conntrack settings")),
                )
            }
            Target::Notrack(_) => {
                if !dry {
                    self.fl.ct = CtState::Untracked;
                }
                (Act::Continue, Some(fmt!(self.explain, "not tracked")))
            }
            Target::SetTarget(s) => {
                let mut eff = Vec::new();
                for (r, add) in [(&s.add_set, true), (&s.del_set, false)] {
                    let Some(r) = r else { continue };
                    let Some(set) = self.prog.policy.set(&r.name) else {
                        continue;
                    };
                    let dirs: Vec<SetDir> = r
                        .dirs
                        .iter()
                        .map(|d| match d {
                            rampart_model::targets::set::SetDir::Src => SetDir::Src,
                            rampart_model::targets::set::SetDir::Dst => SetDir::Dst,
                        })
                        .collect();
                    let Some(key) = self.set_key(set.kind, &dirs) else {
                        continue;
                    };
                    let parts: Vec<rampart_model::ElemPart> =
                        key.iter().filter_map(key_to_part).collect();
                    if parts.len() != key.len() {
                        continue;
                    }
                    let timeout = s.timeout.or(set.timeout).filter(|&t| t > 0);
                    let exp = timeout.map(|t| Time(self.now.0 + u64::from(t) * Time::SECOND));
                    if !dry {
                        let d = self.st.sets.entry(r.name.clone()).or_default();
                        if add {
                            d.deleted.retain(|e| *e != parts);
                            d.added.retain(|(e, _)| *e != parts);
                            d.added.push((parts, exp));
                        } else {
                            d.added.retain(|(e, _)| *e != parts);
                            d.deleted.push(parts);
                        }
                    }
                    eff.push(fmt!(
                        self.explain,
                        "{} set {}",
                        if add { "added to" } else { "deleted from" },
                        r.name
                    ));
                }
                (Act::Continue, Some(eff.join(", ")))
            }
            Target::Tos(t) => {
                let old = self.fl.p.tos;
                let n = (old & !t.mask) ^ t.value;
                if !dry {
                    self.fl.p.tos = n;
                }
                (
                    Act::Continue,
                    Some(fmt!(self.explain, "TOS {old:#04x} -> {n:#04x}")),
                )
            }
            Target::Dscp(d) => {
                let old = self.fl.p.tos;
                let n = (old & 3) | (d.dscp << 2);
                if !dry {
                    self.fl.p.tos = n;
                }
                (
                    Act::Continue,
                    Some(fmt!(self.explain, "DSCP -> {:#x}", d.dscp)),
                )
            }
            Target::Ecn(e) => {
                if let Some(v) = e.ip_ect {
                    if !dry {
                        self.fl.p.tos = (self.fl.p.tos & !3) | (v & 3);
                    }
                }
                (Act::Continue, Some(fmt!(self.explain, "ECN bits changed")))
            }
            Target::Ttl(t) => {
                use rampart_model::targets::ttl::Ttl;
                let old = self.fl.p.ttl;
                let n = match t {
                    Ttl::Set(v) => *v,
                    Ttl::Inc(v) => old.saturating_add(*v),
                    Ttl::Dec(v) => old.saturating_sub(*v),
                };
                if !dry {
                    self.fl.p.ttl = n;
                }
                (Act::Continue, Some(fmt!(self.explain, "TTL {old} -> {n}")))
            }
            Target::Hl(h) => {
                use rampart_model::targets::hl::Hl;
                let old = self.fl.p.ttl;
                let n = match h {
                    Hl::Set(v) => *v,
                    Hl::Inc(v) => old.saturating_add(*v),
                    Hl::Dec(v) => old.saturating_sub(*v),
                };
                if !dry {
                    self.fl.p.ttl = n;
                }
                (
                    Act::Continue,
                    Some(fmt!(self.explain, "hop limit {old} -> {n}")),
                )
            }
            Target::Hmark(_) => {
                if !dry {
                    self.fl.mark_known = false;
                }
                (
                    Act::Continue,
                    Some(fmt!(self.explain, "mark set from a hash")),
                )
            }
            Target::Classify(c) => (
                Act::Continue,
                Some(fmt!(self.explain, "class {}:{}", c.major, c.minor)),
            ),
            Target::Tcpmss(_) | Target::Tcpoptstrip(_) | Target::Checksum(_) => (
                Act::Continue,
                Some(fmt!(self.explain, "TCP header changed")),
            ),
            Target::Secmark(_) | Target::Connsecmark(_) => {
                (Act::Continue, Some(fmt!(self.explain, "security mark")))
            }
        }
    }

    fn nat(&mut self, t: &Target, rref: RuleRef, fam: Family) -> (Act, Option<String>) {
        let p = self.fl.p.clone();
        let mut picked: Option<(u16, u16)> = None;
        let (side, addr, port, note): (NatSide, Option<IpAddr>, u16, Option<String>) = match t {
            Target::Dnat(d) => {
                let (a, pt, note) = nat_range(&d.to, p.dst, p.dport, false);
                (NatSide::Destination, Some(a), pt.0, note)
            }
            Target::Snat(s) => {
                let (a, pt, note) = nat_range(&s.to, p.src, p.sport, true);
                picked = pt.1;
                (NatSide::Source, Some(a), pt.0, note)
            }
            Target::Masquerade(m) => {
                let dev = self.fl.out;
                // Out of lo the kernel takes no loopback address (they are
                // host-scoped) but one of another interface it picks.
                let a = dev
                    .filter(|d| *d != "lo")
                    .and_then(|d| self.ctx.addr_on(d, p.src));
                let (port, pick) = src_port(m.to_ports, p.sport);
                picked = pick;
                let note = match (&dev, a) {
                    (Some("lo"), _) => Some(
                        "an address of another interface, which the kernel picks (loopback addresses are host-scoped)"
                            .to_string(),
                    ),
                    (Some(d), None) => Some(format!("the address of {d}; give --local ADDR%{d}")),
                    (None, _) => {
                        Some("the address of the output interface, which is not known".to_string())
                    }
                    _ => pick.map(|(lo, hi)| {
                        format!("a port of {lo}-{hi} the kernel picks at random")
                    }),
                };
                (NatSide::Source, a, port, note)
            }
            Target::Redirect(r) => {
                let a = match (self.fl.in_iface, self.fl.path) {
                    (_, PathKind::Output) | (None, _) => self.ctx.addr_on("lo", p.dst),
                    (Some(i), _) => self.ctx.addr_on(i, p.dst),
                };
                // A port inside the range is kept; else the first free
                // one (destination NAT counts up from the start).
                let port = match r.to_ports {
                    Some(r) if !r.contains(p.dport) => r.first,
                    _ => p.dport,
                };
                let note = match (a, r.to_ports) {
                    (None, _) => Some("the primary address of the input interface".to_string()),
                    (_, Some(r)) if !r.is_single() && !r.contains(p.dport) => {
                        Some(format!("the first free port of {r}"))
                    }
                    _ => None,
                };
                (NatSide::Destination, a, port, note)
            }
            Target::Netmap(n) => {
                let dnat = matches!(self.fl.hook, Hook::Prerouting | Hook::Output);
                let orig = if dnat { p.dst } else { p.src };
                let a = netmap(orig, &n.to);
                let side = if dnat {
                    NatSide::Destination
                } else {
                    NatSide::Source
                };
                (side, Some(a), if dnat { p.dport } else { p.sport }, None)
            }
            _ => return (Act::Continue, None),
        };
        let _ = fam;
        let (before_addr, before_port) = match side {
            NatSide::Source => (p.src, p.sport),
            NatSide::Destination => (p.dst, p.dport),
        };
        let port = if p.has_ports() { port } else { 0 };
        // The kernel marks the connection SNAT/DNAT (`--ctstate SNAT`, the
        // binding its later packets get) only when the mapping changes its
        // tuple: a rewrite to the same address and port sets nothing.
        let changed =
            addr.is_none_or(|a| a != before_addr) || (p.has_ports() && port != before_port);
        match side {
            NatSide::Source => {
                if let Some(a) = addr {
                    self.fl.p.src = a;
                }
                self.fl.p.sport = port;
                self.fl.conn.snat |= changed;
            }
            NatSide::Destination => {
                if let Some(a) = addr {
                    self.fl.p.dst = a;
                }
                self.fl.p.dport = port;
                self.fl.conn.dnat |= changed;
            }
        }
        self.fl.version += 1;
        let rw = NatRewrite {
            side,
            target: t.name().to_string(),
            rule: Some(rref),
            before_addr,
            before_port: if p.has_ports() { before_port } else { 0 },
            after_addr: addr,
            after_port: port,
            port_range: picked.filter(|_| p.has_ports()),
            note,
        };
        let eff = fmt!(
            self.explain,
            "{} {} -> {}",
            rw.target,
            match side {
                NatSide::Source => "source",
                NatSide::Destination => "destination",
            },
            match (addr, port) {
                (Some(a), 0) => a.to_string(),
                (Some(std::net::IpAddr::V6(a)), p) => fmt!(self.explain, "[{a}]:{p}"),
                (Some(a), p) => fmt!(self.explain, "{a}:{p}"),
                (None, _) => fmt!(self.explain, "<interface address>"),
            }
        );
        self.nat.push(rw);
        (Act::Accept, Some(eff))
    }
}

trait MapExplain {
    fn map_explain(self, on: bool) -> Self;
}

impl MapExplain for (Tri, String) {
    fn map_explain(self, _on: bool) -> Self {
        self
    }
}

fn push_stamp(e: &mut RecentEntry, now: Time) {
    if e.stamps.len() >= RECENT_STAMPS {
        e.stamps.remove(0);
    }
    e.stamps.push(now);
}

fn key_to_part(k: &KeyPart) -> Option<rampart_model::ElemPart> {
    Some(match k {
        KeyPart::Addr(a) => rampart_model::ElemPart::Net(IpNet::host(*a)),
        KeyPart::Port { proto, port } => rampart_model::ElemPart::Port {
            proto: Some(*proto),
            first: *port,
            last: *port,
        },
        KeyPart::Mac(m) => rampart_model::ElemPart::Mac((*m)?),
        KeyPart::Iface(i) => rampart_model::ElemPart::Iface(i.clone()?),
        KeyPart::Mark(m) => rampart_model::ElemPart::Mark(*m),
    })
}

/// A NAT port, and the range (first, last) when the kernel picks it at
/// random there (the port is then the range's first, a placeholder).
type PortPick = (u16, Option<(u16, u16)>);

/// The port source NAT gives: kept inside `range`; else a random free
/// port of it (`nf_nat_l4proto_unique_tuple`: a random offset for source
/// manips), reported as the range with its first port as a placeholder.
fn src_port(range: Option<rampart_model::PortRange>, port: u16) -> PortPick {
    match range {
        Some(r) if r.is_single() => (r.first, None),
        Some(r) if !r.contains(port) => (r.first, Some((r.first, r.last))),
        _ => (port, None),
    }
}

/// The address and port a NAT range gives (`src`: source NAT): the
/// original port when inside the range (the kernel keeps a port it can);
/// else, for destination NAT, the first free port of the range (the
/// kernel counts up from the start), for source NAT a random free one
/// (the range is returned). Addresses: the first of the range (the
/// kernel picks one by a hash of the connection).
fn nat_range(
    r: &rampart_model::targets::snat::NatRange,
    addr: IpAddr,
    port: u16,
    src: bool,
) -> (IpAddr, PortPick, Option<String>) {
    let mut note = None;
    let a = match r.addrs {
        Some(rg) if rg.is_single() => rg.first,
        Some(rg) => {
            note = Some(format!(
                "one address of {}-{} (the kernel picks)",
                rg.first, rg.last
            ));
            rg.first
        }
        None => addr,
    };
    let pt = match r.ports {
        Some(pr) if pr.is_single() => (pr.first, None),
        Some(pr) if pr.contains(port) => (port, None),
        Some(pr) if src => {
            note = Some(format!("a port of {pr} the kernel picks at random"));
            (pr.first, Some((pr.first, pr.last)))
        }
        Some(pr) => {
            note = Some(format!("the first free port of {pr}"));
            (pr.first, None)
        }
        None => (port, None),
    };
    (a, pt, note)
}

fn netmap(orig: IpAddr, to: &IpNet) -> IpAddr {
    match (orig, to.addr(), to.mask()) {
        (IpAddr::V4(o), IpAddr::V4(a), IpAddr::V4(m)) => {
            let m = u32::from(m);
            IpAddr::V4(((u32::from(o) & !m) | u32::from(a)).into())
        }
        (IpAddr::V6(o), IpAddr::V6(a), IpAddr::V6(m)) => {
            let m = u128::from(m);
            IpAddr::V6(((u128::from(o) & !m) | u128::from(a)).into())
        }
        _ => orig,
    }
}

fn and(a: (Tri, String), b: (Tri, String)) -> (Tri, String) {
    match (a.0, b.0) {
        (Tri::No, _) => a,
        (_, Tri::No) => b,
        (Tri::Unknown, _) | (_, Tri::Unknown) => {
            let why = if a.0 == Tri::Unknown { a.1 } else { b.1 };
            (Tri::Unknown, why)
        }
        _ => {
            if a.1.is_empty() {
                b
            } else if b.1.is_empty() {
                a
            } else {
                (Tri::Yes, format!("{}, {}", a.1, b.1))
            }
        }
    }
}

fn port_check(ex: bool, r: &Option<Neg<PortRange>>, port: u16, what: &str) -> (Tri, String) {
    match r {
        None => (Tri::Yes, String::new()),
        Some(n) => {
            let hit = n.value.contains(port);
            (
                neg(n, hit),
                fmt!(
                    ex,
                    "{what} {port} {}in {}{}",
                    not(!hit),
                    not(n.invert),
                    n.value
                ),
            )
        }
    }
}

fn proto_only(ex: bool, have: u8, want: u8, name: &str, detail: bool, what: &str) -> (Tri, String) {
    if have != want {
        return (Tri::No, fmt!(ex, "not {name}"));
    }
    if detail {
        return (
            Tri::Unknown,
            fmt!(
                ex,
                "depends on {what}, which the packet model does not carry"
            ),
        );
    }
    (Tri::Yes, fmt!(ex, "{name}"))
}

fn icmp_text(
    ex: bool,
    n: &Neg<rampart_model::matches::icmp::IcmpType>,
    t: u8,
    c: u8,
    hit: bool,
) -> String {
    if !ex {
        return String::new();
    }
    let w = n.value;
    let want = if w.icmp_type == 0xff {
        "any".to_string()
    } else if w.all_codes() {
        w.icmp_type.to_string()
    } else if w.code_min == w.code_max {
        format!("{}/{}", w.icmp_type, w.code_min)
    } else {
        format!("{}/{}-{}", w.icmp_type, w.code_min, w.code_max)
    };
    format!(
        "type {t}/{c} {}{}{want}",
        if hit { "is " } else { "is not " },
        not(n.invert)
    )
}

fn iface_text(dir: &str, i: &Neg<Iface>, name: Option<&str>, t: Tri) -> String {
    match (t, name) {
        (Tri::Unknown, _) => format!(
            "the {dir} interface is not given (--{})",
            if dir == "input" { "in" } else { "out" }
        ),
        (_, Some("")) => format!(
            "no {dir} interface at this hook ({}{})",
            not(i.invert),
            i.value.0
        ),
        (_, n) => format!(
            "{dir} interface {} {}{}",
            n.unwrap_or("?"),
            if t == Tri::Yes {
                "matches "
            } else {
                "does not match "
            },
            if i.invert {
                format!("! {}", i.value.0)
            } else {
                i.value.0.clone()
            }
        ),
    }
}

fn proto_name(p: u8) -> String {
    rampart_model::Protocol(p)
        .name()
        .map_or_else(|| p.to_string(), str::to_string)
}

fn states_bits(s: &rampart_model::matches::state::CtStates) -> u8 {
    u8::from(s.invalid)
        | u8::from(s.new) << 1
        | u8::from(s.related) << 2
        | u8::from(s.established) << 3
        | u8::from(s.untracked) << 4
        | u8::from(s.snat) << 5
        | u8::from(s.dnat) << 6
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// civil_from_days).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Reply tuple helper re-exported for the walker.
pub(crate) fn reply_tuple(t: &Tuple) -> Tuple {
    reply_of(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_723), (2024, 1, 1));
        assert_eq!(civil(11_016), (2000, 2, 29));
    }
}
