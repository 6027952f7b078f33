//! The members of native sets: element parsing for every kind, set files
//! (one entry per line, or one CSV column), the set algebra (`union`,
//! `intersect`, `except`) and aggregation.
//!
//! Addresses are held as [`rampart_cidr::CidrSet`]s, so overlapping and
//! adjacent networks merge on the way in and `A except B` is exact. Ports
//! are intervals over the key `protocol << 16 | port`, so ranges of one
//! protocol merge and never join another protocol's. Address+port pairs
//! are a sorted list of disjoint port intervals, each with the address set
//! that goes with it: every operation refines both sides to common port
//! boundaries and works on the address sets, so the algebra is exact for
//! pairs too and the elements it yields never overlap (nftables refuses
//! overlapping elements in a concatenated interval set).
//!
//! Elements with a timeout or comment of their own are kept apart from the
//! plain ones (see [`Content`]): merging them would change when an address
//! expires or what its comment says.

use super::ast::SetType;
use super::check::{parse_net, parse_port};
use crate::diag::{Diagnostic, Severity, SourceFile, Span};
use rampart_cidr::{Builder, CidrSet, Entry, Interval, IntervalSet};
use rampart_model::{ElemPart, IpNet, PortRange, Protocol, SetKind};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Errors reported per set file before the rest are only counted.
const MAX_FILE_ERRORS: usize = 20;

/// One element as written, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key {
    Addr(Entry),
    /// `protocol << 16 | port`, first to last.
    Port(Interval<u32>),
    Pair(Entry, Interval<u32>),
    Iface(String),
}

/// One element of a checked set, ready to lower or print.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ElemKey {
    Net(IpNet),
    /// An address range that is not one network (net sets only).
    Range(IpAddr, IpAddr),
    Port(Protocol, PortRange),
    Pair(IpNet, Protocol, PortRange),
    Iface(String),
}

impl ElemKey {
    /// `Some(true)` for IPv4, `Some(false)` for IPv6, `None` without address.
    pub fn is_ipv4(&self) -> Option<bool> {
        match self {
            ElemKey::Net(n) | ElemKey::Pair(n, _, _) => Some(n.is_ipv4()),
            ElemKey::Range(a, _) => Some(a.is_ipv4()),
            ElemKey::Port(..) | ElemKey::Iface(_) => None,
        }
    }

    /// The native spelling.
    pub fn text(&self) -> String {
        let net = |n: &IpNet| {
            if n.is_host() {
                n.addr().to_string()
            } else {
                n.to_string()
            }
        };
        match self {
            ElemKey::Net(n) => net(n),
            ElemKey::Range(a, b) => format!("{a}-{b}"),
            ElemKey::Port(p, r) => port_text(*p, *r),
            ElemKey::Pair(n, p, r) => format!("{},{}", net(n), port_text(*p, *r)),
            ElemKey::Iface(i) => i.clone(),
        }
    }
}

fn port_text(p: Protocol, r: PortRange) -> String {
    let proto = p
        .name()
        .map_or_else(|| p.0.to_string(), |n| n.to_ascii_lowercase());
    if r.is_single() {
        format!("{}/{proto}", r.first)
    } else {
        format!("{}-{}/{proto}", r.first, r.last)
    }
}

/// One element of a checked set with its own timeout and comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Elem {
    pub key: ElemKey,
    pub timeout: Option<u32>,
    pub comment: Option<String>,
}

/// The members of a set of one kind, canonical: equal sets are equal values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Members {
    Addr(CidrSet),
    Port(IntervalSet<u32>),
    /// Sorted, disjoint port intervals with their (non-empty) address sets;
    /// adjacent intervals with equal address sets are merged.
    Pair(Vec<(Interval<u32>, CidrSet)>),
    Iface(BTreeSet<String>),
}

/// Collects keys and builds [`Members`] once (the way to read huge files).
pub(crate) enum MembersBuilder {
    Addr(Builder),
    Port(Vec<Interval<u32>>),
    Pair(Vec<(Interval<u32>, Entry)>),
    Iface(BTreeSet<String>),
}

impl MembersBuilder {
    pub fn new(kind: SetType) -> Self {
        match kind {
            SetType::Ip | SetType::Net => MembersBuilder::Addr(Builder::default()),
            SetType::Port => MembersBuilder::Port(Vec::new()),
            SetType::IpPort | SetType::NetPort => MembersBuilder::Pair(Vec::new()),
            SetType::Iface => MembersBuilder::Iface(BTreeSet::new()),
        }
    }

    pub fn push(&mut self, key: Key) {
        match (self, key) {
            (MembersBuilder::Addr(b), Key::Addr(e)) => b.push(e),
            (MembersBuilder::Port(v), Key::Port(p)) => v.push(p),
            (MembersBuilder::Pair(v), Key::Pair(a, p)) => v.push((p, a)),
            (MembersBuilder::Iface(s), Key::Iface(i)) => {
                s.insert(i);
            }
            // The parser of a kind yields only that kind's keys.
            _ => {}
        }
    }

    pub fn build(self) -> Members {
        match self {
            MembersBuilder::Addr(b) => Members::Addr(b.build()),
            MembersBuilder::Port(v) => Members::Port(IntervalSet::from_intervals(v)),
            MembersBuilder::Pair(v) => Members::Pair(pairs_from(v)),
            MembersBuilder::Iface(s) => Members::Iface(s),
        }
    }
}

/// Pairs from (port interval, address) entries: grouped by port interval;
/// where port intervals overlap, refined so that the result is disjoint.
fn pairs_from(mut v: Vec<(Interval<u32>, Entry)>) -> Vec<(Interval<u32>, CidrSet)> {
    v.sort_by_key(|(p, _)| *p);
    let mut groups: Vec<(Interval<u32>, CidrSet)> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let port = v[i].0;
        let mut b = Builder::default();
        while i < v.len() && v[i].0 == port {
            b.push(v[i].1);
            i += 1;
        }
        groups.push((port, b.build()));
    }
    let disjoint = groups.windows(2).all(|w| w[0].0.hi() < w[1].0.lo());
    if disjoint {
        let mut out = Vec::with_capacity(groups.len());
        for (p, s) in groups {
            push_merge(&mut out, p.lo(), p.hi(), s);
        }
        return out;
    }
    // Overlapping port ranges: a balanced fold of unions.
    let mut parts: Vec<Vec<(Interval<u32>, CidrSet)>> =
        groups.into_iter().map(|g| vec![g]).collect();
    while parts.len() > 1 {
        let mut next = Vec::with_capacity(parts.len().div_ceil(2));
        let mut it = parts.into_iter();
        while let Some(a) = it.next() {
            match it.next() {
                Some(b) => next.push(pair_op(&a, &b, |x, y| x.union(y))),
                None => next.push(a),
            }
        }
        parts = next;
    }
    parts.pop().unwrap_or_default()
}

fn push_merge(out: &mut Vec<(Interval<u32>, CidrSet)>, lo: u32, hi: u32, set: CidrSet) {
    if let Some((last, s)) = out.last_mut() {
        if u64::from(last.hi()) + 1 == u64::from(lo) && *s == set {
            if let Some(iv) = Interval::new(last.lo(), hi) {
                *last = iv;
                return;
            }
        }
    }
    if let Some(iv) = Interval::new(lo, hi) {
        out.push((iv, set));
    }
}

/// `f` applied per port interval after refining both sides to common
/// boundaries.
fn pair_op(
    a: &[(Interval<u32>, CidrSet)],
    b: &[(Interval<u32>, CidrSet)],
    f: impl Fn(&CidrSet, &CidrSet) -> CidrSet,
) -> Vec<(Interval<u32>, CidrSet)> {
    let mut cuts: Vec<u64> = a
        .iter()
        .chain(b)
        .flat_map(|(iv, _)| [u64::from(iv.lo()), u64::from(iv.hi()) + 1])
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let empty = CidrSet::default();
    let look = |v: &'_ [(Interval<u32>, CidrSet)], k: u32| -> CidrSet {
        let i = v.partition_point(|(iv, _)| iv.hi() < k);
        match v.get(i) {
            Some((iv, s)) if iv.lo() <= k => s.clone(),
            _ => empty.clone(),
        }
    };
    let mut out = Vec::new();
    for w in cuts.windows(2) {
        // Keys are below 2^24: the casts are exact.
        let (lo, hi) = (w[0] as u32, (w[1] - 1) as u32);
        let r = f(&look(a, lo), &look(b, lo));
        if !r.is_empty() {
            push_merge(&mut out, lo, hi, r);
        }
    }
    out
}

fn pair_map(
    a: &[(Interval<u32>, CidrSet)],
    f: impl Fn(&CidrSet) -> CidrSet,
) -> Vec<(Interval<u32>, CidrSet)> {
    let mut out = Vec::new();
    for (iv, s) in a {
        let r = f(s);
        if !r.is_empty() {
            push_merge(&mut out, iv.lo(), iv.hi(), r);
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Union,
    Intersect,
    Except,
}

impl Op {
    pub fn key(self) -> &'static str {
        match self {
            Op::Union => "union",
            Op::Intersect => "intersect",
            Op::Except => "except",
        }
    }
}

/// Whether a set of kind `target` may name a set of kind `other` in `op`.
pub(crate) fn compatible(target: SetType, op: Op, other: SetType) -> bool {
    use SetType::*;
    let addr = |k: SetType| matches!(k, Ip | Net);
    let pair = |k: SetType| matches!(k, IpPort | NetPort);
    match (target, op) {
        (Ip, Op::Union) => other == Ip,
        (Net, _) | (Ip, _) => addr(other),
        (IpPort, Op::Union) => other == IpPort,
        (NetPort, Op::Union) => pair(other),
        (IpPort | NetPort, _) => pair(other) || addr(other),
        (Port, _) => other == Port,
        (Iface, _) => other == Iface,
    }
}

impl Members {
    pub fn empty(kind: SetType) -> Members {
        MembersBuilder::new(kind).build()
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Members::Addr(s) => s.is_empty(),
            Members::Port(s) => s.is_empty(),
            Members::Pair(v) => v.is_empty(),
            Members::Iface(s) => s.is_empty(),
        }
    }

    /// `self op other`. Kinds are checked with [`compatible`] first; an
    /// incompatible `other` counts as empty.
    pub fn apply(&self, op: Op, other: &Members) -> Members {
        let addr = |a: &CidrSet, b: &CidrSet| match op {
            Op::Union => a.union(b),
            Op::Intersect => a.intersect(b),
            Op::Except => a.subtract(b),
        };
        match (self, other) {
            (Members::Addr(a), Members::Addr(b)) => Members::Addr(addr(a, b)),
            (Members::Port(a), Members::Port(b)) => Members::Port(match op {
                Op::Union => a.union(b),
                Op::Intersect => a.intersect(b),
                Op::Except => a.subtract(b),
            }),
            (Members::Pair(a), Members::Pair(b)) => Members::Pair(pair_op(a, b, addr)),
            (Members::Pair(a), Members::Addr(b)) => match op {
                Op::Union => Members::Pair(a.clone()),
                _ => Members::Pair(pair_map(a, |s| addr(s, b))),
            },
            (Members::Iface(a), Members::Iface(b)) => Members::Iface(match op {
                Op::Union => a.union(b).cloned().collect(),
                Op::Intersect => a.intersection(b).cloned().collect(),
                Op::Except => a.difference(b).cloned().collect(),
            }),
            (m, _) => match op {
                Op::Intersect => Members::empty_like(m),
                Op::Union | Op::Except => m.clone(),
            },
        }
    }

    fn empty_like(m: &Members) -> Members {
        match m {
            Members::Addr(_) => Members::Addr(CidrSet::default()),
            Members::Port(_) => Members::Port(IntervalSet::new()),
            Members::Pair(_) => Members::Pair(Vec::new()),
            Members::Iface(_) => Members::Iface(BTreeSet::new()),
        }
    }

    /// (has IPv4, has IPv6).
    pub fn families(&self) -> (bool, bool) {
        match self {
            Members::Addr(s) => (!s.v4.is_empty(), !s.v6.is_empty()),
            Members::Pair(v) => v.iter().fold((false, false), |(a, b), (_, s)| {
                (a || !s.v4.is_empty(), b || !s.v6.is_empty())
            }),
            Members::Port(_) | Members::Iface(_) => (false, false),
        }
    }

    /// The elements, fewest for the kind: one per interval for networks
    /// (a prefix where the interval is one, else a range), one per address
    /// for `ip` sets, one per prefix and port interval for pairs.
    pub fn keys(&self, kind: SetType) -> Vec<ElemKey> {
        let mut out = Vec::new();
        match self {
            Members::Addr(s) => addr_keys(s, kind == SetType::Ip, &mut out),
            Members::Port(s) => {
                for iv in s.intervals() {
                    let (p, r) = port_of(*iv);
                    out.push(ElemKey::Port(p, r));
                }
            }
            Members::Pair(v) => {
                for (iv, s) in v {
                    let (p, r) = port_of(*iv);
                    let mut nets = Vec::new();
                    addr_nets(s, kind == SetType::IpPort, &mut nets);
                    out.extend(nets.into_iter().map(|n| ElemKey::Pair(n, p, r)));
                }
            }
            Members::Iface(s) => out.extend(s.iter().cloned().map(ElemKey::Iface)),
        }
        out
    }
}

fn port_of(iv: Interval<u32>) -> (Protocol, PortRange) {
    // Keys are built as proto << 16 | port and intervals never cross a
    // protocol (port 0 is refused, so no two protocols are adjacent).
    let proto = u8::try_from(iv.lo() >> 16).unwrap_or(0);
    let first = (iv.lo() & 0xffff) as u16;
    let last = if iv.hi() >> 16 == iv.lo() >> 16 {
        (iv.hi() & 0xffff) as u16
    } else {
        u16::MAX
    };
    (Protocol(proto), PortRange { first, last })
}

pub(crate) fn port_key(p: Protocol, r: PortRange) -> Option<Interval<u32>> {
    let base = u32::from(p.0) << 16;
    Interval::new(base | u32::from(r.first), base | u32::from(r.last))
}

fn v4(a: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn v6(a: u128) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(a))
}

/// One element per interval (net) or per address (ip).
fn addr_keys(s: &CidrSet, hosts: bool, out: &mut Vec<ElemKey>) {
    if hosts {
        let mut nets = Vec::new();
        addr_nets(s, true, &mut nets);
        out.extend(nets.into_iter().map(ElemKey::Net));
        return;
    }
    for iv in s.v4.intervals() {
        out.push(match iv.as_prefix() {
            Some(len) => net(v4(iv.lo()), len),
            None => ElemKey::Range(v4(iv.lo()), v4(iv.hi())),
        });
    }
    for iv in s.v6.intervals() {
        out.push(match iv.as_prefix() {
            Some(len) => net(v6(iv.lo()), len),
            None => ElemKey::Range(v6(iv.lo()), v6(iv.hi())),
        });
    }
}

fn net(a: IpAddr, len: u8) -> ElemKey {
    ElemKey::Net(IpNet::new(a, len).unwrap_or_else(|| IpNet::host(a)))
}

/// Prefixes, or every address when `hosts` (the intervals of an `ip` set
/// hold only addresses that were given one by one).
fn addr_nets(s: &CidrSet, hosts: bool, out: &mut Vec<IpNet>) {
    let mk = |a: IpAddr, len: u8| IpNet::new(a, len).unwrap_or_else(|| IpNet::host(a));
    if hosts {
        for iv in s.v4.intervals() {
            out.extend((iv.lo()..=iv.hi()).map(|a| IpNet::host(v4(a))));
        }
        for iv in s.v6.intervals() {
            let mut a = iv.lo();
            loop {
                out.push(IpNet::host(v6(a)));
                if a >= iv.hi() {
                    break;
                }
                a += 1;
            }
        }
        return;
    }
    out.extend(s.v4.prefixes().map(|p| mk(v4(p.addr), p.len)));
    out.extend(s.v6.prefixes().map(|p| mk(v6(p.addr), p.len)));
}

/// A group of elements with their own timeout and/or comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Annotated {
    pub members: Members,
    pub timeout: Option<u32>,
    pub comment: Option<String>,
    /// The first element of the group as written (for messages).
    pub text: String,
}

/// What a set holds before it is turned into elements: the plain members
/// (merged freely) and the annotated groups (never merged with anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Content {
    pub plain: Members,
    pub annotated: Vec<Annotated>,
}

impl Content {
    pub fn empty(kind: SetType) -> Content {
        Content {
            plain: Members::empty(kind),
            annotated: Vec::new(),
        }
    }

    /// Every member, annotated or not.
    pub fn all(&self) -> Members {
        self.annotated.iter().fold(self.plain.clone(), |acc, a| {
            acc.apply(Op::Union, &a.members)
        })
    }

    /// Adds an annotated element; one with the same timeout and comment as
    /// an earlier one joins its group.
    pub fn annotate(
        &mut self,
        members: Members,
        timeout: Option<u32>,
        comment: Option<String>,
        text: &str,
    ) {
        match self
            .annotated
            .iter_mut()
            .find(|a| a.timeout == timeout && a.comment == comment)
        {
            Some(a) => a.members = a.members.apply(Op::Union, &members),
            None => self.annotated.push(Annotated {
                members,
                timeout,
                comment,
                text: text.to_string(),
            }),
        }
    }

    /// `self op other`: a union keeps the other set's annotations; an
    /// intersection or difference cuts every element, plain or annotated,
    /// by all of the other set's members (what is left of an annotated
    /// element keeps its timeout and comment).
    pub fn apply(&self, op: Op, other: &Content) -> Content {
        match op {
            Op::Union => {
                let mut out = Content {
                    plain: self.plain.apply(Op::Union, &other.plain),
                    annotated: self.annotated.clone(),
                };
                for a in &other.annotated {
                    out.annotate(a.members.clone(), a.timeout, a.comment.clone(), &a.text);
                }
                out
            }
            Op::Intersect | Op::Except => {
                let all = other.all();
                Content {
                    plain: self.plain.apply(op, &all),
                    annotated: self
                        .annotated
                        .iter()
                        .map(|a| Annotated {
                            members: a.members.apply(op, &all),
                            ..a.clone()
                        })
                        .filter(|a| !a.members.is_empty())
                        .collect(),
                }
            }
        }
    }

    pub fn families(&self) -> (bool, bool) {
        self.annotated
            .iter()
            .map(|a| a.members.families())
            .fold(self.plain.families(), |(a, b), (c, d)| (a || c, b || d))
    }

    /// The elements: plain ones first, then each annotated group. An
    /// annotated group that shares members with the plain ones or with
    /// another group is an error (the message names the element): the
    /// kernel cannot hold both, and merging would change the meaning.
    pub fn elements(&self, kind: SetType) -> (Vec<Elem>, Vec<String>) {
        let mut errors = Vec::new();
        // The union of the groups so far: one linear check per group; the
        // earlier group it overlaps is looked for only on the error path.
        let mut seen = Members::empty_like(&self.plain);
        for (i, a) in self.annotated.iter().enumerate() {
            if !a.members.apply(Op::Intersect, &self.plain).is_empty() {
                errors.push(format!(
                    "element `{}` (with its own {}) overlaps plain elements of the set",
                    a.text,
                    what(a)
                ));
            }
            if !a.members.apply(Op::Intersect, &seen).is_empty() {
                if let Some(b) = self.annotated[..i]
                    .iter()
                    .find(|b| !a.members.apply(Op::Intersect, &b.members).is_empty())
                {
                    errors.push(format!(
                        "element `{}` overlaps element `{}` with another timeout or comment",
                        a.text, b.text
                    ));
                }
            }
            seen = seen.apply(Op::Union, &a.members);
        }
        let mut out: Vec<Elem> = self
            .plain
            .keys(kind)
            .into_iter()
            .map(|key| Elem {
                key,
                timeout: None,
                comment: None,
            })
            .collect();
        for a in &self.annotated {
            out.extend(a.members.keys(kind).into_iter().map(|key| Elem {
                key,
                timeout: a.timeout,
                comment: a.comment.clone(),
            }));
        }
        (out, errors)
    }
}

fn what(a: &Annotated) -> &'static str {
    match (a.timeout.is_some(), a.comment.is_some()) {
        (true, true) => "timeout and comment",
        (true, false) => "timeout",
        _ => "comment",
    }
}

fn entry_of(n: &IpNet) -> Option<Entry> {
    let len = n.prefix_len()?;
    Some(match n.addr() {
        IpAddr::V4(a) => Entry::V4(Interval::prefix(u32::from(a), len)?),
        IpAddr::V6(a) => Entry::V6(Interval::prefix(u128::from(a), len)?),
    })
}

fn range_entry(a: IpAddr, b: IpAddr) -> Option<Entry> {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => Interval::new(u32::from(a), u32::from(b)).map(Entry::V4),
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            Interval::new(u128::from(a), u128::from(b)).map(Entry::V6)
        }
        _ => None,
    }
}

/// The key of an element of the model (for the canonical form of imported
/// sets); `None` for parts the native kinds do not hold.
pub(crate) fn key_of_elem(key: &ElemKey) -> Option<Key> {
    Some(match key {
        ElemKey::Net(n) => Key::Addr(entry_of(n)?),
        ElemKey::Range(a, b) => Key::Addr(range_entry(*a, *b)?),
        ElemKey::Port(p, r) => Key::Port(port_key(*p, *r)?),
        ElemKey::Pair(n, p, r) => Key::Pair(entry_of(n)?, port_key(*p, *r)?),
        ElemKey::Iface(i) => Key::Iface(i.clone()),
    })
}

/// The key of one model element in a native set of `kind`.
/// The native kind of a model (ipset) set kind.
pub(crate) fn native_kind(k: SetKind) -> Option<SetType> {
    Some(match k {
        SetKind::HashNet => SetType::Net,
        SetKind::HashIp => SetType::Ip,
        SetKind::Port => SetType::Port,
        SetKind::HashIpPort => SetType::IpPort,
        SetKind::HashNetPort => SetType::NetPort,
        SetKind::Iface => SetType::Iface,
        _ => return None,
    })
}

pub(crate) fn key_of_parts(kind: SetType, parts: &[ElemPart]) -> Option<ElemKey> {
    let port = |p: &ElemPart| match p {
        ElemPart::Port { proto, first, last } => {
            let proto = Protocol(proto.unwrap_or(6));
            (proto == Protocol::TCP || proto == Protocol::UDP)
                .then(|| PortRange::new(*first, *last).map(|r| (proto, r)))
                .flatten()
                .filter(|(_, r)| r.first > 0)
        }
        _ => None,
    };
    Some(match (kind, parts) {
        (SetType::Net, [ElemPart::Net(n)]) => ElemKey::Net(*n),
        (SetType::Ip, [ElemPart::Net(n)]) if n.is_host() => ElemKey::Net(*n),
        (SetType::Net, [ElemPart::Range(a, b)]) => ElemKey::Range(*a, *b),
        (SetType::Port, [p]) => {
            let (p, r) = port(p)?;
            ElemKey::Port(p, r)
        }
        (SetType::NetPort, [ElemPart::Net(n), p]) => {
            let (p, r) = port(p)?;
            ElemKey::Pair(*n, p, r)
        }
        (SetType::IpPort, [ElemPart::Net(n), p]) if n.is_host() => {
            let (p, r) = port(p)?;
            ElemKey::Pair(*n, p, r)
        }
        (SetType::Iface, [ElemPart::Iface(i)]) => ElemKey::Iface(i.clone()),
        _ => return None,
    })
}

/// Parses one element written in a policy (`strict`: host bits are an
/// error, as everywhere in a policy) or in a set file (host bits are
/// masked off, as the kernel and `rampart cidr` do).
pub(crate) fn parse_key(kind: SetType, s: &str, strict: bool) -> Result<Key, String> {
    let s = s.trim();
    match kind {
        SetType::Ip | SetType::Net => {
            let e = parse_addr(s, strict, kind == SetType::Net)?;
            if kind == SetType::Ip && !is_single(&e) {
                return Err(format!(
                    "`{s}` is more than one address, but the set has `type = \"ip\"`"
                ));
            }
            Ok(Key::Addr(e))
        }
        SetType::Port => {
            let (p, r) = parse_port_elem(s)?;
            port_key(p, r)
                .map(Key::Port)
                .ok_or_else(|| format!("bad port `{s}`"))
        }
        SetType::IpPort | SetType::NetPort => {
            let Some((addr, port)) = s.rsplit_once(',') else {
                return Err(format!("`{s}` is not ADDRESS,PORT/PROTOCOL"));
            };
            let e = parse_addr(addr.trim(), strict, false)?;
            if kind == SetType::IpPort && !is_single(&e) {
                return Err(format!(
                    "`{}` is a network, but the set has `type = \"ip,port\"`",
                    addr.trim()
                ));
            }
            let (p, r) = parse_port_elem(port.trim())?;
            let k = port_key(p, r).ok_or_else(|| format!("bad port `{port}`"))?;
            Ok(Key::Pair(e, k))
        }
        SetType::Iface => {
            if s.is_empty() || s.len() > 15 {
                return Err(format!("interface name `{s}` must be 1 to 15 characters"));
            }
            if s.contains(|c: char| {
                c.is_whitespace()
                    || matches!(c, '/' | '+' | '*' | '!' | '"' | ',')
                    || c.is_control()
            }) {
                return Err(format!(
                    "invalid interface name `{s}` (a set holds exact names; no `+` or `*` wildcards)"
                ));
            }
            Ok(Key::Iface(s.to_string()))
        }
    }
}

/// `PORT/PROTOCOL`, with a hint for `tcp/22` (the order of `ipset`'s `tcp:22`).
fn parse_port_elem(s: &str) -> Result<(Protocol, PortRange), String> {
    parse_port(s).map_err(|e| match s.split_once('/') {
        Some((p @ ("tcp" | "udp"), port)) => {
            format!("`{s}`: write the port first, as in `{port}/{p}`")
        }
        _ => e,
    })
}

fn is_single(e: &Entry) -> bool {
    match e {
        Entry::V4(iv) => iv.lo() == iv.hi(),
        Entry::V6(iv) => iv.lo() == iv.hi(),
    }
}

/// `ADDR`, `ADDR/LEN` and (with `ranges`) `ADDR-ADDR`.
fn parse_addr(s: &str, strict: bool, ranges: bool) -> Result<Entry, String> {
    if let Some((a, b)) = s.split_once('-') {
        if !ranges {
            return Err(format!(
                "`{s}`: a range is allowed in `type = \"net\"` sets only"
            ));
        }
        let bad = |x: &str| format!("`{}` is not an IP address in range `{s}`", x.trim());
        let a: IpAddr = a.trim().parse().map_err(|_| bad(a))?;
        let b: IpAddr = b.trim().parse().map_err(|_| bad(b))?;
        if a.is_ipv4() != b.is_ipv4() {
            return Err(format!("range `{s}` mixes IPv4 and IPv6"));
        }
        return range_entry(a, b).ok_or_else(|| format!("range `{s}` is backwards"));
    }
    if strict {
        let n = parse_net(s)?;
        return entry_of(&n).ok_or_else(|| format!("`{s}` is not a network"));
    }
    match rampart_cidr::parse_line(s.as_bytes()) {
        Ok(Some(e)) => Ok(e),
        Ok(None) => Err("empty element".into()),
        Err(e) => Err(format!("`{s}`: {}", e.kind)),
    }
}

/// How a set file is read.
#[derive(Debug, Clone)]
pub(crate) struct FileSpec {
    pub csv: bool,
    /// 0-based CSV column, or a header name to look up.
    pub column: ColumnSel,
    pub delimiter: u8,
    pub header: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum ColumnSel {
    Index(usize),
    Name(String),
}

/// Reads a set file: every element into `b`; bad lines as located
/// diagnostics (the first [`MAX_FILE_ERRORS`], then a count).
/// `Err(msg)` when the header has no column of that name.
pub(crate) fn read_file(
    kind: SetType,
    sf: &SourceFile,
    spec: &FileSpec,
    b: &mut MembersBuilder,
    diags: &mut Vec<Diagnostic>,
) -> Result<(), String> {
    let text = sf.text.as_bytes();
    let mut errors = 0usize;
    let mut report = |diags: &mut Vec<Diagnostic>, span: Span, msg: String| {
        errors += 1;
        if errors <= MAX_FILE_ERRORS {
            diags.push(sf.error(span, msg));
        }
    };
    let mut column = match &spec.column {
        ColumnSel::Index(i) => Some(*i),
        ColumnSel::Name(_) => None,
    };
    let mut header_pending = spec.csv && spec.header;
    let mut pos = 0usize;
    let mut fields: Vec<(usize, usize)> = Vec::new();
    while pos < text.len() {
        let end = text[pos..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(text.len(), |i| pos + i);
        let line_start = pos;
        pos = end + 1;
        let mut line_end = end;
        if line_end > line_start && text[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        let line = &text[line_start..line_end];
        if !spec.csv {
            if matches!(kind, SetType::Ip | SetType::Net) {
                match rampart_cidr::parse_line(line) {
                    Ok(None) => {}
                    Ok(Some(e)) => {
                        if kind == SetType::Ip && !is_single(&e) {
                            let (s, t) = trimmed(line, 0, line.len());
                            report(
                                diags,
                                Span::new(line_start + s, line_start + t),
                                "a network or range in a set with `type = \"ip\"` (single addresses)".into(),
                            );
                        } else {
                            b.push(Key::Addr(e));
                        }
                    }
                    Err(e) => report(
                        diags,
                        Span::new(line_start + e.start, line_start + e.end.max(e.start + 1)),
                        e.kind.to_string(),
                    ),
                }
                continue;
            }
            let body_end = line.iter().position(|&c| c == b'#').unwrap_or(line.len());
            let (s, t) = trimmed(line, 0, body_end);
            if s == t {
                continue;
            }
            field(
                kind,
                sf,
                line_start + s,
                line_start + t,
                b,
                &mut report,
                diags,
            );
            continue;
        }
        // CSV.
        let (s, t) = trimmed(line, 0, line.len());
        if s == t || line[s] == b'#' {
            continue;
        }
        split_csv(line, spec.delimiter, &mut fields);
        if header_pending {
            header_pending = false;
            if let ColumnSel::Name(name) = &spec.column {
                let names: Vec<String> =
                    fields.iter().map(|&(a, z)| unquote(&line[a..z])).collect();
                match names.iter().position(|n| n == name) {
                    Some(i) => column = Some(i),
                    None => {
                        return Err(format!(
                            "the header of `{}` has no column `{name}` (it has {})",
                            sf.path,
                            names
                                .iter()
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }
                }
            }
            continue;
        }
        let Some(col) = column else {
            return Err(format!(
                "`{}` has no header row to find the column in",
                sf.path
            ));
        };
        match fields.get(col) {
            Some(&(a, z)) => {
                let (mut a, mut z) = trimmed(line, a, z);
                if z > a + 1 && line[a] == b'"' && line[z - 1] == b'"' {
                    a += 1;
                    z -= 1;
                }
                if a == z {
                    report(
                        diags,
                        Span::new(line_start + a, line_start + a),
                        format!("column {} is empty", col + 1),
                    );
                    continue;
                }
                field(
                    kind,
                    sf,
                    line_start + a,
                    line_start + z,
                    b,
                    &mut report,
                    diags,
                );
            }
            None => report(
                diags,
                Span::new(line_start + line.len(), line_start + line.len()),
                format!(
                    "this row has {} column(s); the set reads column {}",
                    fields.len(),
                    col + 1
                ),
            ),
        }
    }
    if errors > MAX_FILE_ERRORS {
        diags.push(Diagnostic::file_level(
            &sf.path,
            Severity::Error,
            format!(
                "{} more bad line(s) in this set file",
                errors - MAX_FILE_ERRORS
            ),
        ));
    }
    Ok(())
}

/// One field `text[a..z]` of a set file.
fn field(
    kind: SetType,
    sf: &SourceFile,
    a: usize,
    z: usize,
    b: &mut MembersBuilder,
    report: &mut impl FnMut(&mut Vec<Diagnostic>, Span, String),
    diags: &mut Vec<Diagnostic>,
) {
    let text = &sf.text[a..z];
    match parse_key(kind, text, false) {
        Ok(k) => b.push(k),
        Err(e) => report(diags, Span::new(a, z), e),
    }
}

/// The bounds of `line[a..z]` without blanks around.
fn trimmed(line: &[u8], mut a: usize, mut z: usize) -> (usize, usize) {
    while a < z && line[a].is_ascii_whitespace() {
        a += 1;
    }
    while z > a && line[z - 1].is_ascii_whitespace() {
        z -= 1;
    }
    (a, z)
}

/// Field bounds of one CSV row (a delimiter inside double quotes does not
/// split; `""` is a quote inside a quoted field).
fn split_csv(line: &[u8], delim: u8, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let mut start = 0;
    let mut quoted = false;
    for (i, &c) in line.iter().enumerate() {
        if c == b'"' {
            quoted = !quoted;
        } else if c == delim && !quoted {
            out.push((start, i));
            start = i + 1;
        }
    }
    out.push((start, line.len()));
}

fn unquote(f: &[u8]) -> String {
    let s = String::from_utf8_lossy(f);
    let s = s.trim();
    match s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(kind: SetType, items: &[&str]) -> Members {
        let mut b = MembersBuilder::new(kind);
        for i in items {
            b.push(parse_key(kind, i, true).expect("test element"));
        }
        b.build()
    }

    fn texts(m: &Members, kind: SetType) -> Vec<String> {
        m.keys(kind).iter().map(ElemKey::text).collect()
    }

    #[test]
    fn networks_merge_and_subtract() {
        let a = addr(SetType::Net, &["10.0.0.0/25", "10.0.0.128/25", "10.0.0.7"]);
        assert_eq!(texts(&a, SetType::Net), ["10.0.0.0/24"]);
        let b = addr(SetType::Net, &["10.0.0.64/26"]);
        let d = a.apply(Op::Except, &b);
        assert_eq!(texts(&d, SetType::Net), ["10.0.0.0/26", "10.0.0.128/25"]);
        let r = addr(SetType::Net, &["10.0.0.1-10.0.0.6", "10.0.0.7"]);
        assert_eq!(texts(&r, SetType::Net), ["10.0.0.1-10.0.0.7"]);
    }

    #[test]
    fn ports_merge_per_protocol() {
        let a = addr(
            SetType::Port,
            &["80/tcp", "81-90/tcp", "80/udp", "65535/tcp"],
        );
        assert_eq!(
            texts(&a, SetType::Port),
            ["80-90/tcp", "65535/tcp", "80/udp"]
        );
    }

    #[test]
    fn pairs_are_disjoint() {
        let a = addr(
            SetType::NetPort,
            &[
                "10.0.0.0/8,20-30/tcp",
                "10.1.0.0/16,22/tcp",
                "192.0.2.0/24,22/tcp",
            ],
        );
        let t = texts(&a, SetType::NetPort);
        assert_eq!(
            t,
            [
                "10.0.0.0/8,20-21/tcp",
                "10.0.0.0/8,22/tcp",
                "192.0.2.0/24,22/tcp",
                "10.0.0.0/8,23-30/tcp"
            ]
        );
        let office = addr(SetType::Net, &["10.0.0.0/9"]);
        let d = a.apply(Op::Except, &office);
        assert_eq!(
            texts(&d, SetType::NetPort),
            [
                "10.128.0.0/9,20-21/tcp",
                "10.128.0.0/9,22/tcp",
                "192.0.2.0/24,22/tcp",
                "10.128.0.0/9,23-30/tcp"
            ]
        );
    }

    #[test]
    fn csv_columns_and_errors() {
        let sf = SourceFile::new(
            "x.csv",
            "network,name\n10.0.0.0/8,a\n\"192.0.2.0/24\",\"b, c\"\nbad,d\n# note\n\n",
        );
        let spec = FileSpec {
            csv: true,
            column: ColumnSel::Name("network".into()),
            delimiter: b',',
            header: true,
        };
        let mut b = MembersBuilder::new(SetType::Net);
        let mut d = Vec::new();
        read_file(SetType::Net, &sf, &spec, &mut b, &mut d).expect("header found");
        assert_eq!(
            texts(&b.build(), SetType::Net),
            ["10.0.0.0/8", "192.0.2.0/24"]
        );
        assert_eq!(d.len(), 1);
        assert!(d[0].to_string().contains("x.csv:4:1"), "{}", d[0]);
    }
}
