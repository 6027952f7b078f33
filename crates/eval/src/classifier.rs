//! The compiled classifier: per chain, rules are indexed by one field
//! their generic matches pin down (source or destination prefix — hash
//! tables per prefix length, longest first —, TCP/UDP destination port,
//! input interface, protocol). A packet looks its fields up and only the
//! rules found (plus the few that pin nothing) are evaluated, in order;
//! sets are interval vectors (see [`crate::sets`]) instead of element
//! scans.
//!
//! A rule left out is one whose generic match on that field fails, and
//! generic matches run before any match extension, so skipping it never
//! skips a state change (limit, recent, quota): both engines give the same
//! verdicts, traces and state.

use crate::context::Context;
use crate::eval::Flight;
use crate::fast::Fast;
use crate::outcome::{Outcome, PathKind};
use crate::packet::Packet;
use crate::program::Program;
use crate::sets::{Compiled, SetIndex};
use crate::state::State;
use crate::walk::{run, Finder};
use rampart_model::{Match, Neg, Policy, PortRange, Rule};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

/// A small multiplicative hasher for integer keys (FxHash's mixing).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

impl Fx {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// Prefix tables: per prefix length (longest first), masked address →
/// rule indices.
#[derive(Debug, Default)]
struct Lpm {
    v4: Vec<(u8, FxMap<u32, Vec<u32>>)>,
    v6: Vec<(u8, FxMap<u128, Vec<u32>>)>,
}

impl Lpm {
    fn add(&mut self, addr: IpAddr, len: u8, rule: u32) {
        match addr {
            IpAddr::V4(a) => {
                let slot = match self.v4.iter().position(|(l, _)| *l == len) {
                    Some(i) => i,
                    None => {
                        self.v4.push((len, FxMap::default()));
                        self.v4.len() - 1
                    }
                };
                self.v4[slot].1.entry(u32::from(a)).or_default().push(rule);
            }
            IpAddr::V6(a) => {
                let slot = match self.v6.iter().position(|(l, _)| *l == len) {
                    Some(i) => i,
                    None => {
                        self.v6.push((len, FxMap::default()));
                        self.v6.len() - 1
                    }
                };
                self.v6[slot].1.entry(u128::from(a)).or_default().push(rule);
            }
        }
    }

    fn lookup<'a>(&'a self, ip: IpAddr, out: &mut Cursor<'a>) {
        match ip {
            IpAddr::V4(a) => {
                let x = u32::from(a);
                for (len, m) in &self.v4 {
                    let k = x & u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
                    if let Some(v) = m.get(&k) {
                        out.push(v);
                    }
                }
            }
            IpAddr::V6(a) => {
                let x = u128::from(a);
                for (len, m) in &self.v6 {
                    let k = x & u128::MAX.checked_shl(128 - u32::from(*len)).unwrap_or(0);
                    if let Some(v) = m.get(&k) {
                        out.push(v);
                    }
                }
            }
        }
    }
}

/// The index of one chain.
#[derive(Debug, Default)]
struct ChainIndex {
    src: Lpm,
    dst: Lpm,
    /// (protocol, destination port) → rules.
    dport: FxMap<(u8, u16), Vec<u32>>,
    /// (source or destination host, protocol, destination port) → rules,
    /// keyed by [`host_port`].
    src_port: FxMap<(u128, u32), Vec<u32>>,
    dst_port: FxMap<(u128, u32), Vec<u32>>,
    /// Input interface name → rules; `iface_all`: all of them (used when
    /// the packet's input interface is not known).
    iface: FxMap<String, Vec<u32>>,
    iface_all: Vec<u32>,
    proto: FxMap<u8, Vec<u32>>,
    /// Rules that pin no indexed field.
    always: Vec<u32>,
}

/// A host, protocol and port as two integers (cheap to hash): the
/// address bits, and the family, protocol and port.
fn host_port(a: IpAddr, proto: u8, port: u16) -> (u128, u32) {
    let (bits, fam) = match a {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 4u32),
        IpAddr::V6(a) => (u128::from(a), 6),
    };
    (bits, fam << 24 | u32::from(proto) << 16 | u32::from(port))
}

/// The field a rule is indexed by.
enum Key {
    SrcPort(IpAddr, u8, u16),
    DstPort(IpAddr, u8, u16),
    Src(IpAddr, u8),
    Dst(IpAddr, u8),
    Dport(u8, u16),
    Iface(String),
    Proto(u8),
    Always,
}

fn prefix(n: &Option<Neg<rampart_model::IpNet>>) -> Option<(IpAddr, u8)> {
    let n = n.as_ref().filter(|n| !n.invert)?;
    let len = n.value.prefix_len()?;
    (len > 0).then(|| (n.value.addr(), len))
}

/// The single destination port a rule requires, when no stateful match
/// runs before the port match.
fn dport(rule: &Rule) -> Option<(u8, u16)> {
    let p = rule.protocol.as_ref().filter(|p| !p.invert)?.value.0;
    let single = |r: &Option<Neg<PortRange>>| {
        r.as_ref()
            .filter(|r| !r.invert && r.value.is_single())
            .map(|r| r.value.first)
    };
    for m in &rule.matches {
        match m {
            Match::Tcp(t) if p == 6 => return single(&t.dport).map(|d| (6, d)),
            Match::Udp(u) if p == 17 => return single(&u.dport).map(|d| (17, d)),
            Match::Comment(_)
            | Match::Conntrack(_)
            | Match::State(_)
            | Match::SetMatch(_)
            | Match::Iprange(_)
            | Match::Mark(_) => {}
            _ => return None,
        }
    }
    None
}

fn key_of(rule: &Rule) -> Key {
    let src = prefix(&rule.source);
    let dst = prefix(&rule.destination);
    let host =
        |x: &Option<(IpAddr, u8)>| x.is_some_and(|(a, l)| l >= if a.is_ipv4() { 16 } else { 48 });
    let full = |x: &Option<(IpAddr, u8)>| {
        x.and_then(|(a, l)| (l == if a.is_ipv4() { 32 } else { 128 }).then_some(a))
    };
    if let (Some(a), Some((p, d))) = (full(&src), dport(rule)) {
        return Key::SrcPort(a, p, d);
    }
    if let (Some(a), Some((p, d))) = (full(&dst), dport(rule)) {
        return Key::DstPort(a, p, d);
    }
    if let (true, Some((a, l))) = (host(&src), src) {
        return Key::Src(a, l);
    }
    if let (true, Some((a, l))) = (host(&dst), dst) {
        return Key::Dst(a, l);
    }
    if let Some((p, d)) = dport(rule) {
        return Key::Dport(p, d);
    }
    if let Some((a, l)) = src {
        return Key::Src(a, l);
    }
    if let Some((a, l)) = dst {
        return Key::Dst(a, l);
    }
    if let Some(i) = rule
        .in_iface
        .as_ref()
        .filter(|i| !i.invert && !i.value.is_wildcard())
    {
        return Key::Iface(i.value.0.clone());
    }
    if let Some(p) = rule
        .protocol
        .as_ref()
        .filter(|p| !p.invert && p.value.0 != 0)
    {
        return Key::Proto(p.value.0);
    }
    Key::Always
}

impl ChainIndex {
    fn new(rules: &[Rule]) -> ChainIndex {
        let mut ix = ChainIndex::default();
        for (i, r) in rules.iter().enumerate() {
            let i = i as u32;
            match key_of(r) {
                Key::SrcPort(a, p, d) => ix.src_port.entry(host_port(a, p, d)).or_default().push(i),
                Key::DstPort(a, p, d) => ix.dst_port.entry(host_port(a, p, d)).or_default().push(i),
                Key::Src(a, l) => ix.src.add(a, l, i),
                Key::Dst(a, l) => ix.dst.add(a, l, i),
                Key::Dport(p, d) => ix.dport.entry((p, d)).or_default().push(i),
                Key::Iface(n) => {
                    ix.iface.entry(n).or_default().push(i);
                    ix.iface_all.push(i);
                }
                Key::Proto(p) => ix.proto.entry(p).or_default().push(i),
                Key::Always => ix.always.push(i),
            }
        }
        ix.src.v4.sort_by_key(|e| std::cmp::Reverse(e.0));
        ix.src.v6.sort_by_key(|e| std::cmp::Reverse(e.0));
        ix.dst.v4.sort_by_key(|e| std::cmp::Reverse(e.0));
        ix.dst.v6.sort_by_key(|e| std::cmp::Reverse(e.0));
        ix
    }
}

/// The compiled classifier of a policy. Same answers as
/// [`evaluate`](crate::evaluate); see the module documentation for how it
/// avoids scanning every rule.
#[derive(Debug)]
pub struct Classifier<'p> {
    pub(crate) prog: Program<'p>,
    /// Per table, per chain.
    index: Vec<Vec<ChainIndex>>,
    sets: Compiled,
    /// The decision program for lone packets of stateless chains.
    fast: Fast<'p>,
}

/// Where the classifier is in a chain: the candidate lists the packet's
/// fields selected, each with a read position (inline up to
/// [`INLINE`], no allocation).
#[derive(Debug)]
pub(crate) struct Cursor<'c> {
    inline: [(&'c [u32], usize); INLINE],
    n: usize,
    spill: Vec<(&'c [u32], usize)>,
}

const INLINE: usize = 12;

thread_local! {
    /// [`Classifier::decide`]'s hook list, reused.
    static HOOKS: std::cell::Cell<Vec<crate::walk::RawHook>> = const { std::cell::Cell::new(Vec::new()) };
}

impl<'c> Cursor<'c> {
    fn push(&mut self, list: &'c [u32]) {
        if self.n < INLINE {
            self.inline[self.n] = (list, 0);
            self.n += 1;
        } else {
            self.spill.push((list, 0));
        }
    }
}

impl<'p> Classifier<'p> {
    /// Builds the indexes (linear in the size of the policy).
    pub fn new(policy: &'p Policy) -> Classifier<'p> {
        let prog = Program::new(policy);
        let index = prog
            .tables
            .iter()
            .map(|t| t.chains.iter().map(|c| ChainIndex::new(&c.rules)).collect())
            .collect();
        let sets = Compiled::new(policy);
        let fast = Fast::new(&prog, &sets);
        Classifier {
            prog,
            index,
            sets,
            fast,
        }
    }

    /// Classifies one packet (a lone packet: state starts empty), with the
    /// full trace.
    pub fn classify(&self, ctx: &Context, pkt: &Packet) -> Outcome {
        let mut st = State::default();
        run(&self.prog, self, ctx, &mut st, pkt, ctx.now, true, true)
    }

    /// The verdict, deciding rule and NAT rewrites without building the
    /// trace (the fast path).
    pub fn verdict(&self, ctx: &Context, pkt: &Packet) -> Outcome {
        let mut hooks = Vec::with_capacity(8);
        if let Some(f) = self.fast.run(&self.sets, ctx, None, pkt, Some(&mut hooks)) {
            let pick = if f.verdict != crate::Verdict::Accept {
                hooks.len().checked_sub(1)
            } else {
                hooks
                    .iter()
                    .rposition(|h| h.table == rampart_model::TableKind::Filter)
                    .or(hooks.len().checked_sub(1))
            };
            let raw = crate::walk::Raw {
                verdict: f.verdict,
                pick,
                hooks,
                path: f.path,
                ct: f.ct,
                out: f.out,
                nat: Vec::new(),
                trace: Vec::new(),
                kernel: None,
            };
            return crate::walk::materialize(&self.prog, pkt, raw);
        }
        let mut st = State::default();
        run(&self.prog, self, ctx, &mut st, pkt, ctx.now, true, false)
    }
}

impl Classifier<'_> {
    /// The verdict and deciding rule only: the fastest call (see
    /// [`Decision`](crate::Decision)).
    pub fn decide(&self, ctx: &Context, pkt: &Packet) -> crate::Decision {
        self.decide_with(ctx, None, pkt)
    }

    fn decide_with(
        &self,
        ctx: &Context,
        prep: Option<&mut crate::fast::Prepared>,
        pkt: &Packet,
    ) -> crate::Decision {
        if let Some(f) = self.fast.run(&self.sets, ctx, prep, pkt, None) {
            return crate::Decision {
                verdict: f.verdict,
                by: f.pick.map(|b| crate::RuleId {
                    table: b.table as u32,
                    chain: b.chain as u32,
                    rule: b.rule.map(|r| r as u32),
                }),
            };
        }
        self.decide_walk(ctx, pkt)
    }

    /// [`Classifier::decide`] for many packets, appended to `out` in
    /// order. The same answers, faster: the context's addresses are
    /// prepared once for the batch, and on large sets, whose lookups miss
    /// the cache, the memory a group of packets will read is requested
    /// for the whole group first, so the misses overlap.
    pub fn decide_batch(&self, ctx: &Context, pkts: &[Packet], out: &mut Vec<crate::Decision>) {
        out.reserve(pkts.len());
        // The context's addresses, sorted once for the batch.
        let mut prep = crate::fast::Prepared::new(ctx);
        for group in pkts.chunks(16) {
            let mut acc = 0u16;
            for p in group {
                acc ^= self.fast.touch(&self.sets, p);
            }
            std::hint::black_box(acc);
            out.extend(
                group
                    .iter()
                    .map(|p| self.decide_with(ctx, Some(&mut prep), p)),
            );
        }
    }

    /// Whether [`Classifier::decide`] and [`Classifier::verdict`] answer
    /// this lone packet with the compiled decision program (stateless
    /// chains; see ARCHITECTURE.md) rather than the shared walker. For
    /// tests and benchmarks: the answers are the same either way.
    pub fn is_fast(&self, ctx: &Context, pkt: &Packet) -> bool {
        self.fast.run(&self.sets, ctx, None, pkt, None).is_some()
    }

    /// [`Classifier::decide`] through the shared walker (what the fast
    /// path falls back to).
    pub(crate) fn decide_walk(&self, ctx: &Context, pkt: &Packet) -> crate::Decision {
        let mut st = State::default();
        // The hook list is kept per thread: no allocation per packet.
        let hooks = HOOKS.with(|h| h.take());
        let raw = crate::walk::run_raw_into(
            &self.prog, self, ctx, &mut st, pkt, ctx.now, true, false, hooks,
        );
        let d = crate::walk::decision(&raw);
        let mut hooks = raw.hooks;
        hooks.clear();
        HOOKS.with(|h| h.replace(hooks));
        d
    }

    /// Names the rule of a [`Decision`](crate::Decision) of this policy.
    pub fn decider(&self, id: crate::RuleId) -> crate::Decider {
        crate::decider_of(&self.prog, id)
    }
}

impl Finder for Classifier<'_> {
    type Cursor<'c>
        = Cursor<'c>
    where
        Self: 'c;

    fn start<'c>(&'c self, table: usize, chain: usize, fl: &Flight) -> Cursor<'c> {
        let ix = &self.index[table][chain];
        let p = &fl.p;
        let mut found = Cursor {
            inline: [(&[], 0); INLINE],
            n: 0,
            spill: Vec::new(),
        };
        if !ix.always.is_empty() {
            found.push(&ix.always);
        }
        ix.src.lookup(p.src, &mut found);
        ix.dst.lookup(p.dst, &mut found);
        if p.has_ports() && !p.fragment {
            if !ix.dport.is_empty() {
                if let Some(v) = ix.dport.get(&(p.protocol, p.dport)) {
                    found.push(v);
                }
            }
            if !ix.src_port.is_empty() {
                if let Some(v) = ix.src_port.get(&host_port(p.src, p.protocol, p.dport)) {
                    found.push(v);
                }
            }
            if !ix.dst_port.is_empty() {
                if let Some(v) = ix.dst_port.get(&host_port(p.dst, p.protocol, p.dport)) {
                    found.push(v);
                }
            }
        }
        if !ix.iface_all.is_empty() && fl.path != PathKind::Output {
            // The flight's own name (its packet copy carries none).
            match fl.in_iface {
                Some(n) => {
                    if let Some(v) = ix.iface.get(n) {
                        found.push(v);
                    }
                }
                None => found.push(&ix.iface_all),
            }
        }
        if let Some(v) = ix.proto.get(&p.protocol) {
            found.push(v);
        }
        found
    }

    fn next(&self, cursor: &mut Cursor<'_>, from: usize, len: usize) -> usize {
        let mut best = len;
        let n = cursor.n;
        for (list, pos) in cursor.inline[..n].iter_mut().chain(cursor.spill.iter_mut()) {
            while *pos < list.len() && (list[*pos] as usize) < from {
                *pos += 1;
            }
            if let Some(&r) = list.get(*pos) {
                best = best.min(r as usize);
            }
        }
        best
    }

    fn sets(&self) -> &dyn SetIndex {
        &self.sets
    }
}
