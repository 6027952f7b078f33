//! From the policy model to header space: what packets a rule matches, and
//! what its target does to the rest of its chain.
//!
//! A match rampart can model exactly (addresses, interfaces, protocol,
//! fragments, ports, TCP flags, ICMP types, conntrack state, static sets,
//! address ranges, comments) restricts fields of the rule's cubes. Any
//! other match (rate limits, marks, strings, time, dynamic sets, ...) is
//! *opaque*: it is left out, so the rule's cubes are a superset of what it
//! matches, and the rule is never used to prove that it covers another.

use crate::space::{ct_value, Cube, Domain, Field, Space, Values};
use rampart_model::matches::conntrack::CtStates;
use rampart_model::matches::multiport::MultiportDir;
use rampart_model::matches::set::SetDir;
use rampart_model::{
    ElemPart, Family, Iface, IpNet, IpSet, Match, Neg, Policy, PortRange, Rule, SetKind, Target,
};
use std::net::IpAddr;

/// The interface names a policy distinguishes. Every real interface name
/// behaves, for every `-i`/`-o` pattern of the policy, exactly like one of
/// these representatives: each literal name, each wildcard prefix itself,
/// "a longer name with this prefix", and "a name no pattern mentions".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceAtoms {
    names: Vec<String>,
}

/// A character no interface name of a policy contains: it makes
/// representative names that no literal equals.
const FRESH: char = '\u{7f}';

impl IfaceAtoms {
    pub fn of(policy: &Policy) -> IfaceAtoms {
        let mut names = vec![FRESH.to_string(), "lo".to_string()];
        for rule in policy
            .tables
            .iter()
            .flat_map(|t| &t.chains)
            .flat_map(|c| &c.rules)
        {
            for i in [&rule.in_iface, &rule.out_iface].into_iter().flatten() {
                let pat = &i.value.0;
                match pat.strip_suffix('+') {
                    Some(p) => {
                        names.push(p.to_string());
                        names.push(format!("{p}{FRESH}"));
                    }
                    None => names.push(pat.clone()),
                }
            }
        }
        names.sort();
        names.dedup();
        IfaceAtoms { names }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// A readable name of atom `i` (`eth*` for "another eth name").
    pub fn display(&self, i: usize) -> String {
        let n = self.names.get(i).map_or("?", String::as_str);
        if n == FRESH.to_string() {
            "(other)".to_string()
        } else if let Some(p) = n.strip_suffix(FRESH) {
            format!("{p}*")
        } else {
            n.to_string()
        }
    }

    /// The atoms a pattern matches.
    pub fn matching(&self, pat: &Iface) -> Values {
        Values::from_ranges(
            self.names
                .iter()
                .enumerate()
                .filter(|(_, n)| pat.matches(n))
                .map(|(i, _)| (i as u128, i as u128))
                .collect(),
        )
    }

    /// Every atom but loopback.
    pub fn not_loopback(&self) -> Values {
        let lo = self.matching(&Iface("lo".into()));
        lo.complement(self.names.len().saturating_sub(1) as u128)
    }
}

/// What one family of a policy is analysed against.
#[derive(Debug, Clone)]
pub struct Ctx<'a> {
    pub policy: &'a Policy,
    pub family: Family,
    pub domain: Domain,
    pub ifaces: IfaceAtoms,
}

impl<'a> Ctx<'a> {
    pub fn new(policy: &'a Policy, family: Family) -> Ctx<'a> {
        let ifaces = IfaceAtoms::of(policy);
        let addr_max = match family {
            Family::Ipv4 => u128::from(u32::MAX),
            Family::Ipv6 => u128::MAX,
        };
        Ctx {
            policy,
            family,
            domain: Domain::new(addr_max, ifaces.len()),
            ifaces,
        }
    }

    pub fn full(&self) -> Cube {
        Cube::full(&self.domain)
    }

    fn max(&self, f: Field) -> u128 {
        self.domain.max[f as usize]
    }

    fn neg(&self, f: Field, v: Values, invert: bool) -> Values {
        if invert {
            v.complement(self.max(f))
        } else {
            v
        }
    }

    /// The addresses of a network, `None` for a non-contiguous mask or a
    /// network of the other family.
    pub fn net_values(&self, n: &IpNet) -> Option<Values> {
        let len = n.prefix_len()?;
        let (lo, width) = match (n.addr(), self.family) {
            (IpAddr::V4(a), Family::Ipv4) => (u128::from(u32::from(a)), 32u32),
            (IpAddr::V6(a), Family::Ipv6) => (u128::from(a), 128u32),
            _ => return None,
        };
        let host_bits = width - u32::from(len);
        let span = if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        Some(Values::range(lo, lo | span))
    }

    fn addr_value(&self, a: IpAddr) -> Option<u128> {
        match (a, self.family) {
            (IpAddr::V4(a), Family::Ipv4) => Some(u128::from(u32::from(a))),
            (IpAddr::V6(a), Family::Ipv6) => Some(u128::from(a)),
            _ => None,
        }
    }

    /// The addresses of a static one-dimensional address set, or `None`
    /// when the set may change at run time (a timeout), is of another
    /// family or kind, or has `nomatch` elements.
    pub fn set_values(&self, set: &IpSet) -> Option<Values> {
        if set.timeout.is_some()
            || set.options.netmask.is_some()
            || set.family.is_some_and(|f| f != self.family)
            || !matches!(
                set.kind,
                SetKind::HashIp | SetKind::HashNet | SetKind::BitmapIp
            )
        {
            return None;
        }
        let mut ranges = Vec::with_capacity(set.elements.len());
        for e in &set.elements {
            if e.nomatch || e.timeout.is_some() {
                return None;
            }
            match e.parts.as_slice() {
                [ElemPart::Net(n)] => ranges.extend_from_slice(self.net_values(n)?.ranges()),
                [ElemPart::Range(a, b)] => {
                    ranges.push((self.addr_value(*a)?, self.addr_value(*b)?));
                }
                _ => return None,
            }
        }
        Some(Values::from_ranges(ranges))
    }

    /// The packets a rule matches (over-approximated when it has opaque
    /// matches) and the names of those opaque matches.
    pub fn rule_space(&self, rule: &Rule) -> Matched {
        let mut b = Builder {
            ctx: self,
            cubes: vec![self.full()],
            opaque: Vec::new(),
        };
        if let Some(n) = &rule.source {
            b.addr(Field::Src, n);
        }
        if let Some(n) = &rule.destination {
            b.addr(Field::Dst, n);
        }
        if let Some(i) = &rule.in_iface {
            let v = self.neg(Field::InIface, self.ifaces.matching(&i.value), i.invert);
            b.restrict(Field::InIface, &v);
        }
        if let Some(i) = &rule.out_iface {
            let v = self.neg(Field::OutIface, self.ifaces.matching(&i.value), i.invert);
            b.restrict(Field::OutIface, &v);
        }
        if let Some(p) = &rule.protocol {
            let v = self.neg(
                Field::Proto,
                Values::single(u128::from(p.value.0)),
                p.invert,
            );
            b.restrict(Field::Proto, &v);
        }
        if let Some(f) = rule.fragment {
            b.restrict(Field::Frag, &Values::single(u128::from(f)));
        }
        for m in &rule.matches {
            b.add_match(m);
        }
        Matched::new(Space::new(b.cubes), b.opaque)
    }
}

/// The packets of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// Every packet the rule matches is in here; when `opaque` is empty,
    /// exactly those.
    pub space: Space,
    /// Matches left out of `space` (by extension name).
    pub opaque: Vec<&'static str>,
    /// Smallest and largest source and destination address of `space`.
    pub bounds: [(u128, u128); 2],
}

/// The rules of a chain by the span of their source addresses, to find
/// the rules that can overlap a given span without looking at all of them
/// (per-address blocklists have tens of thousands of rules).
#[derive(Debug, Clone, Default)]
pub struct RuleIndex {
    /// Bucket `b` holds spans with `hi - lo < 2^b`, by `lo`: `(hi, rule)`.
    buckets: Vec<std::collections::BTreeMap<u128, Vec<(u128, usize)>>>,
}

impl RuleIndex {
    /// Indexes `matched` by their source bounds.
    pub fn new(matched: &[Matched]) -> RuleIndex {
        let mut buckets = vec![std::collections::BTreeMap::new(); 129];
        for (i, m) in matched.iter().enumerate() {
            let (lo, hi) = m.bounds[0];
            if lo > hi {
                continue;
            }
            let b = (128 - (hi - lo).leading_zeros()) as usize;
            buckets[b].entry(lo).or_insert_with(Vec::new).push((hi, i));
        }
        RuleIndex { buckets }
    }

    /// The rules whose source bounds meet `lo..=hi`, in rule order.
    pub fn query(&self, (lo, hi): (u128, u128)) -> Vec<usize> {
        let mut out = Vec::new();
        if lo > hi {
            return out;
        }
        for (b, map) in self.buckets.iter().enumerate() {
            if map.is_empty() {
                continue;
            }
            let max_span = if b == 0 { 0 } else { u128::MAX >> (128 - b) };
            let start = lo.saturating_sub(max_span);
            for (_, v) in map.range(start..=hi) {
                out.extend(v.iter().filter(|(h, _)| *h >= lo).map(|(_, i)| *i));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Lowest and highest value of a field over a space (`(1, 0)` when empty).
fn bounds(space: &Space, f: Field) -> (u128, u128) {
    let mut lo = u128::MAX;
    let mut hi = 0u128;
    let mut any = false;
    for c in &space.cubes {
        let r = c.get(f).ranges();
        if let (Some(first), Some(last)) = (r.first(), r.last()) {
            lo = lo.min(first.0);
            hi = hi.max(last.1);
            any = true;
        }
    }
    if any {
        (lo, hi)
    } else {
        (1, 0)
    }
}

impl Matched {
    pub fn new(space: Space, opaque: Vec<&'static str>) -> Matched {
        let bounds = [Field::Src, Field::Dst].map(|f| bounds(&space, f));
        Matched {
            space,
            opaque,
            bounds,
        }
    }

    /// A quick test before [`Space::overlaps`]: false when the source or
    /// destination address spans cannot meet.
    pub fn may_overlap(&self, o: &Matched) -> bool {
        self.bounds
            .iter()
            .zip(&o.bounds)
            .all(|(a, b)| a.0.max(b.0) <= a.1.min(b.1))
    }

    /// [`Matched::may_overlap`] then [`Space::overlaps`].
    pub fn overlaps(&self, o: &Matched) -> bool {
        self.may_overlap(o) && self.space.overlaps(&o.space)
    }

    pub fn is_exact(&self) -> bool {
        self.opaque.is_empty()
    }
}

struct Builder<'c, 'a> {
    ctx: &'c Ctx<'a>,
    cubes: Vec<Cube>,
    opaque: Vec<&'static str>,
}

impl Builder<'_, '_> {
    fn restrict(&mut self, f: Field, v: &Values) {
        for c in &mut self.cubes {
            c.restrict(f, v);
        }
        self.cubes.retain(|c| !c.is_empty());
    }

    /// A disjunction: the packet satisfies one of `alts` (each a list of
    /// field restrictions).
    fn any_of(&mut self, alts: &[Vec<(Field, Values)>]) {
        let mut out = Vec::new();
        for c in &self.cubes {
            for alt in alts {
                let mut x = c.clone();
                for (f, v) in alt {
                    x.restrict(*f, v);
                }
                if !x.is_empty() {
                    out.push(x);
                }
            }
        }
        self.cubes = out;
    }

    fn opaque(&mut self, name: &'static str) {
        if !self.opaque.contains(&name) {
            self.opaque.push(name);
        }
    }

    fn addr(&mut self, f: Field, n: &Neg<IpNet>) {
        match self.ctx.net_values(&n.value) {
            Some(v) => {
                let v = self.ctx.neg(f, v, n.invert);
                self.restrict(f, &v);
            }
            None => self.opaque("address mask"),
        }
    }

    fn ports(&mut self, f: Field, p: &Neg<PortRange>) {
        let v = self.ctx.neg(
            f,
            Values::range(u128::from(p.value.first), u128::from(p.value.last)),
            p.invert,
        );
        self.restrict(f, &v);
    }

    /// Port and ICMP matches never match non-first fragments.
    fn first_fragment(&mut self) {
        self.restrict(Field::Frag, &Values::single(0));
    }

    fn icmp(&mut self, t: &Neg<rampart_model::matches::icmp::IcmpType>, wildcard: bool) {
        let ty = t.value;
        let v = if wildcard && ty.icmp_type == 0xff {
            Values::range(0, 0xffff)
        } else {
            let base = u128::from(ty.icmp_type) << 8;
            Values::range(
                base | u128::from(ty.code_min),
                base | u128::from(ty.code_max),
            )
        };
        let v = self.ctx.neg(Field::Icmp, v, t.invert);
        self.restrict(Field::Icmp, &v);
        self.first_fragment();
    }

    fn ct_states(&mut self, s: &Neg<CtStates>) {
        let st = s.value;
        let base = [st.invalid, st.new, st.related, st.established, st.untracked];
        let mut ranges = Vec::new();
        for (i, &on) in base.iter().enumerate() {
            for snat in [false, true] {
                for dnat in [false, true] {
                    if on || (snat && st.snat) || (dnat && st.dnat) {
                        let v = ct_value(i, snat, dnat);
                        ranges.push((v, v));
                    }
                }
            }
        }
        let v = self
            .ctx
            .neg(Field::Ct, Values::from_ranges(ranges), s.invert);
        self.restrict(Field::Ct, &v);
    }

    fn add_match(&mut self, m: &Match) {
        match m {
            Match::Comment(_) => {}
            Match::Tcp(t) => {
                self.first_fragment();
                if let Some(p) = &t.sport {
                    self.ports(Field::Sport, p);
                }
                if let Some(p) = &t.dport {
                    self.ports(Field::Dport, p);
                }
                if let Some(fl) = &t.flags {
                    let vals: Vec<(u128, u128)> = (0u8..=255)
                        .filter(|b| b & fl.value.mask == fl.value.comp)
                        .map(|b| (u128::from(b), u128::from(b)))
                        .collect();
                    let v = self
                        .ctx
                        .neg(Field::Flags, Values::from_ranges(vals), fl.invert);
                    self.restrict(Field::Flags, &v);
                }
                if t.option.is_some() {
                    self.opaque("tcp --tcp-option");
                }
            }
            Match::Udp(u) => {
                self.first_fragment();
                if let Some(p) = &u.sport {
                    self.ports(Field::Sport, p);
                }
                if let Some(p) = &u.dport {
                    self.ports(Field::Dport, p);
                }
            }
            Match::Multiport(mp) => {
                self.first_fragment();
                let v = Values::from_ranges(
                    mp.ports
                        .value
                        .iter()
                        .map(|r| (u128::from(r.first), u128::from(r.last)))
                        .collect(),
                );
                let inv = mp.ports.invert;
                match mp.dir {
                    MultiportDir::Source => {
                        let v = self.ctx.neg(Field::Sport, v, inv);
                        self.restrict(Field::Sport, &v);
                    }
                    MultiportDir::Destination => {
                        let v = self.ctx.neg(Field::Dport, v, inv);
                        self.restrict(Field::Dport, &v);
                    }
                    MultiportDir::Either if inv => {
                        // Neither port is in the list.
                        let s = self.ctx.neg(Field::Sport, v.clone(), true);
                        let d = self.ctx.neg(Field::Dport, v, true);
                        self.restrict(Field::Sport, &s);
                        self.restrict(Field::Dport, &d);
                    }
                    MultiportDir::Either => {
                        self.any_of(&[vec![(Field::Sport, v.clone())], vec![(Field::Dport, v)]]);
                    }
                }
            }
            Match::Icmp(i) => self.icmp(&i.icmp_type, true),
            Match::Icmp6(i) => self.icmp(&i.icmp_type, false),
            Match::State(s) => self.ct_states(&s.states),
            Match::Conntrack(c) => {
                if let Some(s) = &c.state {
                    self.ct_states(s);
                }
                let others = c.tests_more_than_state();
                if others {
                    self.opaque("conntrack");
                }
            }
            Match::Iprange(r) => {
                for (f, range) in [(Field::Src, &r.src), (Field::Dst, &r.dst)] {
                    let Some(range) = range else { continue };
                    match (
                        self.ctx.addr_value(range.value.first),
                        self.ctx.addr_value(range.value.last),
                    ) {
                        (Some(a), Some(b)) => {
                            let v = self.ctx.neg(f, Values::range(a, b), range.invert);
                            self.restrict(f, &v);
                        }
                        _ => self.opaque("iprange"),
                    }
                }
            }
            Match::SetMatch(s) => {
                let exact = match (s.dirs.as_slice(), self.ctx.policy.set(&s.set)) {
                    ([dir], Some(set))
                        if !s.return_nomatch && s.packets.is_none() && s.bytes.is_none() =>
                    {
                        self.ctx.set_values(set).map(|v| (*dir, v))
                    }
                    _ => None,
                };
                match exact {
                    Some((dir, v)) => {
                        let f = match dir {
                            SetDir::Src => Field::Src,
                            SetDir::Dst => Field::Dst,
                        };
                        let v = self.ctx.neg(f, v, s.invert);
                        self.restrict(f, &v);
                    }
                    None => self.opaque("set"),
                }
            }
            other => self.opaque(other.name()),
        }
    }
}

/// What a rule's target does to the packets it matches, seen from its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The packet leaves the chain for good with a verdict (ACCEPT, DROP,
    /// REJECT, QUEUE, NAT targets, ...).
    Verdict,
    /// RETURN: back to the caller (the policy in a built-in chain).
    Return,
    /// `-g CHAIN`: continues there, never comes back.
    Goto(String),
    /// `-j CHAIN`: may come back.
    Jump(String),
    /// Nothing for the chain's flow (no target: counting only).
    Nothing,
    /// Goes on to the next rule after a side effect (LOG, MARK, ...).
    SideEffect,
}

impl Effect {
    pub fn of(target: Option<&Target>) -> Effect {
        let Some(t) = target else {
            return Effect::Nothing;
        };
        match t {
            Target::Accept
            | Target::Drop
            | Target::Queue
            | Target::Reject(_)
            | Target::Snat(_)
            | Target::Dnat(_)
            | Target::Masquerade(_)
            | Target::Redirect(_)
            | Target::Netmap(_)
            | Target::Nfqueue(_)
            | Target::Tproxy(_) => Effect::Verdict,
            Target::Return => Effect::Return,
            Target::Goto { chain } => Effect::Goto(chain.clone()),
            Target::Jump { chain } => Effect::Jump(chain.clone()),
            _ => Effect::SideEffect,
        }
    }

    /// Do packets matching the rule never reach the chain's next rule?
    pub fn ends_chain(&self) -> bool {
        matches!(self, Effect::Verdict | Effect::Return | Effect::Goto(_))
    }
}

/// Does the target change a field the analysis models and let the packet
/// go on (conntrack state, TCP flags, IPv6 prefix translation)? Rules
/// before such a rule cannot cover rules after it.
pub fn changes_modelled_fields(target: Option<&Target>) -> bool {
    matches!(
        target,
        Some(
            Target::Notrack(_) | Target::Ct(_) | Target::Ecn(_) | Target::Snpt(_) | Target::Dnpt(_)
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::{Protocol, TableKind};

    #[test]
    fn iface_atoms_are_exact() {
        let mut p = Policy::default();
        let c = p
            .table_mut(Family::Ipv4, TableKind::Filter)
            .chain_mut("INPUT")
            .unwrap();
        for pat in ["eth+", "eth0", "lo"] {
            c.rules.push(Rule {
                in_iface: Some(Neg::new(Iface(pat.into()))),
                ..Default::default()
            });
        }
        let a = IfaceAtoms::of(&p);
        let eth = a.matching(&Iface("eth+".into()));
        let eth0 = a.matching(&Iface("eth0".into()));
        assert!(eth0.is_subset(&eth));
        assert!(!eth.subtract(&eth0).is_empty());
        assert!(!a.not_loopback().overlaps(&a.matching(&Iface("lo".into()))));
    }

    proptest::proptest! {
        #[test]
        fn rule_index_finds_every_overlapping_span(
            spans in proptest::collection::vec((0u128..64, 0u128..64), 0..40),
            q in (0u128..64, 0u128..64),
        ) {
            let d = Domain::new(u128::from(u32::MAX), 2);
            let matched: Vec<Matched> = spans
                .iter()
                .map(|&(a, b)| {
                    let mut c = Cube::full(&d);
                    c.set(Field::Src, Values::range(a.min(b), a.max(b)));
                    Matched::new(Space::new(vec![c]), Vec::new())
                })
                .collect();
            let (lo, hi) = (q.0.min(q.1), q.0.max(q.1));
            let want: Vec<usize> = spans
                .iter()
                .enumerate()
                .filter(|(_, &(a, b))| a.min(b) <= hi && a.max(b) >= lo)
                .map(|(i, _)| i)
                .collect();
            proptest::prop_assert_eq!(RuleIndex::new(&matched).query((lo, hi)), want);
        }
    }

    #[test]
    fn tcp_port_rule() {
        let p = Policy::default();
        let ctx = Ctx::new(&p, Family::Ipv4);
        let r = Rule {
            protocol: Some(Neg::new(Protocol::TCP)),
            matches: vec![Match::Tcp(rampart_model::matches::tcp::Tcp {
                dport: Some(Neg::new(PortRange::single(22))),
                ..Default::default()
            })],
            ..Default::default()
        };
        let m = ctx.rule_space(&r);
        assert!(m.is_exact());
        assert_eq!(m.space.cubes.len(), 1);
        assert_eq!(m.space.cubes[0].get(Field::Dport), &Values::single(22));
        assert_eq!(m.space.cubes[0].get(Field::Frag), &Values::single(0));
    }
}
