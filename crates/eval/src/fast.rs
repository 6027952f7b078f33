//! The classifier's fast path: a decision program for lone packets whose
//! chains need no state.
//!
//! A chain is compiled when every rule of it is a pure function of the
//! packet's fields, its conntrack state (a packet field for a lone
//! packet), its interfaces and the sets' static elements, and its target
//! is a verdict, a jump, a goto, RETURN, a mark, or has no effect on later
//! rules (LOG, NFLOG, ...). A (family, path) — input, forward or output —
//! is compiled when every chain reachable from every hook on it is. The
//! packet's fields are read once into [`Pk`]; each chain is a vector of
//! rules (their conditions as [`Atom`]s, exact and two-valued) with an
//! [`Index`] that gives, from the packet, the few rules that may match:
//! one interval lookup per address side (source, destination), one hash
//! probe for (destination host, protocol, port), one for (protocol,
//! port), the input interface and the protocol; the rules that pin none of
//! these are always candidates. The candidates are checked in order, each
//! on the conditions its key did not already test (set lookups last).
//! Sets are looked up through [`Compiled`] by index (no name hashing).
//!
//! What the fast path does not take — a packet without the interface a
//! rule asks about, chains nested deeper than [`STACK`], a walk the
//! reference would stop as a loop, anything outside the compiled subset —
//! it refuses (`None`), and the
//! classifier runs the shared walker instead, so the answers stay the
//! reference's. Nothing here allocates per packet, hashes with SipHash or
//! builds text.

use crate::classifier::FxMap;
use crate::context::Context;
use crate::outcome::{PathKind, Verdict};
use crate::packet::{CtState, Packet};
use crate::program::Program;
use crate::sets::{Addr, Compiled, NOMATCH, YES};
use crate::walk::{RawBy, RawHook, MAX_DEPTH, MAX_STEPS};
use rampart_model::matches::multiport::MultiportDir;
use rampart_model::matches::pkttype::PktType;
use rampart_model::set::SetKind;
use rampart_model::targets::nfqueue::QueueSpec;
use rampart_model::{ChainPolicy, Family, Hook, IpNet, Match, Neg, PortRange, Rule, TableKind};
use rampart_model::{Iface, Target};
use std::net::IpAddr;

/// One condition of a compiled rule.
#[derive(Debug, Clone)]
enum Atom<'p> {
    Const(bool),
    /// Source or destination in a network (any mask), of the family.
    Net {
        dst: bool,
        v4: bool,
        addr: u128,
        mask: u128,
        invert: bool,
    },
    /// Input or output interface against pattern `bit` of [`Fast::ifaces`].
    Iface {
        out: bool,
        bit: u32,
        invert: bool,
    },
    Proto {
        p: u8,
        invert: bool,
    },
    Fragment(bool),
    /// A TCP (or UDP, SCTP, DCCP) header: one of the protocols and not a
    /// non-first fragment.
    Header([u8; 2]),
    /// Ports: the packet's source or destination port in a range.
    Port {
        dst: bool,
        range: PortRange,
        invert: bool,
    },
    TcpFlags {
        mask: u8,
        comp: u8,
        invert: bool,
    },
    Multiport(&'p rampart_model::matches::multiport::Multiport),
    Icmp(&'p rampart_model::matches::icmp::Icmp),
    Icmp6(&'p rampart_model::matches::icmp6::Icmp6),
    /// Conntrack state bits (as [`crate::eval`] numbers them).
    State {
        bits: u8,
        invert: bool,
    },
    /// A one-address set ([`Compiled::addr_set`]).
    Set {
        set: u32,
        dst: bool,
        return_nomatch: bool,
        invert: bool,
    },
    Mark {
        value: u32,
        mask: u32,
        invert: bool,
        conn: bool,
    },
    Length(&'p rampart_model::matches::length::Length),
    Ttl(rampart_model::matches::ttl::CmpOp, u8),
    Tos {
        value: u8,
        mask: u8,
        invert: bool,
    },
    Dscp {
        value: u8,
        invert: bool,
    },
    Range {
        dst: bool,
        range: &'p Neg<rampart_model::matches::iprange::AddrRange>,
    },
    Pkttype(&'p Neg<PktType>),
    ProtoIs(u8),
}

/// What a matching rule does.
#[derive(Debug, Clone)]
enum Action<'p> {
    Continue,
    Verdict(Verdict),
    Return,
    Jump(u32),
    Goto(u32),
    Mark(&'p rampart_model::targets::mark::Mark),
}

#[derive(Debug)]
struct FRule<'p> {
    atoms: std::ops::Range<u32>,
    action: Action<'p>,
}

/// Rule lists stored in one vector: `(start, len)`.
type Span = (u32, u32);

/// Address → rules whose (non-inverted) prefix on that side contains it:
/// elementary intervals, each with the sorted list of covering rules.
#[derive(Debug, Default)]
struct AddrIndex {
    v4: Vec<u32>,
    v4_spans: Vec<Span>,
    /// Per block of the address space (about as many as intervals, at
    /// most 2^16), the first interval at or after it (when there are
    /// many); `v4_shift`: the block size.
    v4_top: Vec<u32>,
    v4_shift: u32,
    /// Per /20, one bit: some address in it has candidates (when there
    /// are many intervals): most packets need no search. `v4_any16`: the
    /// same per /16 (8 KiB, looked at first).
    v4_any: Vec<u64>,
    v4_any16: Vec<u64>,
    v6: Vec<u128>,
    v6_spans: Vec<Span>,
}

/// An integer key of a [`Flat`] table.
trait FlatKey: Copy + Eq + Default {
    /// A 64-bit mix of the key; the table uses its top bits.
    fn mix(self) -> u64;
}

/// Fibonacci hashing's multiplier (2^64 / the golden ratio).
const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

impl FlatKey for u32 {
    #[inline]
    fn mix(self) -> u64 {
        u64::from(self).wrapping_mul(GOLDEN)
    }
}

impl FlatKey for (u128, u32) {
    #[inline]
    fn mix(self) -> u64 {
        let (a, b) = self;
        // An IPv4 host and its protocol/port are unique in 64 bits.
        ((a as u64) ^ ((a >> 64) as u64).wrapping_mul(GOLDEN).rotate_left(17) ^ u64::from(b) << 32)
            .wrapping_mul(GOLDEN)
    }
}

/// Integer keys to rule lists in one open-addressing table (linear
/// probing, at most half full, an empty list marks a free slot): one
/// multiply and usually one cache line per lookup, where a general hash
/// map spends several times the instructions.
#[derive(Debug)]
struct Flat<K> {
    slots: Vec<(K, Span)>,
    /// 64 minus log2 of the number of slots.
    shift: u32,
}

impl<K> Default for Flat<K> {
    fn default() -> Self {
        Flat {
            slots: Vec::new(),
            shift: 63,
        }
    }
}

impl<K: FlatKey> Flat<K> {
    /// From distinct keys, each with a non-empty list.
    fn new(entries: Vec<(K, Span)>) -> Flat<K> {
        if entries.is_empty() {
            return Flat::default();
        }
        let size = (2 * entries.len()).next_power_of_two().max(2);
        let shift = 64 - size.trailing_zeros();
        let mut slots = vec![(K::default(), (0, 0)); size];
        for (k, v) in entries {
            let mut i = (k.mix() >> shift) as usize;
            while slots[i].1 .1 != 0 {
                i = (i + 1) & (size - 1);
            }
            slots[i] = (k, v);
        }
        Flat { slots, shift }
    }

    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    #[inline]
    fn get(&self, k: K) -> Option<Span> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = (k.mix() >> self.shift) as usize;
        // At most half full: a free slot ends every probe.
        loop {
            let &(key, span) = self.slots.get(i)?;
            if span.1 == 0 {
                return None;
            }
            if key == k {
                return Some(span);
            }
            i = (i + 1) & mask;
        }
    }
}

/// The candidate index of one chain (see the module documentation).
#[derive(Debug, Default)]
struct Index {
    lists: Vec<u32>,
    always: Span,
    src: AddrIndex,
    dst: AddrIndex,
    /// (destination host, family << 24 | protocol << 16 | port).
    dst_port: Flat<(u128, u32)>,
    /// protocol << 16 | port.
    dport: Flat<u32>,
    /// Exact input interface pattern bit → rules.
    iface: Vec<(u32, Span)>,
    proto: Vec<(u8, Span)>,
}

#[derive(Debug)]
struct FChain<'p> {
    rules: Vec<FRule<'p>>,
    index: Index,
    /// Some rule reads the input / output interface (a pattern other
    /// than `+`).
    reads_in: bool,
    reads_out: bool,
    /// The chain's policy (a built-in chain's verdict when no rule decides).
    policy: ChainPolicy,
}

/// One hook on a path.
#[derive(Debug, Clone)]
struct FHook {
    kind: TableKind,
    hook: Hook,
    table: u32,
    chain: u32,
    /// After conntrack (the raw table is before).
    tracked: bool,
    /// After the routing decision.
    routed: bool,
    /// A nat hook: only NEW packets pass.
    nat: bool,
    /// The output interface is defined here (FORWARD, OUTPUT, POSTROUTING).
    has_out: bool,
}

#[derive(Debug)]
struct FPath {
    hooks: Vec<FHook>,
    /// Large sets the path's rules look up: (set, by destination).
    large: Vec<(u32, bool)>,
    reads_in: bool,
    reads_out: bool,
}

/// The compiled program of a classifier.
#[derive(Debug)]
pub(crate) struct Fast<'p> {
    /// Per table, per chain: the compiled chain, if it compiles.
    chains: Vec<Vec<Option<FChain<'p>>>>,
    atoms: Vec<Atom<'p>>,
    /// Interface patterns the rules use (at most 128).
    ifaces: Vec<Pattern>,
    /// Which patterns match the empty name (no interface at this hook).
    empty_mask: u128,
    /// Which patterns match every name (`+`).
    all_mask: u128,
    /// Per family (IPv4, IPv6), per path (input, forward, output).
    paths: [[Option<FPath>; 3]; 2],
    /// Per table: the most rules the walker evaluates in a base chain.
    max_steps: Vec<usize>,
}

/// The packet's fields as the atoms read them.
#[derive(Debug, Clone, Copy)]
struct Pk {
    v4: bool,
    src: u128,
    dst: u128,
    proto: u8,
    sport: u16,
    dport: u16,
    fragment: bool,
    ported: bool,
    flags: u8,
    icmp_type: u8,
    icmp_code: u8,
    length: u16,
    ttl: u8,
    tos: u8,
    mark: u32,
    ct_mark: u32,
    /// Conntrack state bits once tracked.
    ct_bits: u8,
    in_mask: u128,
    out_mask: u128,
    bcast: bool,
}

impl Pk {
    fn ip(&self, dst: bool) -> IpAddr {
        let x = if dst { self.dst } else { self.src };
        if self.v4 {
            IpAddr::V4((x as u32).into())
        } else {
            IpAddr::V6(x.into())
        }
    }
}

/// What the fast path found for a packet.
#[derive(Debug)]
pub(crate) struct FastOut<'a> {
    pub verdict: Verdict,
    pub pick: Option<RawBy>,
    pub path: PathKind,
    pub ct: CtState,
    pub out: Option<&'a str>,
}

fn bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (true, u128::from(u32::from(a))),
        IpAddr::V6(a) => (false, u128::from(a)),
    }
}

/// The prefix of a non-inverted network, as (family is v4, first, last).
fn prefix(n: &Option<Neg<IpNet>>, min: (u8, u8)) -> Option<(bool, u128, u128)> {
    let n = n.as_ref().filter(|n| !n.invert)?;
    let len = n.value.prefix_len()?;
    let (v4, a) = bits(n.value.addr());
    let width = if v4 { 32 } else { 128 };
    if len < if v4 { min.0 } else { min.1 } || len == 0 {
        return None;
    }
    let host = if len >= width {
        0
    } else {
        (1u128 << (width - len)) - 1
    };
    Some((v4, a, a | host))
}

/// The single destination port a rule requires: (protocol, port).
fn single_dport(rule: &Rule) -> Option<(u8, u16)> {
    let p = rule.protocol.as_ref().filter(|p| !p.invert)?.value.0;
    let single = |r: &Option<Neg<PortRange>>| {
        r.as_ref()
            .filter(|r| !r.invert && r.value.is_single())
            .map(|r| r.value.first)
    };
    rule.matches.iter().find_map(|m| match m {
        Match::Tcp(t) if p == 6 => single(&t.dport).map(|d| (6, d)),
        Match::Udp(u) if p == 17 => single(&u.dport).map(|d| (17, d)),
        _ => None,
    })
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

fn ct_bits(ct: CtState) -> u8 {
    match ct {
        CtState::Invalid => 1,
        CtState::New => 2,
        CtState::Related => 4,
        CtState::Established => 8,
        CtState::Untracked => 16,
    }
}

/// Where the index keys a rule.
#[derive(Debug, Clone, Copy)]
enum Key {
    Src(bool, u128, u128),
    Dst(bool, u128, u128),
    DstPort(u128, u32),
    Dport(u32),
    Iface(u32),
    Proto(u8),
    Always,
}

struct Builder<'p> {
    atoms: Vec<Atom<'p>>,
    ifaces: Vec<&'p Iface>,
}

impl<'p> Builder<'p> {
    fn iface(&mut self, i: &'p Iface) -> Option<u32> {
        if let Some(b) = self.ifaces.iter().position(|x| *x == i) {
            return Some(b as u32);
        }
        if self.ifaces.len() >= 128 {
            return None;
        }
        self.ifaces.push(i);
        Some(self.ifaces.len() as u32 - 1)
    }

    fn net(&mut self, n: &Neg<IpNet>, dst: bool) {
        let (v4, addr) = bits(n.value.addr());
        let (_, mask) = bits(n.value.mask());
        self.atoms.push(Atom::Net {
            dst,
            v4,
            addr,
            mask,
            invert: n.invert,
        });
    }

    fn ports(&mut self, s: &Option<Neg<PortRange>>, d: &Option<Neg<PortRange>>) {
        for (r, dst) in [(s, false), (d, true)] {
            if let Some(r) = r {
                self.atoms.push(Atom::Port {
                    dst,
                    range: r.value,
                    invert: r.invert,
                });
            }
        }
    }

    /// The atoms of one match; `None`: not compiled.
    fn one(
        &mut self,
        m: &'p Match,
        sets: &Compiled,
        policy: &'p rampart_model::Policy,
    ) -> Option<()> {
        match m {
            Match::Comment(_) | Match::Nfacct(_) => {}
            Match::Tcp(t) => {
                if t.option.is_some() {
                    return None;
                }
                self.atoms.push(Atom::Header([6, 6]));
                self.ports(&t.sport, &t.dport);
                if let Some(f) = &t.flags {
                    self.atoms.push(Atom::TcpFlags {
                        mask: f.value.mask,
                        comp: f.value.comp,
                        invert: f.invert,
                    });
                }
            }
            Match::Udp(u) => {
                self.atoms.push(Atom::Header([17, 136]));
                self.ports(&u.sport, &u.dport);
            }
            Match::Sctp(s) if s.chunks.is_none() => {
                self.atoms.push(Atom::Header([132, 132]));
                self.ports(&s.sport, &s.dport);
            }
            Match::Dccp(d) if d.types.is_none() && d.option.is_none() => {
                self.atoms.push(Atom::Header([33, 33]));
                self.ports(&d.sport, &d.dport);
            }
            Match::Multiport(mp) => self.atoms.push(Atom::Multiport(mp)),
            Match::Icmp(i) => self.atoms.push(Atom::Icmp(i)),
            Match::Icmp6(i) => self.atoms.push(Atom::Icmp6(i)),
            Match::Esp(e) if e.spi.is_none() => self.atoms.push(Atom::ProtoIs(50)),
            Match::Ah(a) if a.spi.is_none() && a.len.is_none() && !a.res => {
                self.atoms.push(Atom::ProtoIs(51))
            }
            Match::State(s) => self.atoms.push(Atom::State {
                bits: states_bits(&s.states.value),
                invert: s.states.invert,
            }),
            Match::Conntrack(c) => {
                let rest = c.tests_more_than_state();
                if rest {
                    return None;
                }
                if let Some(s) = &c.state {
                    self.atoms.push(Atom::State {
                        bits: states_bits(&s.value),
                        invert: s.invert,
                    });
                }
            }
            Match::SetMatch(sm) => {
                if sm.packets.is_some() || sm.bytes.is_some() {
                    return None;
                }
                let set = policy.set(&sm.set)?;
                if !matches!(
                    set.kind,
                    SetKind::HashIp | SetKind::HashNet | SetKind::BitmapIp
                ) {
                    return None;
                }
                match sm.dirs.first() {
                    // No direction: the packet is never in it.
                    None => self.atoms.push(Atom::Const(sm.invert)),
                    Some(d) => {
                        let i = sets.addr_set(&sm.set)?;
                        self.atoms.push(Atom::Set {
                            set: i as u32,
                            dst: *d == rampart_model::matches::set::SetDir::Dst,
                            return_nomatch: sm.return_nomatch,
                            invert: sm.invert,
                        });
                    }
                }
            }
            Match::Mark(mk) => self.atoms.push(Atom::Mark {
                value: mk.mark.value.value,
                mask: mk.mark.value.mask,
                invert: mk.mark.invert,
                conn: false,
            }),
            Match::Connmark(cm) => self.atoms.push(Atom::Mark {
                value: cm.mark.value.value,
                mask: cm.mark.value.mask,
                invert: cm.mark.invert,
                conn: true,
            }),
            Match::Length(l) => self.atoms.push(Atom::Length(l)),
            Match::Ttl(t) => self.atoms.push(Atom::Ttl(t.op, t.value)),
            Match::Hl(h) => self.atoms.push(Atom::Ttl(h.op, h.value)),
            Match::Tos(t) => self.atoms.push(Atom::Tos {
                value: t.tos.value.value,
                mask: t.tos.value.mask,
                invert: t.tos.invert,
            }),
            Match::Dscp(d) => self.atoms.push(Atom::Dscp {
                value: d.dscp.value,
                invert: d.dscp.invert,
            }),
            Match::Iprange(r) => {
                if let Some(s) = &r.src {
                    self.atoms.push(Atom::Range {
                        dst: false,
                        range: s,
                    });
                }
                if let Some(d) = &r.dst {
                    self.atoms.push(Atom::Range {
                        dst: true,
                        range: d,
                    });
                }
            }
            Match::Pkttype(pt) => self.atoms.push(Atom::Pkttype(&pt.pkt_type)),
            _ => return None,
        }
        Some(())
    }

    /// A rule's atoms and action; `None`: not compiled.
    fn rule(
        &mut self,
        r: &'p Rule,
        jump: Option<usize>,
        sets: &Compiled,
        policy: &'p rampart_model::Policy,
    ) -> Option<(FRule<'p>, bool, bool)> {
        let start = self.atoms.len() as u32;
        let (mut reads_in, mut reads_out) = (false, false);
        if let Some(n) = &r.source {
            self.net(n, false);
        }
        if let Some(n) = &r.destination {
            self.net(n, true);
        }
        for (i, out) in [(&r.in_iface, false), (&r.out_iface, true)] {
            if let Some(i) = i {
                let bit = self.iface(&i.value)?;
                if !i.value.matches_all() {
                    if out {
                        reads_out = true;
                    } else {
                        reads_in = true;
                    }
                }
                self.atoms.push(Atom::Iface {
                    out,
                    bit,
                    invert: i.invert,
                });
            }
        }
        if let Some(p) = &r.protocol {
            self.atoms.push(Atom::Proto {
                p: p.value.0,
                invert: p.invert,
            });
        }
        if let Some(f) = r.fragment {
            self.atoms.push(Atom::Fragment(f));
        }
        for m in &r.matches {
            self.one(m, sets, policy)?;
        }
        let action = match &r.target {
            None => Action::Continue,
            Some(t) => match t {
                Target::Accept => Action::Verdict(Verdict::Accept),
                Target::Drop => Action::Verdict(Verdict::Drop),
                Target::Reject(r) => Action::Verdict(Verdict::Reject { with: r.with }),
                Target::Queue => Action::Verdict(Verdict::Queue { num: 0 }),
                Target::Nfqueue(q) => Action::Verdict(Verdict::Queue {
                    num: match q.queue {
                        QueueSpec::Num(n) => n,
                        QueueSpec::Balance { first, .. } => first,
                    },
                }),
                Target::Return => Action::Return,
                Target::Jump { .. } => Action::Jump(jump? as u32),
                Target::Goto { .. } => Action::Goto(jump? as u32),
                Target::Mark(m) => Action::Mark(m),
                Target::Log(_)
                | Target::Nflog(_)
                | Target::Audit(_)
                | Target::Trace(_)
                | Target::Led(_)
                | Target::Idletimer(_)
                | Target::Rateest(_)
                | Target::Tee(_)
                | Target::Classify(_)
                | Target::Tcpmss(_)
                | Target::Tcpoptstrip(_)
                | Target::Checksum(_)
                | Target::Secmark(_)
                | Target::Connsecmark(_) => Action::Continue,
                _ => return None,
            },
        };
        let atoms = start..self.atoms.len() as u32;
        Some((FRule { atoms, action }, reads_in, reads_out))
    }
}

/// The index key of a rule (see [`Index`]): a field every packet the rule
/// matches has, the most selective first.
fn key_of(r: &Rule, bits_of: impl Fn(&Iface) -> Option<u32>) -> Key {
    let host = prefix(&r.source, (16, 48));
    if let Some((v4, a, b)) = host {
        return Key::Src(v4, a, b);
    }
    if let (Some((v4, a, b)), Some((p, d))) = (prefix(&r.destination, (32, 128)), single_dport(r)) {
        if a == b {
            let fam = if v4 { 4u32 } else { 6 };
            return Key::DstPort(a, fam << 24 | u32::from(p) << 16 | u32::from(d));
        }
    }
    if let Some((v4, a, b)) = prefix(&r.destination, (16, 48)) {
        return Key::Dst(v4, a, b);
    }
    if let Some((p, d)) = single_dport(r) {
        return Key::Dport(u32::from(p) << 16 | u32::from(d));
    }
    if let Some((v4, a, b)) = prefix(&r.source, (1, 1)) {
        return Key::Src(v4, a, b);
    }
    if let Some((v4, a, b)) = prefix(&r.destination, (1, 1)) {
        return Key::Dst(v4, a, b);
    }
    if let Some(i) = r
        .in_iface
        .as_ref()
        .filter(|i| !i.invert && !i.value.is_wildcard() && !i.value.0.is_empty())
    {
        if let Some(b) = bits_of(&i.value) {
            return Key::Iface(b);
        }
    }
    if let Some(p) = r.protocol.as_ref().filter(|p| !p.invert && p.value.0 != 0) {
        return Key::Proto(p.value.0);
    }
    Key::Always
}

/// Whether a rule found through `key` surely meets condition `a` (the
/// lookup of the key tested it: see [`Fast::start`]).
fn implied(key: Key, a: &Atom<'_>) -> bool {
    let width = |v4: bool| if v4 { u128::from(u32::MAX) } else { u128::MAX };
    let net = |v4: bool, lo: u128, hi: u128, a: &Atom<'_>, side: bool| match *a {
        Atom::Net {
            dst,
            v4: av4,
            addr,
            mask,
            invert: false,
        } => dst == side && av4 == v4 && addr == lo && (addr | (!mask & width(v4))) == hi,
        _ => false,
    };
    // Found by (protocol, destination port), looked up only for a packet
    // with ports that is not a non-first fragment.
    let port = |k: u32, a: &Atom<'_>| {
        let (p, port) = ((k >> 16) as u8, k as u16);
        match *a {
            Atom::Proto {
                p: ap,
                invert: false,
            } => ap == p || ap == 0,
            Atom::Header([x, y]) => x == p || y == p,
            Atom::Port {
                dst: true,
                range,
                invert: false,
            } => range.first == port && range.last == port,
            _ => false,
        }
    };
    match key {
        Key::Src(v4, lo, hi) => net(v4, lo, hi, a, false),
        Key::Dst(v4, lo, hi) => net(v4, lo, hi, a, true),
        Key::DstPort(addr, k) => {
            let v4 = k >> 24 == 4;
            net(v4, addr, addr, a, true) || port(k, a)
        }
        Key::Dport(k) => port(k, a),
        Key::Iface(b) => matches!(*a, Atom::Iface { out: false, bit, invert: false } if bit == b),
        Key::Proto(p) => matches!(*a, Atom::Proto { p: ap, invert: false } if ap == p),
        Key::Always => false,
    }
}

fn push_list(lists: &mut Vec<u32>, rules: &[u32]) -> Span {
    let s = (lists.len() as u32, rules.len() as u32);
    lists.extend_from_slice(rules);
    s
}

/// How many of the sorted `starts` are at or below `x`: a branch-free
/// count over a short slice (no mispredicted branches on random
/// addresses), a binary search over a long one.
#[inline]
pub(crate) fn count_le<T: Copy + Ord>(starts: &[T], x: T) -> usize {
    if starts.len() <= 32 {
        starts.iter().map(|s| usize::from(*s <= x)).sum()
    } else {
        starts.partition_point(|s| *s <= x)
    }
}

/// Elementary intervals of `prefixes` (first, last, rule), each with the
/// sorted rules covering it; `None` when the lists would be too large.
fn sweep<T: crate::sets::Key + std::hash::Hash>(
    mut prefixes: Vec<(T, T, u32)>,
    lists: &mut Vec<u32>,
    budget: usize,
) -> Option<(Vec<T>, Vec<Span>)> {
    // Events: a rule starts covering at `first`, stops after `last`.
    let mut events: Vec<(T, bool, u32)> = Vec::with_capacity(prefixes.len() * 2);
    prefixes.sort();
    for (a, b, r) in prefixes {
        events.push((a, true, r));
        if b != T::MAX {
            events.push((b.succ(), false, r));
        }
    }
    events.sort_by_key(|e| e.0);
    let mut starts: Vec<T> = vec![T::ZERO];
    let mut spans: Vec<Span> = vec![(0, 0)];
    let mut active: std::collections::BTreeSet<u32> = std::collections::BTreeSet::new();
    let mut total = 0usize;
    let mut i = 0;
    while i < events.len() {
        let at = events[i].0;
        while i < events.len() && events[i].0 == at {
            let (_, add, r) = events[i];
            if add {
                active.insert(r);
            } else {
                active.remove(&r);
            }
            i += 1;
        }
        let list: Vec<u32> = active.iter().copied().collect();
        total += list.len();
        if total > budget {
            return None;
        }
        let span = push_list(lists, &list);
        if starts.last() == Some(&at) {
            if let Some(l) = spans.last_mut() {
                *l = span;
            }
        } else {
            starts.push(at);
            spans.push(span);
        }
    }
    Some((starts, spans))
}

impl AddrIndex {
    fn build(
        prefixes: &[(bool, u128, u128, u32)],
        lists: &mut Vec<u32>,
        budget: usize,
    ) -> Option<AddrIndex> {
        let v4: Vec<(u32, u32, u32)> = prefixes
            .iter()
            .filter(|p| p.0)
            .map(|&(_, a, b, r)| (a as u32, b as u32, r))
            .collect();
        let v6: Vec<(u128, u128, u32)> = prefixes
            .iter()
            .filter(|p| !p.0)
            .map(|&(_, a, b, r)| (a, b, r))
            .collect();
        let mut ix = AddrIndex::default();
        if !v4.is_empty() {
            let (s, sp) = sweep(v4, lists, budget)?;
            if s.len() > 64 {
                let bits = (usize::BITS - s.len().leading_zeros()).clamp(4, 16);
                let shift = 32 - bits;
                let mut top = Vec::with_capacity((1 << bits) + 1);
                let mut i = 0usize;
                for k in 0..=(1u64 << bits) {
                    while i < s.len() && u64::from(s[i]) < k << shift {
                        i += 1;
                    }
                    top.push(i as u32);
                }
                ix.v4_top = top;
                ix.v4_shift = shift;
                let mut any = vec![0u64; 1 << 14];
                let mut any16 = vec![0u64; 1 << 10];
                for (i, &(_, n)) in sp.iter().enumerate() {
                    if n == 0 {
                        continue;
                    }
                    let first = s[i];
                    let last = s.get(i + 1).map_or(u32::MAX, |e| e - 1);
                    for k in first >> 12..=last >> 12 {
                        any[(k >> 6) as usize] |= 1 << (k & 63);
                    }
                    for k in first >> 16..=last >> 16 {
                        any16[(k >> 6) as usize] |= 1 << (k & 63);
                    }
                }
                ix.v4_any = any;
                ix.v4_any16 = any16;
            }
            ix.v4 = s;
            ix.v4_spans = sp;
        }
        if !v6.is_empty() {
            let (s, sp) = sweep(v6, lists, budget)?;
            ix.v6 = s;
            ix.v6_spans = sp;
        }
        Some(ix)
    }

    #[inline]
    fn find(&self, v4: bool, x: u128) -> Span {
        if v4 {
            if self.v4.is_empty() {
                return (0, 0);
            }
            let x = x as u32;
            if let Some(&w) = self.v4_any16.get((x >> 22) as usize) {
                if w >> (x >> 16 & 63) & 1 == 0 {
                    return (0, 0);
                }
            }
            if let Some(&w) = self.v4_any.get((x >> 18) as usize) {
                if w >> (x >> 12 & 63) & 1 == 0 {
                    return (0, 0);
                }
            }
            let k = (u64::from(x) >> self.v4_shift) as usize;
            let (lo, hi) = match (self.v4_top.get(k), self.v4_top.get(k + 1)) {
                (Some(&lo), Some(&hi)) => ((lo as usize).saturating_sub(1), hi as usize),
                _ => (0, self.v4.len()),
            };
            let n = lo + count_le(&self.v4[lo..hi], x);
            self.v4_spans[n.saturating_sub(1)]
        } else {
            if self.v6.is_empty() {
                return (0, 0);
            }
            let n = count_le(&self.v6, x);
            self.v6_spans[n.saturating_sub(1)]
        }
    }
}

impl Index {
    /// The index and each rule's key.
    fn build(rules: &[Rule], bits_of: &impl Fn(&Iface) -> Option<u32>) -> (Index, Vec<Key>) {
        let mut ix = Index::default();
        let budget = 16 * rules.len() + (1 << 16);
        let mut keys: Vec<Key> = rules.iter().map(|r| key_of(r, bits_of)).collect();
        // Source, then destination intervals; when the lists would be too
        // large (many nested prefixes), those rules are keyed otherwise.
        for dst in [false, true] {
            let prefixes: Vec<(bool, u128, u128, u32)> = keys
                .iter()
                .enumerate()
                .filter_map(|(i, k)| match (k, dst) {
                    (Key::Src(v4, a, b), false) | (Key::Dst(v4, a, b), true) => {
                        Some((*v4, *a, *b, i as u32))
                    }
                    _ => None,
                })
                .collect();
            if prefixes.is_empty() {
                continue;
            }
            match AddrIndex::build(&prefixes, &mut ix.lists, budget) {
                Some(a) if dst => ix.dst = a,
                Some(a) => ix.src = a,
                None => {
                    for &(_, _, _, r) in &prefixes {
                        keys[r as usize] = Key::Always;
                    }
                }
            }
        }
        let mut dst_port: FxMap<(u128, u32), Vec<u32>> = FxMap::default();
        let mut dport: FxMap<u32, Vec<u32>> = FxMap::default();
        let mut iface: Vec<(u32, Vec<u32>)> = Vec::new();
        let mut proto: Vec<(u8, Vec<u32>)> = Vec::new();
        let mut always = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let i = i as u32;
            match *k {
                Key::Src(..) | Key::Dst(..) => {}
                Key::DstPort(a, k) => dst_port.entry((a, k)).or_default().push(i),
                Key::Dport(k) => dport.entry(k).or_default().push(i),
                Key::Iface(b) => match iface.iter_mut().find(|e| e.0 == b) {
                    Some(e) => e.1.push(i),
                    None => iface.push((b, vec![i])),
                },
                Key::Proto(p) => match proto.iter_mut().find(|e| e.0 == p) {
                    Some(e) => e.1.push(i),
                    None => proto.push((p, vec![i])),
                },
                Key::Always => always.push(i),
            }
        }
        ix.always = push_list(&mut ix.lists, &always);
        let lists = &mut ix.lists;
        ix.dst_port = Flat::new(
            dst_port
                .into_iter()
                .map(|(k, v)| (k, push_list(lists, &v)))
                .collect(),
        );
        ix.dport = Flat::new(
            dport
                .into_iter()
                .map(|(k, v)| (k, push_list(lists, &v)))
                .collect(),
        );
        ix.iface = iface
            .into_iter()
            .map(|(k, v)| (k, push_list(lists, &v)))
            .collect();
        ix.proto = proto
            .into_iter()
            .map(|(k, v)| (k, push_list(lists, &v)))
            .collect();
        (ix, keys)
    }
}

/// The candidate lists of a chain for a packet: per list its next rule
/// (`u32::MAX` when done) and read position in the chain's
/// [`Index::lists`]. Small enough to stay on the stack (no copy through
/// `memcpy`); a step compares heads and reads memory only for the list
/// that moves.
struct Cursor<'c> {
    all: &'c [u32],
    heads: [u32; 8],
    /// (position of the head, end) per list.
    lists: [(u32, u32); 8],
    n: usize,
}

impl Cursor<'_> {
    /// Adds a list. At most seven can come from one packet (always,
    /// source, destination, host and port, port, one exact interface
    /// name, the protocol); were there more, `n` passes the capacity and
    /// the chain refuses the packet (see [`Cursor::full`]) rather than
    /// miss a candidate.
    #[inline]
    fn push(&mut self, s: Span) {
        if s.1 == 0 {
            return;
        }
        if let (Some(h), Some(l)) = (self.heads.get_mut(self.n), self.lists.get_mut(self.n)) {
            *h = self.all.get(s.0 as usize).copied().unwrap_or(u32::MAX);
            *l = (s.0, s.0 + s.1);
        }
        self.n += 1;
    }

    /// More lists than the cursor holds.
    #[inline]
    fn full(&self) -> bool {
        self.n > self.lists.len()
    }

    /// The first candidate at or after `from` (`len` when none).
    #[inline]
    fn next(&mut self, from: u32, len: u32) -> u32 {
        let mut best = len;
        for k in 0..self.n.min(self.heads.len()) {
            let mut h = self.heads[k];
            if h < from {
                let (at, end) = &mut self.lists[k];
                h = u32::MAX;
                while *at + 1 < *end {
                    *at += 1;
                    let r = self.all.get(*at as usize).copied().unwrap_or(u32::MAX);
                    if r >= from {
                        h = r;
                        break;
                    }
                }
                self.heads[k] = h;
            }
            best = best.min(h);
        }
        best
    }
}

/// Chain nesting the fast path follows; deeper, the walker answers.
const STACK: usize = 16;

const PATHS: [PathKind; 3] = [PathKind::Input, PathKind::Forward, PathKind::Output];

impl<'p> Fast<'p> {
    pub(crate) fn new(prog: &Program<'p>, sets: &Compiled) -> Fast<'p> {
        let mut b = Builder {
            atoms: Vec::new(),
            ifaces: Vec::new(),
        };
        let mut chains: Vec<Vec<Option<FChain<'p>>>> = Vec::new();
        let mut atoms: Vec<Atom<'p>> = Vec::new();
        for tbl in &prog.tables {
            let mut out = Vec::new();
            for (c, &chain) in tbl.chains.iter().enumerate() {
                let mut rules = Vec::with_capacity(chain.rules.len());
                let (mut reads_in, mut reads_out) = (false, false);
                let mut ok = true;
                for (r, rule) in chain.rules.iter().enumerate() {
                    match b.rule(rule, tbl.jumps[c][r], sets, prog.policy) {
                        Some((fr, i, o)) => {
                            rules.push(fr);
                            reads_in |= i;
                            reads_out |= o;
                        }
                        None => {
                            ok = false;
                            break;
                        }
                    }
                }
                if !ok {
                    out.push(None);
                    continue;
                }
                let ifaces = &b.ifaces;
                let bits_of = |i: &Iface| ifaces.iter().position(|x| *x == i).map(|p| p as u32);
                let (index, keys) = Index::build(&chain.rules, &bits_of);
                // A candidate came from its key's lookup: the conditions
                // the key implies are not checked again; set lookups
                // (memory) last.
                for (fr, key) in rules.iter_mut().zip(keys) {
                    let start = atoms.len() as u32;
                    let own = &b.atoms[fr.atoms.start as usize..fr.atoms.end as usize];
                    atoms.extend(
                        own.iter()
                            .filter(|a| !implied(key, a) && !matches!(a, Atom::Set { .. }))
                            .cloned(),
                    );
                    atoms.extend(
                        own.iter()
                            .filter(|a| matches!(a, Atom::Set { .. }))
                            .cloned(),
                    );
                    fr.atoms = start..atoms.len() as u32;
                }
                out.push(Some(FChain {
                    rules,
                    index,
                    reads_in,
                    reads_out,
                    policy: chain.policy.unwrap_or(ChainPolicy::Accept),
                }));
            }
            chains.push(out);
        }
        let empty_mask = mask_of(&b.ifaces, |i| i.matches(""));
        let all_mask = mask_of(&b.ifaces, |i| i.matches_all());
        let ifaces = b.ifaces.iter().map(|i| Pattern::new(i)).collect();
        let max_steps = prog
            .tables
            .iter()
            .map(|t| MAX_STEPS.max(4 * t.chains.iter().map(|c| c.rules.len()).sum::<usize>()))
            .collect();
        let mut fast = Fast {
            chains,
            atoms,
            ifaces,
            empty_mask,
            all_mask,
            paths: Default::default(),
            max_steps,
        };
        for (f, fam) in [Family::Ipv4, Family::Ipv6].into_iter().enumerate() {
            for (k, kind) in PATHS.into_iter().enumerate() {
                fast.paths[f][k] = fast.path(prog, sets, fam, kind);
            }
        }
        fast
    }

    /// The hooks of a path, when every chain reachable from them compiles.
    fn path(
        &self,
        prog: &Program<'_>,
        sets: &Compiled,
        fam: Family,
        kind: PathKind,
    ) -> Option<FPath> {
        use Hook::*;
        use TableKind::*;
        // (table, hook, after conntrack, after routing), as walk.rs runs them.
        let seq: &[(TableKind, Hook, bool, bool)] = match kind {
            PathKind::Input => &[
                (Raw, Prerouting, false, false),
                (Mangle, Prerouting, true, false),
                (Nat, Prerouting, true, false),
                (Mangle, Input, true, true),
                (Filter, Input, true, true),
                (Security, Input, true, true),
                (Nat, Input, true, true),
            ],
            PathKind::Forward => &[
                (Raw, Prerouting, false, false),
                (Mangle, Prerouting, true, false),
                (Nat, Prerouting, true, false),
                (Mangle, Forward, true, true),
                (Filter, Forward, true, true),
                (Security, Forward, true, true),
                (Mangle, Postrouting, true, true),
                (Nat, Postrouting, true, true),
            ],
            PathKind::Output => &[
                (Raw, Output, false, true),
                (Mangle, Output, true, true),
                (Nat, Output, true, true),
                (Filter, Output, true, true),
                (Security, Output, true, true),
                (Mangle, Postrouting, true, true),
                (Nat, Postrouting, true, true),
            ],
        };
        let mut hooks = Vec::new();
        let mut large: Vec<(u32, bool)> = Vec::new();
        let (mut reads_in, mut reads_out) = (false, false);
        for &(tk, hook, tracked, routed) in seq {
            let Some(t) = prog.table(fam, tk) else {
                continue;
            };
            let Some(c) = prog.hook_chain(t, hook) else {
                continue;
            };
            let has_out = matches!(hook, Forward | Output | Postrouting);
            // Every chain reachable from the base chain must compile.
            let mut seen = vec![false; prog.tables[t].chains.len()];
            let mut todo = vec![c];
            while let Some(x) = todo.pop() {
                if std::mem::replace(&mut seen[x], true) {
                    continue;
                }
                let fc = self.chains[t][x].as_ref()?;
                reads_in |= fc.reads_in && kind != PathKind::Output;
                reads_out |= fc.reads_out && has_out;
                for r in &fc.rules {
                    if let Action::Jump(y) | Action::Goto(y) = r.action {
                        todo.push(y as usize);
                    }
                    for a in &self.atoms[r.atoms.start as usize..r.atoms.end as usize] {
                        if let Atom::Set { set, dst, .. } = *a {
                            if sets.is_large(set as usize) && !large.contains(&(set, dst)) {
                                large.push((set, dst));
                            }
                        }
                    }
                }
            }
            hooks.push(FHook {
                kind: tk,
                hook,
                table: t as u32,
                chain: c as u32,
                tracked,
                routed,
                nat: tk == Nat,
                has_out,
            });
        }
        Some(FPath {
            hooks,
            large,
            reads_in,
            reads_out,
        })
    }

    /// Reads, for a packet, the memory its large-set lookups will read
    /// (see [`Compiled::touch`]); the value means nothing.
    #[inline]
    pub(crate) fn touch(&self, sets: &Compiled, pkt: &Packet) -> u16 {
        let (IpAddr::V4(s), IpAddr::V4(d)) = (pkt.src, pkt.dst) else {
            return 0;
        };
        // The input path is the common one; others are not prefetched.
        let Some(path) = &self.paths[0][0] else {
            return 0;
        };
        let mut acc = 0u16;
        for &(set, dst) in &path.large {
            let x = if dst { u32::from(d) } else { u32::from(s) };
            acc ^= sets.touch(set as usize, Addr::V4(x));
        }
        acc
    }

    /// Runs a lone packet; `None` when the fast path does not take it (the
    /// walker then does). `hooks`: where to record each base chain's
    /// decision, when the caller wants them.
    /// `prep`: the context's addresses prepared once for many packets
    /// (see [`Prepared`]).
    pub(crate) fn run<'a>(
        &self,
        sets: &Compiled,
        ctx: &'a Context,
        mut prep: Option<&mut Prepared>,
        pkt: &'a Packet,
        mut hooks: Option<&mut Vec<RawHook>>,
    ) -> Option<FastOut<'a>> {
        // Ask for the large sets' buckets now: the cache misses overlap
        // with the work below instead of stalling the set match (a batch
        // has asked already).
        if prep.is_none() {
            std::hint::black_box(self.touch(sets, pkt));
        }
        let (v4, src) = bits(pkt.src);
        let (dv4, dst) = bits(pkt.dst);
        if v4 != dv4 {
            return None;
        }
        let (from_host, (local, bcast)) = match prep.as_deref() {
            Some(p) if v4 => {
                let d = p.flags(dst as u32);
                (
                    pkt.in_iface.is_none() && p.flags(src as u32) & LOCAL != 0,
                    (d & LOCAL != 0, d & BCAST != 0),
                )
            }
            _ => (
                pkt.in_iface.is_none() && ctx.is_local(pkt.src),
                local_bcast(ctx, pkt.dst),
            ),
        };
        let kind = if from_host {
            PathKind::Output
        } else if local || bcast || pkt.dst.is_multicast() {
            PathKind::Input
        } else {
            PathKind::Forward
        };
        // IP forwarding refuses a packet whose TTL (hop limit) would reach
        // 0 before the FORWARD hook: the walker models that drop (and the
        // PREROUTING chains before it).
        if kind == PathKind::Forward && pkt.ttl <= 1 {
            return None;
        }
        let path = self.paths[usize::from(!v4)][match kind {
            PathKind::Input => 0,
            PathKind::Forward => 1,
            PathKind::Output => 2,
        }]
        .as_ref()?;
        let mut iface_of = |n: &str| match prep.as_deref_mut() {
            Some(p) => p.iface_mask(self, n),
            None => self.iface_mask(n),
        };
        // The input interface: none on the output path.
        let in_mask = if kind == PathKind::Output {
            self.empty_mask
        } else {
            match pkt.in_iface.as_deref() {
                Some(n) => iface_of(n),
                None if path.reads_in => return None,
                None => self.all_mask,
            }
        };
        let out: Option<&'a str> = if kind == PathKind::Input {
            None
        } else {
            pkt.out_iface.as_deref().or_else(|| ctx.route_ref(pkt.dst))
        };
        let out_mask = match out {
            Some(n) => iface_of(n),
            None if path.reads_out && kind != PathKind::Input => return None,
            None => self.all_mask,
        };
        let ct = match pkt.ct_state {
            Some(s) => s,
            None if crate::walk::cannot_open(pkt) => CtState::Invalid,
            None if crate::walk::untracked_by_conntrack(pkt) => CtState::Untracked,
            None => CtState::New,
        };
        let mut pk = Pk {
            v4,
            src,
            dst,
            proto: pkt.protocol,
            sport: pkt.sport,
            dport: pkt.dport,
            fragment: pkt.fragment,
            ported: pkt.has_ports() && !pkt.fragment,
            flags: pkt.tcp_flags,
            icmp_type: pkt.icmp_type,
            icmp_code: pkt.icmp_code,
            length: pkt.length,
            ttl: pkt.ttl,
            tos: pkt.tos,
            mark: pkt.mark,
            ct_mark: pkt.ct_mark,
            ct_bits: ct_bits(ct),
            in_mask,
            out_mask,
            bcast,
        };
        let mut last: Option<RawBy> = None;
        let mut last_filter: Option<RawBy> = None;
        let mut decremented = false;
        for h in &path.hooks {
            if h.nat && ct != CtState::New {
                continue;
            }
            // Forwarding takes one from the TTL after PREROUTING:
            // FORWARD and POSTROUTING see one less.
            if h.routed && kind == PathKind::Forward && !decremented {
                pk.ttl -= 1;
                decremented = true;
            }
            let (verdict, by) = self.chain(sets, &mut pk, h)?;
            last = Some(by);
            if h.kind == TableKind::Filter {
                last_filter = Some(by);
            }
            if let Some(list) = hooks.as_deref_mut() {
                list.push(RawHook {
                    table: h.kind,
                    hook: h.hook,
                    verdict: verdict.clone(),
                    by,
                    why: Vec::new(),
                });
            }
            if !matches!(verdict, Verdict::Accept) {
                return Some(FastOut {
                    verdict: verdict.clone(),
                    pick: last,
                    path: if h.routed || kind == PathKind::Output {
                        kind
                    } else {
                        PathKind::Input
                    },
                    ct: if h.tracked { ct } else { CtState::New },
                    out: if h.routed { out } else { None },
                });
            }
        }
        Some(FastOut {
            verdict: Verdict::Accept,
            pick: last_filter.or(last),
            path: kind,
            ct,
            out,
        })
    }

    /// Walks a base chain and what it jumps to, as the walker does.
    /// The verdict is borrowed (the rule's own, or a chain policy's):
    /// cloned only when the packet's answer needs it.
    fn chain(&self, sets: &Compiled, pk: &mut Pk, h: &FHook) -> Option<(&Verdict, RawBy)> {
        let t = h.table as usize;
        let chains = &self.chains[t];
        let max_steps = self.max_steps[t];
        let mut stack = [(0u32, 0u32); STACK];
        let mut sp = 0usize;
        let mut cur = h.chain;
        let mut i = 0u32;
        // The rules the reference would have evaluated (it stops at
        // `max_steps`: the walker then answers).
        let mut steps = 0usize;
        let mut fc = chains[cur as usize].as_ref()?;
        let mut cursor = Cursor {
            all: &[],
            heads: [u32::MAX; 8],
            lists: [(0, 0); 8],
            n: 0,
        };
        self.start(fc, pk, &mut cursor)?;
        let by = |cur: u32, rule: Option<u32>| RawBy {
            table: t,
            chain: cur as usize,
            rule: rule.map(|r| r as usize),
        };
        loop {
            let len = fc.rules.len() as u32;
            let next = cursor.next(i, len);
            if next >= len {
                steps += (len - i.min(len)) as usize;
                if steps > max_steps {
                    return None;
                }
                if sp > 0 {
                    sp -= 1;
                    (cur, i) = stack[sp];
                    fc = chains[cur as usize].as_ref()?;
                    self.start(fc, pk, &mut cursor)?;
                    continue;
                }
                return Some(self.policy(t, h.chain));
            }
            steps += (next - i) as usize + 1;
            if steps > max_steps {
                return None;
            }
            i = next;
            let rule = &fc.rules[i as usize];
            if !self.holds(sets, rule, pk, h) {
                i += 1;
                continue;
            }
            match rule.action {
                Action::Continue => i += 1,
                Action::Mark(m) => {
                    pk.mark = m.apply(pk.mark);
                    i += 1;
                }
                Action::Verdict(ref v) => return Some((v, by(cur, Some(i)))),
                Action::Return => {
                    if sp == 0 {
                        return Some(self.policy(t, h.chain));
                    }
                    sp -= 1;
                    (cur, i) = stack[sp];
                    fc = chains[cur as usize].as_ref()?;
                    self.start(fc, pk, &mut cursor)?;
                }
                Action::Jump(c) | Action::Goto(c) => {
                    // Deeper than `STACK` the walker answers (at
                    // `MAX_DEPTH` it calls the packet unknown).
                    if sp >= STACK.min(MAX_DEPTH) {
                        return None;
                    }
                    if matches!(rule.action, Action::Jump(_)) {
                        stack[sp] = (cur, i + 1);
                        sp += 1;
                    }
                    cur = c;
                    i = 0;
                    fc = chains[cur as usize].as_ref()?;
                    self.start(fc, pk, &mut cursor)?;
                }
            }
        }
    }

    /// The base chain's policy.
    fn policy(&self, t: usize, base: u32) -> (&'static Verdict, RawBy) {
        static ACCEPT: Verdict = Verdict::Accept;
        static DROP: Verdict = Verdict::Drop;
        let verdict = match self.chains[t][base as usize].as_ref().map(|c| c.policy) {
            Some(ChainPolicy::Drop) => &DROP,
            _ => &ACCEPT,
        };
        (
            verdict,
            RawBy {
                table: t,
                chain: base as usize,
                rule: None,
            },
        )
    }

    /// The candidate lists of chain `fc` for the packet.
    #[inline(always)]
    /// (Filled in place: a returned cursor was copied.)
    /// `None`: more candidate lists than a cursor holds.
    fn start<'c>(&self, fc: &'c FChain<'_>, pk: &Pk, c: &mut Cursor<'c>) -> Option<()> {
        let ix = &fc.index;
        // Only the first `n` lists are read: no need to clear the rest.
        c.all = &ix.lists;
        c.n = 0;
        c.push(ix.always);
        c.push(ix.src.find(pk.v4, pk.src));
        c.push(ix.dst.find(pk.v4, pk.dst));
        if pk.ported {
            let pp = u32::from(pk.proto) << 16 | u32::from(pk.dport);
            if !ix.dst_port.is_empty() {
                let fam = if pk.v4 { 4u32 } else { 6 };
                if let Some(s) = ix.dst_port.get((pk.dst, fam << 24 | pp)) {
                    c.push(s);
                }
            }
            if !ix.dport.is_empty() {
                if let Some(s) = ix.dport.get(pp) {
                    c.push(s);
                }
            }
        }
        for &(b, s) in &ix.iface {
            if pk.in_mask >> b & 1 == 1 {
                c.push(s);
            }
        }
        for &(p, s) in &ix.proto {
            if p == pk.proto {
                c.push(s);
            }
        }
        (!c.full()).then_some(())
    }

    /// Do all the rule's conditions hold?
    #[inline]
    fn holds(&self, sets: &Compiled, rule: &FRule<'_>, pk: &Pk, h: &FHook) -> bool {
        let atoms = self
            .atoms
            .get(rule.atoms.start as usize..rule.atoms.end as usize)
            .unwrap_or(&[]);
        atoms.iter().all(|a| atom(sets, a, pk, h, self.empty_mask))
    }
}

/// An interface pattern as a zero-padded 16-byte word: an exact name
/// matches when the padded words are equal, a `prefix+` when the name's
/// first bytes are the prefix.
#[derive(Debug)]
struct Pattern {
    word: u128,
    /// The bytes compared (all 16 for an exact name, so the padding
    /// counts; the prefix's for a wildcard).
    mask: u128,
    /// Compared as text instead (an exact name of 16 bytes or more).
    text: bool,
    iface: Iface,
}

/// A name as a little-endian word, zero-padded; `None` beyond 16 bytes.
#[inline]
fn word(name: &[u8]) -> Option<u128> {
    if name.len() > 16 {
        return None;
    }
    // Whole-word loads (a byte loop or a copy of variable length into a
    // buffer, which is a call to `memcpy`, cost several times more).
    let (lo, hi) = match name.split_first_chunk::<8>() {
        Some((first, rest)) => (u64::from_le_bytes(*first), le_word(rest)),
        None => (le_word(name), 0),
    };
    Some(u128::from(hi) << 64 | u128::from(lo))
}

/// Up to 8 bytes as a little-endian word, zero-padded.
#[inline]
fn le_word(b: &[u8]) -> u64 {
    if let Some(w) = b.first_chunk::<8>() {
        return u64::from_le_bytes(*w);
    }
    let (mut w, mut shift, mut b) = (0u64, 0u32, b);
    if let Some((c, rest)) = b.split_first_chunk::<4>() {
        w = u64::from(u32::from_le_bytes(*c));
        shift = 32;
        b = rest;
    }
    if let Some((c, rest)) = b.split_first_chunk::<2>() {
        w |= u64::from(u16::from_le_bytes(*c)) << shift;
        shift += 16;
        b = rest;
    }
    if let Some(&c) = b.first() {
        w |= u64::from(c) << shift;
    }
    w
}

impl Pattern {
    fn new(i: &Iface) -> Pattern {
        let (text, wild) = match i.0.strip_suffix('+') {
            Some(p) => (p, true),
            None => (i.0.as_str(), false),
        };
        let (word, mask, text) = match word(text.as_bytes()) {
            Some(w) if wild => (
                w,
                u128::MAX
                    .checked_shr(128 - 8 * text.len() as u32)
                    .unwrap_or(0),
                false,
            ),
            Some(w) if text.len() < 16 => (w, u128::MAX, false),
            _ => (0, 0, true),
        };
        let text = text || i.0.as_bytes().contains(&0);
        Pattern {
            word,
            mask,
            text,
            iface: i.clone(),
        }
    }
}

impl Fast<'_> {
    /// Which patterns match an interface name.
    #[inline]
    fn iface_mask(&self, name: &str) -> u128 {
        iface_mask(&self.ifaces, name)
    }
}

/// Which of `pats` match an interface name (bit `i` for `pats[i]`).
#[inline]
fn iface_mask(pats: &[Pattern], name: &str) -> u128 {
    let b = name.as_bytes();
    let mut m = 0u128;
    match word(b).filter(|w| b.len() < 16 && !has_nul(*w, b.len())) {
        Some(w) => {
            for (i, p) in pats.iter().enumerate() {
                let hit = if p.text {
                    p.iface.matches(name)
                } else {
                    w & p.mask == p.word
                };
                m |= u128::from(hit) << i;
            }
        }
        None => {
            for (i, p) in pats.iter().enumerate() {
                m |= u128::from(p.iface.matches(name)) << i;
            }
        }
    }
    m
}

/// Is one of the first `len` (below 16) bytes of `w` zero? (Bytes past
/// the name are set first; then the classic test: a byte is zero where
/// subtracting one borrows into its top bit and the top bit was clear.)
#[inline]
fn has_nul(w: u128, len: usize) -> bool {
    const ONES: u128 = u128::MAX / 0xff;
    const HIGH: u128 = ONES << 7;
    let past = u128::MAX.checked_shl(8 * len as u32).unwrap_or(0);
    let x = w | past;
    x.wrapping_sub(ONES) & !x & HIGH != 0
}

/// What a batch of packets under one context computes once: the
/// context's IPv4 local and broadcast addresses in a small hash table
/// (what [`Context::is_local`] and [`Context::is_broadcast`] answer, in
/// one probe), and the interface masks of the last few input interface
/// names seen.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// Open addressing, at most a quarter full: (address, [`LOCAL`] |
    /// [`BCAST`]); no bits: a free slot.
    slots: Vec<(u32, u8)>,
    shift: u32,
    /// (name as a word, its length, pattern mask), filled round-robin.
    names: [(u128, u8, u128); NAMES],
    named: usize,
}

const LOCAL: u8 = 1;
const BCAST: u8 = 2;
/// Interface names remembered by a [`Prepared`].
const NAMES: usize = 8;

impl Prepared {
    pub(crate) fn new(ctx: &Context) -> Prepared {
        let mut addrs: Vec<(u32, u8)> = vec![(u32::MAX, BCAST)];
        for l in &ctx.local {
            if let IpAddr::V4(a) = l.addr {
                let a = u32::from(a);
                addrs.push((a, LOCAL));
                if l.prefix < 31 {
                    addrs.push((a | u32::MAX >> l.prefix, BCAST));
                }
            }
        }
        let size = (4 * addrs.len()).next_power_of_two();
        let shift = 32 - size.trailing_zeros();
        let mut slots = vec![(0u32, 0u8); size];
        for (a, f) in addrs {
            let mut i = Self::slot(a, shift);
            while slots[i].1 != 0 && slots[i].0 != a {
                i = (i + 1) & (size - 1);
            }
            slots[i] = (a, slots[i].1 | f);
        }
        Prepared {
            slots,
            shift,
            names: [(0, 0, 0); NAMES],
            named: 0,
        }
    }

    #[inline]
    fn slot(a: u32, shift: u32) -> usize {
        (a.wrapping_mul(0x9e37_79b1) >> shift) as usize
    }

    /// [`LOCAL`] and [`BCAST`] of an address (127.0.0.0/8 is loopback,
    /// so local).
    #[inline]
    fn flags(&self, a: u32) -> u8 {
        let mask = self.slots.len() - 1;
        let mut i = Self::slot(a, self.shift);
        let loopback = if a >> 24 == 127 { LOCAL } else { 0 };
        loop {
            match self.slots.get(i) {
                Some(&(x, f)) if f != 0 => {
                    if x == a {
                        return f | loopback;
                    }
                }
                _ => return loopback,
            }
            i = (i + 1) & mask;
        }
    }

    /// The interface mask of an input interface name, remembered.
    #[inline]
    fn iface_mask(&mut self, fast: &Fast<'_>, name: &str) -> u128 {
        let b = name.as_bytes();
        let Some(w) = word(b) else {
            return fast.iface_mask(name);
        };
        let len = b.len() as u8;
        for &(x, l, m) in &self.names[..self.named.min(NAMES)] {
            if x == w && l == len {
                return m;
            }
        }
        let m = fast.iface_mask(name);
        self.names[self.named % NAMES] = (w, len, m);
        self.named += 1;
        m
    }
}

/// [`Context::is_local`] and [`Context::is_broadcast`] of one address in
/// one pass over the local addresses.
#[inline]
fn local_bcast(ctx: &Context, ip: IpAddr) -> (bool, bool) {
    let mut local = ip.is_loopback();
    let mut bcast = false;
    match ip {
        IpAddr::V4(a) => {
            let a = u32::from(a);
            bcast = a == u32::MAX;
            // Compared in network byte order (no byte swap per entry),
            // without a branch per entry.
            let a = a.to_be();
            for l in &ctx.local {
                if let IpAddr::V4(la) = l.addr {
                    let la = u32::from_ne_bytes(la.octets());
                    // The host bits (prefix 31 and 32 have no broadcast
                    // address: `wide` is false and the mask is unused).
                    let host = (u32::MAX >> (l.prefix & 31)).to_be();
                    let wide = l.prefix < 31;
                    local |= la == a;
                    bcast |= wide & ((la | host) == a);
                }
            }
        }
        IpAddr::V6(_) => local |= ctx.local.iter().any(|l| l.addr == ip),
    }
    (local, bcast)
}

fn mask_of(ifaces: &[&Iface], f: impl Fn(&Iface) -> bool) -> u128 {
    ifaces
        .iter()
        .enumerate()
        .fold(0u128, |m, (b, i)| m | u128::from(f(i)) << b)
}

/// One condition for the packet at hook `h`.
#[inline]
fn atom(sets: &Compiled, a: &Atom<'_>, pk: &Pk, h: &FHook, empty_mask: u128) -> bool {
    match *a {
        Atom::Const(b) => b,
        Atom::Net {
            dst,
            v4,
            addr,
            mask,
            invert,
        } => {
            let x = if dst { pk.dst } else { pk.src };
            (v4 == pk.v4 && x & mask == addr) != invert
        }
        Atom::Iface { out, bit, invert } => {
            let m = if out {
                if h.has_out {
                    pk.out_mask
                } else {
                    empty_mask
                }
            } else {
                pk.in_mask
            };
            (m >> bit & 1 == 1) != invert
        }
        Atom::Proto { p, invert } => (p == 0 || p == pk.proto) != invert,
        Atom::Fragment(f) => pk.fragment == f,
        Atom::Header([a, b]) => (pk.proto == a || pk.proto == b) && !pk.fragment,
        Atom::Port { dst, range, invert } => {
            range.contains(if dst { pk.dport } else { pk.sport }) != invert
        }
        Atom::TcpFlags { mask, comp, invert } => (pk.flags & mask == comp) != invert,
        Atom::Multiport(mp) => {
            if !pk.ported {
                return false;
            }
            let has = |port: u16| mp.ports.value.iter().any(|r| r.contains(port));
            let hit = match mp.dir {
                MultiportDir::Source => has(pk.sport),
                MultiportDir::Destination => has(pk.dport),
                MultiportDir::Either => has(pk.sport) || has(pk.dport),
            };
            hit != mp.ports.invert
        }
        Atom::Icmp(i) => {
            pk.proto == 1
                && !pk.fragment
                && i.type_matches(pk.icmp_type, pk.icmp_code) != i.icmp_type.invert
        }
        Atom::Icmp6(i) => {
            let t = i.icmp_type.value;
            pk.proto == 58
                && (t.icmp_type == 0xff
                    || (t.icmp_type == pk.icmp_type
                        && t.code_min <= pk.icmp_code
                        && pk.icmp_code <= t.code_max))
                    != i.icmp_type.invert
        }
        Atom::State { bits, invert } => {
            // Before conntrack (raw), every packet is INVALID.
            let have = if h.tracked { pk.ct_bits } else { 1 };
            (have & bits != 0) != invert
        }
        Atom::Set {
            set,
            dst,
            return_nomatch,
            invert,
        } => {
            let x = if dst { pk.dst } else { pk.src };
            let a = if pk.v4 {
                Addr::V4(x as u32)
            } else {
                Addr::V6(x)
            };
            let v = sets.addr(set as usize, a);
            let hit = v == YES || (v == NOMATCH && return_nomatch);
            hit != invert
        }
        Atom::Mark {
            value,
            mask,
            invert,
            conn,
        } => {
            let m = if conn { pk.ct_mark } else { pk.mark };
            (m & mask == value) != invert
        }
        Atom::Length(l) => l.length.value.contains(pk.length) != l.length.invert,
        Atom::Ttl(op, v) => op.holds(pk.ttl, v),
        Atom::Tos {
            value,
            mask,
            invert,
        } => (pk.tos & mask == value) != invert,
        Atom::Dscp { value, invert } => (pk.tos >> 2 == value) != invert,
        Atom::Range { dst, range } => range.value.contains(pk.ip(dst)) != range.invert,
        Atom::Pkttype(want) => {
            let kind = if pk.ip(true).is_multicast() {
                PktType::Multicast
            } else if pk.bcast {
                PktType::Broadcast
            } else {
                PktType::Unicast
            };
            (kind == want.value) != want.invert
        }
        Atom::ProtoIs(p) => pk.proto == p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "",
                "+",
                "e",
                "eth",
                "eth+",
                "eth0",
                "eth01",
                "e+",
                "lo",
                "lo+",
                "wlan0",
                "veth1234567890a",
                "veth1234567890ab",
                "veth1234567890ab+",
                "veth1234567890abc",
                "a\0",
                "a\0+",
            ])
            .prop_map(str::to_string),
            "[a-z0-9\\.+]{0,18}",
        ]
    }

    proptest! {
        /// The word test for a NUL byte in a name answers as a scan.
        #[test]
        fn nul_test_matches_a_scan(name in prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x7f, 0x80, 0xff, b'a']), 0..16)) {
            let w = word(&name).expect("short");
            prop_assert_eq!(has_nul(w, name.len()), name.contains(&0), "{:?}", name);
        }

        /// The packed interface patterns answer as `Iface::matches`.
        #[test]
        fn iface_patterns_match_the_model(
            pats in prop::collection::vec(name(), 0..12),
            names in prop::collection::vec(name(), 1..12),
        ) {
            let ifaces: Vec<Iface> = pats.into_iter().map(Iface).collect();
            let packed: Vec<Pattern> = ifaces.iter().map(Pattern::new).collect();
            for n in &names {
                let want = mask_of(&ifaces.iter().collect::<Vec<_>>(), |i| i.matches(n));
                prop_assert_eq!(iface_mask(&packed, n), want, "{:?}", n);
            }
        }

        /// The open-addressing tables find every key they hold and
        /// nothing else (both key types; colliding and absent keys).
        #[test]
        fn flat_table_matches_a_map(
            keys in prop::collection::btree_set(any::<u32>(), 0..200),
            hosts in prop::collection::btree_set((any::<u128>(), any::<u32>()), 0..100),
            probes in prop::collection::vec(any::<u32>(), 0..50),
        ) {
            let small: Vec<(u32, Span)> = keys.iter().enumerate().map(|(i, &k)| (k, (i as u32, 1 + k % 3))).collect();
            let t = Flat::new(small.clone());
            for &(k, v) in &small {
                prop_assert_eq!(t.get(k), Some(v));
            }
            for p in probes.iter().copied().chain([0, u32::MAX]) {
                let want = small.iter().find(|e| e.0 == p).map(|e| e.1);
                prop_assert_eq!(t.get(p), want);
            }
            let wide: Vec<((u128, u32), Span)> = hosts.iter().enumerate().map(|(i, &k)| (k, (i as u32, 1))).collect();
            let t = Flat::new(wide.clone());
            for &(k, v) in &wide {
                prop_assert_eq!(t.get(k), Some(v));
                let other = (k.0 ^ 1, k.1);
                let want = wide.iter().find(|e| e.0 == other).map(|e| e.1);
                prop_assert_eq!(t.get(other), want);
            }
            prop_assert_eq!(Flat::<u32>::default().get(7), None);
        }

        /// A batch's prepared context answers as the context itself:
        /// local and broadcast addresses (any prefix, /31 and /32 have no
        /// broadcast, 127.0.0.0/8, 255.255.255.255, 0.0.0.0), and
        /// interface masks, remembered or not.
        #[test]
        fn prepared_context_matches_the_context(
            locals in prop::collection::vec((any::<u8>(), any::<u16>(), 0u8..=32), 0..24),
            probes in prop::collection::vec(any::<u32>(), 0..40),
            pats in prop::collection::vec(name(), 0..8),
            names in prop::collection::vec(name(), 1..24),
        ) {
            let mut ctx = Context::default();
            for (b, l, prefix) in &locals {
                let a = [0u32, 0x0a00_0000, 0x7f00_0000, 0xffff_0000][usize::from(b % 4)] | u32::from(*l);
                ctx.local.push(crate::context::LocalAddr {
                    addr: IpAddr::V4(a.into()),
                    prefix: *prefix,
                    iface: None,
                });
            }
            ctx.local.push(crate::context::LocalAddr::new("2001:db8::1".parse().expect("v6")));
            let mut prep = Prepared::new(&ctx);
            let mut xs: Vec<u32> = probes;
            xs.extend([0, u32::MAX, 0x7f00_0001, 0x7fff_ffff, 0x8000_0000]);
            for l in &ctx.local {
                if let IpAddr::V4(a) = l.addr {
                    let a = u32::from(a);
                    xs.extend([a, a ^ 1, a | u32::MAX.checked_shr(u32::from(l.prefix)).unwrap_or(0)]);
                }
            }
            for x in xs {
                let ip = IpAddr::V4(x.into());
                let f = prep.flags(x);
                prop_assert_eq!(f & LOCAL != 0, ctx.is_local(ip), "{}", ip);
                prop_assert_eq!(f & BCAST != 0, ctx.is_broadcast(ip), "{}", ip);
                prop_assert_eq!(local_bcast(&ctx, ip), (ctx.is_local(ip), ctx.is_broadcast(ip)));
            }
            let ifaces: Vec<Iface> = pats.into_iter().map(Iface).collect();
            let fast = Fast {
                chains: Vec::new(),
                atoms: Vec::new(),
                ifaces: ifaces.iter().map(Pattern::new).collect(),
                empty_mask: 0,
                all_mask: 0,
                paths: Default::default(),
                max_steps: Vec::new(),
            };
            for n in names.iter().chain(names.iter()) {
                let want = mask_of(&ifaces.iter().collect::<Vec<_>>(), |i| i.matches(n));
                prop_assert_eq!(prep.iface_mask(&fast, n), want, "{:?}", n);
            }
        }

        /// The address index gives, for any address, exactly the rules
        /// whose prefix contains it (nested, equal, touching prefixes;
        /// enough of them for the block table and the /20 filter; both
        /// families; both ends of the address space).
        #[test]
        fn addr_index_matches_brute_force(
            v4 in prop::collection::vec((any::<u8>(), any::<u16>(), 0u32..=32), 0..150),
            v6 in prop::collection::vec((any::<u8>(), 0u32..=128), 0..20),
            probes in prop::collection::vec(any::<u32>(), 0..40),
        ) {
            let mut prefixes: Vec<(bool, u128, u128, u32)> = Vec::new();
            for (i, (b, l, len)) in v4.into_iter().enumerate() {
                let base = [0u32, 0x0a00_0000, 0x0a0f_f000, 0xffff_0000][usize::from(b % 4)];
                let a = base | u32::from(l);
                let m = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                prefixes.push((true, u128::from(a & m), u128::from((a & m) | !m), i as u32));
            }
            for (b, len) in v6 {
                let a = u128::from(b) << 120 | 0x2001_0db8 << 64;
                let m = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                prefixes.push((false, a & m, (a & m) | !m, prefixes.len() as u32));
            }
            let mut lists = Vec::new();
            let ix = AddrIndex::build(&prefixes, &mut lists, usize::MAX).expect("within budget");
            let mut xs: Vec<(bool, u128)> = vec![(true, 0), (true, u128::from(u32::MAX)), (false, 0), (false, u128::MAX)];
            for &(v4, a, b, _) in &prefixes {
                let max = if v4 { u128::from(u32::MAX) } else { u128::MAX };
                xs.extend([(v4, a), (v4, b), (v4, a.saturating_sub(1)), (v4, b.saturating_add(1).min(max))]);
            }
            xs.extend(probes.into_iter().map(|p| (true, u128::from(p))));
            for (v4, x) in xs {
                let (s, n) = ix.find(v4, x);
                let got = &lists[s as usize..(s + n) as usize];
                let want: Vec<u32> = prefixes
                    .iter()
                    .filter(|p| p.0 == v4 && p.1 <= x && x <= p.2)
                    .map(|p| p.3)
                    .collect();
                prop_assert_eq!(got, &want[..], "{} {:#x}", v4, x);
            }
        }
    }
}
