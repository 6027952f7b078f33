//! The optimisation pass: a pure `Ruleset -> Ruleset` step that keeps the
//! meaning of every chain and only makes it shorter.
//!
//! Two rewrites, both limited to rules that end in a terminal verdict
//! (`accept`, `drop`, `return`, `goto`, `reject`) and hold no stateful
//! statement (`limit`, `ct count`, set updates: merging would share their
//! state):
//!
//! 1. **IPv4/IPv6 twins.** Within a run of rules that all start with
//!    `meta nfproto ipv4|ipv6`, a rule of one family and a rule of the other
//!    that are otherwise identical and contain no family-specific
//!    expression (addresses, `ip`/`ip6`/`icmp`/`icmpv6` fields, conntrack
//!    addresses, named sets) become one rule without the guard. Rules of
//!    different families never see the same packet, so they may be
//!    reordered relative to each other; the order among the rules of one
//!    family is kept.
//! 2. **Runs of values.** Adjacent rules that differ only in the value of
//!    one `==` comparison (an address, port, interface, protocol ...)
//!    become one rule with an anonymous set (`{ a, b }`, up to
//!    [`ANON_SET_MAX`] elements) or a named set `merged.CHAIN.N` (more).
//!    Because the verdict is terminal, "rule 1, then rule 2" means the same
//!    as "one rule matching either value". A value whose interval overlaps
//!    one already in the set (but is not equal to it) ends the run, so
//!    every generated set is free of overlaps; an exact duplicate is
//!    absorbed.
//!
//! Counters: a merged rule has one counter for all the rules it replaces.
//! [`Rule::origins`] lists every source line a rule stands for, so
//! statistics can still be attributed to the rules (though not split
//! between them).

use crate::ruleset::*;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// Largest run that becomes an anonymous set; longer runs get a named set.
pub const ANON_SET_MAX: usize = 16;

/// Optimises every chain of every table (see the module documentation).
pub fn optimize(mut rs: Ruleset) -> Ruleset {
    for t in &mut rs.tables {
        let mut taken: HashSet<String> = t.sets.iter().map(|s| s.name.clone()).collect();
        let mut new_sets = Vec::new();
        let mut n = 0usize;
        for c in &mut t.chains {
            let rules = merge_twins(std::mem::take(&mut c.rules));
            let mut out = Vec::with_capacity(rules.len());
            let mut group: Option<Group> = None;
            for r in rules {
                if let Some(g) = &mut group {
                    if g.try_add(&r) {
                        continue;
                    }
                }
                if let Some(g) = group.take() {
                    out.push(g.finish(&c.name, &mut n, &mut taken, &mut new_sets));
                }
                if mergeable(&r) {
                    group = Some(Group::new(r));
                } else {
                    out.push(r);
                }
            }
            if let Some(g) = group.take() {
                out.push(g.finish(&c.name, &mut n, &mut taken, &mut new_sets));
            }
            c.rules = out;
        }
        t.sets.extend(new_sets);
    }
    rs
}

/// Ends in a terminal verdict and keeps no state.
fn mergeable(r: &Rule) -> bool {
    let terminal = matches!(
        r.stmts.last(),
        Some(
            Stmt::Verdict(Verdict::Accept | Verdict::Drop | Verdict::Return | Verdict::Goto(_))
                | Stmt::Reject(_)
        )
    );
    terminal && !r.stmts.iter().any(Stmt::is_stateful)
}

/// `meta nfproto ipv4|ipv6` at the start of a rule.
fn guard(r: &Rule) -> Option<&str> {
    match r.stmts.first() {
        Some(Stmt::Match(Match {
            left: Expr::Meta(MetaKey::Nfproto),
            op: Op::Eq,
            right: Expr::Sym(f),
        })) if f == "ipv4" || f == "ipv6" => Some(f),
        _ => None,
    }
}

fn family_specific(e: &Expr) -> bool {
    match e {
        Expr::Payload { proto, .. } => {
            matches!(proto, Proto::Ip | Proto::Ip6 | Proto::Icmp | Proto::Icmpv6)
        }
        Expr::Ct { key, .. } => matches!(key, CtKey::Saddr(_) | CtKey::Daddr(_)),
        Expr::Addr(_) | Expr::Prefix(..) | Expr::SetRef(_) => true,
        Expr::And(a, b) | Expr::Range(a, b) => family_specific(a) || family_specific(b),
        Expr::AndXor { base, .. } => family_specific(base),
        Expr::Concat(v) | Expr::AnonSet(v) => v.iter().any(family_specific),
        _ => false,
    }
}

fn stmt_family_specific(s: &Stmt) -> bool {
    match s {
        Stmt::Match(m) => family_specific(&m.left) || family_specific(&m.right),
        Stmt::Reject(Reject::Icmp(_) | Reject::Icmpv6(_)) => true,
        Stmt::Nat(_) | Stmt::SetUpdate(_) => true,
        Stmt::Mangle { target, value } => family_specific(target) || family_specific(value),
        _ => false,
    }
}

/// The part of a guarded rule that must be identical in its twin, or
/// `None` when the rule cannot have one.
fn twin_key(r: &Rule) -> Option<String> {
    guard(r)?;
    if !mergeable(r) || r.stmts[1..].iter().any(stmt_family_specific) {
        return None;
    }
    let rest = Rule {
        stmts: r.stmts[1..].to_vec(),
        comment: r.comment.clone(),
        origin: None,
        origins: Vec::new(),
    };
    Some(crate::print::rule(&rest))
}

/// Merges IPv4/IPv6 twins inside each run of guarded rules.
fn merge_twins(rules: Vec<Rule>) -> Vec<Rule> {
    let mut out = Vec::with_capacity(rules.len());
    let mut seg: Vec<Rule> = Vec::new();
    for r in rules {
        if guard(&r).is_some() {
            seg.push(r);
        } else {
            out.extend(twins_in_segment(std::mem::take(&mut seg)));
            out.push(r);
        }
    }
    out.extend(twins_in_segment(seg));
    out
}

fn twins_in_segment(seg: Vec<Rule>) -> Vec<Rule> {
    let (a, b): (Vec<Rule>, Vec<Rule>) = seg.into_iter().partition(|r| guard(r) == Some("ipv4"));
    if a.is_empty() || b.is_empty() {
        // Nothing to pair: keep the original order.
        let mut v = a;
        v.extend(b);
        return v;
    }
    let ka: Vec<Option<String>> = a.iter().map(twin_key).collect();
    let kb: Vec<Option<String>> = b.iter().map(twin_key).collect();
    let mut where_b: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, k) in kb.iter().enumerate() {
        if let Some(k) = k {
            where_b.entry(k.as_str()).or_default().push(j);
        }
    }
    let twin_later = |i: usize, j: usize| -> bool {
        ka[i]
            .as_deref()
            .and_then(|k| where_b.get(k))
            .is_some_and(|v| v.iter().any(|&x| x > j))
    };
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    let mut a = a.into_iter().map(Some).collect::<Vec<_>>();
    let mut b = b.into_iter().map(Some).collect::<Vec<_>>();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() {
            if ka[i].is_some() && ka[i] == kb[j] {
                let (Some(x), Some(y)) = (a[i].take(), b[j].take()) else {
                    break; // each index is taken once
                };
                let mut origins = x.origins;
                origins.extend(y.origins);
                out.push(Rule {
                    stmts: x.stmts[1..].to_vec(),
                    comment: x.comment,
                    origin: x.origin.or(y.origin),
                    origins,
                });
                i += 1;
                j += 1;
            } else if twin_later(i, j) {
                out.extend(b[j].take());
                j += 1;
            } else {
                out.extend(a[i].take());
                i += 1;
            }
        } else if i < a.len() {
            out.extend(a[i].take());
            i += 1;
        } else {
            out.extend(b[j].take());
            j += 1;
        }
    }
    out
}

/// A run of rules being merged into one.
struct Group {
    base: Rule,
    /// The statement whose value differs between the rules.
    at: Option<usize>,
    elems: Vec<Expr>,
    /// The intervals of `elems` that have one (addresses, ports).
    spans: Vec<(u128, u128)>,
}

/// The elements of the right side of a mergeable `==` comparison.
fn elements(s: &Stmt) -> Option<(&Expr, Vec<Expr>)> {
    let Stmt::Match(Match {
        left,
        op: Op::Eq,
        right,
    }) = s
    else {
        return None;
    };
    let ok_left = match left {
        Expr::Payload { .. } => true,
        Expr::Meta(k) => matches!(k, MetaKey::Iifname | MetaKey::Oifname | MetaKey::L4proto),
        _ => false,
    };
    if !ok_left {
        return None;
    }
    let items = match right {
        Expr::AnonSet(v) => v.clone(),
        e => vec![e.clone()],
    };
    items.iter().all(is_element).then_some((left, items))
}

fn is_element(e: &Expr) -> bool {
    match e {
        Expr::Addr(_) | Expr::Prefix(..) | Expr::Num(_) | Expr::Mac(_) => true,
        Expr::Str(s) => !s.contains('*'),
        Expr::Sym(_) => true,
        Expr::Range(a, b) => {
            matches!(
                (&**a, &**b),
                (Expr::Num(_), Expr::Num(_)) | (Expr::Addr(_), Expr::Addr(_))
            )
        }
        _ => false,
    }
}

fn ip_u128(a: IpAddr) -> (u128, u32) {
    match a {
        IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    }
}

/// The interval an element covers, when it is one.
fn span(e: &Expr) -> Option<(u128, u128)> {
    match e {
        Expr::Addr(a) => {
            let (v, _) = ip_u128(*a);
            Some((v, v))
        }
        Expr::Prefix(a, l) => {
            let (v, w) = ip_u128(*a);
            let host = w.checked_sub(u32::from(*l))?;
            let m = if host >= 128 {
                u128::MAX
            } else {
                (1u128 << host) - 1
            };
            Some((v & !m, v | m))
        }
        Expr::Num(n) => Some((u128::from(*n), u128::from(*n))),
        Expr::Range(a, b) => Some((span(a)?.0, span(b)?.1)),
        _ => None,
    }
}

impl Group {
    fn new(base: Rule) -> Group {
        Group {
            base,
            at: None,
            elems: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// Adds new elements unless one overlaps without being equal; returns
    /// whether they were taken.
    fn absorb(&mut self, items: Vec<Expr>) -> bool {
        let mut add = Vec::new();
        let mut add_spans = Vec::new();
        for e in items {
            if self.elems.contains(&e) || add.contains(&e) {
                continue;
            }
            if let Some(s) = span(&e) {
                let overlaps = |x: &(u128, u128)| x.0 <= s.1 && s.0 <= x.1;
                if self.spans.iter().any(overlaps) || add_spans.iter().any(overlaps) {
                    return false;
                }
                add_spans.push(s);
            }
            add.push(e);
        }
        self.elems.extend(add);
        self.spans.extend(add_spans);
        true
    }

    fn try_add(&mut self, r: &Rule) -> bool {
        if !mergeable(r) || r.stmts.len() != self.base.stmts.len() || r.comment != self.base.comment
        {
            return false;
        }
        let diff: Vec<usize> = (0..r.stmts.len())
            .filter(|&i| r.stmts[i] != self.base.stmts[i])
            .collect();
        let at = match (self.at, diff.as_slice()) {
            (_, []) => None,
            (None, [i]) => Some(*i),
            (Some(k), [i]) if *i == k => Some(k),
            _ => return false,
        };
        if let Some(k) = at.or(self.at) {
            let (Some((l0, _)), Some((l1, items))) =
                (elements(&self.base.stmts[k]), elements(&r.stmts[k]))
            else {
                return false;
            };
            if l0 != l1 {
                return false;
            }
            if self.at.is_none() {
                let (_, first) = elements(&self.base.stmts[k]).unwrap_or((l0, Vec::new()));
                let saved = (self.elems.clone(), self.spans.clone());
                if !self.absorb(first) || !self.absorb(items) {
                    (self.elems, self.spans) = saved;
                    return false;
                }
                self.at = Some(k);
            } else if !self.absorb(items) {
                return false;
            }
        }
        self.base.origins.extend(r.origins.iter().cloned());
        true
    }

    fn finish(
        mut self,
        chain: &str,
        n: &mut usize,
        taken: &mut HashSet<String>,
        sets: &mut Vec<Set>,
    ) -> Rule {
        let Some(k) = self.at else {
            return self.base;
        };
        let Stmt::Match(m) = &self.base.stmts[k] else {
            return self.base;
        };
        let left = m.left.clone();
        let right = if self.elems.len() == 1 {
            self.elems.remove(0)
        } else if let (true, Some(kt)) = (self.elems.len() > ANON_SET_MAX, key_type(&left)) {
            let name = loop {
                let name = format!("merged.{chain}.{n}");
                *n += 1;
                if taken.insert(name.clone()) {
                    break name;
                }
            };
            let interval = self
                .elems
                .iter()
                .any(|e| matches!(e, Expr::Prefix(..) | Expr::Range(..)));
            sets.push(Set {
                name: name.clone(),
                key: vec![kt],
                interval,
                timeout_flag: false,
                auto_merge: false,
                timeout: None,
                size: None,
                elements: self
                    .elems
                    .into_iter()
                    .map(|e| Element {
                        key: vec![e],
                        timeout: None,
                        comment: None,
                    })
                    .collect(),
                dynamic: false,
            });
            Expr::SetRef(name)
        } else {
            Expr::AnonSet(self.elems)
        };
        self.base.stmts[k] = Stmt::eq(left, right);
        self.base
    }
}

/// The set key type of a field, when a named set of it can be declared.
fn key_type(e: &Expr) -> Option<KeyType> {
    Some(match e {
        Expr::Payload { proto, field } => match (proto, *field) {
            (Proto::Ip, "saddr" | "daddr") => KeyType::Ipv4Addr,
            (Proto::Ip6, "saddr" | "daddr") => KeyType::Ipv6Addr,
            (
                Proto::Tcp | Proto::Udp | Proto::Udplite | Proto::Sctp | Proto::Dccp | Proto::Th,
                "sport" | "dport",
            ) => KeyType::InetService,
            (Proto::Ether, "saddr" | "daddr") => KeyType::EtherAddr,
            _ => return None,
        },
        Expr::Meta(MetaKey::Iifname | MetaKey::Oifname) => KeyType::Ifname,
        Expr::Meta(MetaKey::L4proto) => KeyType::InetProto,
        _ => return None,
    })
}

/// What the property test proves: for random chains built from address,
/// port and interface matches (with and without `!=`, prefixes that
/// overlap, duplicates, both families, terminal and non-terminal rules,
/// stateful `limit` rules), every packet of a small universe gets the same
/// verdict and the same sequence of side effects (log statements) from the
/// optimised chain as from the original, read by a reference matcher
/// written here independently of the optimiser.
#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    #[derive(Debug, Clone, Copy)]
    struct Pkt {
        v6: bool,
        saddr: u32,
        dport: Option<u16>,
        iif: &'static str,
    }

    const ADDRS: [&str; 4] = ["10.0.0.1", "10.0.0.2", "10.0.1.5", "192.0.2.9"];
    const PREFIXES: [(&str, u8); 2] = [("10.0.0.0", 24), ("10.0.0.0", 8)];
    const PORTS: [u16; 4] = [22, 80, 443, 1500];
    const IFACES: [&str; 2] = ["eth0", "eth1"];

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap_or(Ipv4Addr::UNSPECIFIED))
    }

    /// The value of a field for a packet, `None` when the packet lacks it.
    fn field(p: &Pkt, e: &Expr) -> Option<u128> {
        match e {
            Expr::Payload {
                proto: Proto::Ip,
                field: "saddr",
            } => (!p.v6).then_some(u128::from(p.saddr)),
            Expr::Payload {
                proto: Proto::Tcp,
                field: "dport",
            } => p.dport.map(u128::from),
            _ => None,
        }
    }

    fn elem_has(e: &Expr, v: u128) -> bool {
        span(e).is_some_and(|(lo, hi)| lo <= v && v <= hi)
    }

    fn eval_match(t: &Table, p: &Pkt, m: &Match) -> bool {
        if let Expr::Meta(MetaKey::Nfproto) = m.left {
            let is = matches!(&m.right, Expr::Sym(s) if (s == "ipv6") == p.v6);
            return is == (m.op == Op::Eq);
        }
        if let Expr::Meta(MetaKey::Iifname) = m.left {
            let has = |e: &Expr| matches!(e, Expr::Str(s) if s == p.iif);
            let hit = match &m.right {
                Expr::AnonSet(v) => v.iter().any(has),
                Expr::SetRef(n) => t
                    .sets
                    .iter()
                    .find(|s| &s.name == n)
                    .is_some_and(|s| s.elements.iter().any(|el| has(&el.key[0]))),
                e => has(e),
            };
            return hit == (m.op == Op::Eq);
        }
        let Some(v) = field(p, &m.left) else {
            return false;
        };
        let hit = match &m.right {
            Expr::AnonSet(es) => es.iter().any(|e| elem_has(e, v)),
            Expr::SetRef(n) => t
                .sets
                .iter()
                .find(|s| &s.name == n)
                .is_some_and(|s| s.elements.iter().any(|el| elem_has(&el.key[0], v))),
            e => elem_has(e, v),
        };
        hit == (m.op == Op::Eq)
    }

    /// Verdict and side effects of one chain for one packet.
    fn run(t: &Table, p: &Pkt) -> (String, Vec<String>) {
        let mut effects = Vec::new();
        for r in &t.chains[0].rules {
            for s in &r.stmts {
                match s {
                    Stmt::Match(m) if !eval_match(t, p, m) => break,
                    Stmt::Log(l) => effects.push(l.prefix.clone().unwrap_or_default()),
                    // A limit's state is per rule: name it by its rule.
                    Stmt::Limit(l) => effects.push(format!("limit {}", l.rate)),
                    Stmt::Verdict(v) => return (format!("{v:?}"), effects),
                    _ => {}
                }
            }
        }
        ("policy".into(), effects)
    }

    fn arb_rule() -> impl Strategy<Value = Rule> {
        (
            any::<bool>(),
            prop::option::of((0..6usize, any::<bool>())),
            prop::option::of((0..5usize, any::<bool>())),
            prop::option::of(0..2usize),
            0..6usize,
            any::<u16>(),
        )
            .prop_map(|(v6, addr, port, iif, verdict, line)| {
                let mut stmts = vec![Stmt::eq(
                    Expr::Meta(MetaKey::Nfproto),
                    Expr::sym(if v6 { "ipv6" } else { "ipv4" }),
                )];
                if let (false, Some((a, neg))) = (v6, addr) {
                    let right = match a {
                        0..=3 => Expr::Addr(v4(ADDRS[a])),
                        _ => Expr::Prefix(v4(PREFIXES[a - 4].0), PREFIXES[a - 4].1),
                    };
                    let op = if neg { Op::Ne } else { Op::Eq };
                    stmts.push(Stmt::cmp(Expr::payload(Proto::Ip, "saddr"), op, right));
                }
                if let Some(i) = iif {
                    stmts.push(Stmt::eq(
                        Expr::Meta(MetaKey::Iifname),
                        Expr::Str(IFACES[i].into()),
                    ));
                }
                if let Some((pt, neg)) = port {
                    let right = match pt {
                        0..=3 => Expr::Num(u64::from(PORTS[pt])),
                        _ => Expr::range(Expr::Num(1000), Expr::Num(2000)),
                    };
                    let op = if neg { Op::Ne } else { Op::Eq };
                    stmts.push(Stmt::cmp(Expr::payload(Proto::Tcp, "dport"), op, right));
                }
                stmts.push(Stmt::Counter);
                match verdict {
                    0 => stmts.push(Stmt::Verdict(Verdict::Accept)),
                    1 | 2 => stmts.push(Stmt::Verdict(Verdict::Drop)),
                    3 => stmts.push(Stmt::Verdict(Verdict::Return)),
                    4 => stmts.push(Stmt::Log(Log {
                        prefix: Some("seen".into()),
                        ..Default::default()
                    })),
                    _ => {
                        stmts.insert(
                            1,
                            Stmt::Limit(Limit {
                                rate: u64::from(line % 3),
                                unit: "second",
                                burst: 5,
                                over: false,
                            }),
                        );
                        stmts.push(Stmt::Verdict(Verdict::Drop));
                    }
                }
                let origin = rampart_model::Origin {
                    file: "p".into(),
                    line: u32::from(line),
                    column: 1,
                };
                Rule {
                    stmts,
                    comment: None,
                    origin: Some(origin.clone()),
                    origins: vec![origin],
                }
            })
    }

    fn table(rules: Vec<Rule>) -> Ruleset {
        Ruleset {
            tables: vec![Table {
                family: TableFamily::Inet,
                name: "t".into(),
                sets: Vec::new(),
                chains: vec![Chain {
                    name: "input".into(),
                    base: None,
                    rules,
                }],
            }],
        }
    }

    fn universe() -> Vec<Pkt> {
        let mut v = Vec::new();
        let addrs = [
            "10.0.0.1",
            "10.0.0.2",
            "10.0.0.77",
            "10.0.1.5",
            "10.9.9.9",
            "192.0.2.9",
        ];
        for v6 in [false, true] {
            for a in addrs {
                let saddr = match v4(a) {
                    IpAddr::V4(x) => u32::from(x),
                    IpAddr::V6(_) => 0,
                };
                for dport in [None, Some(22), Some(80), Some(443), Some(1500), Some(3000)] {
                    for iif in ["eth0", "eth1", "lo"] {
                        v.push(Pkt {
                            v6,
                            saddr,
                            dport,
                            iif,
                        });
                    }
                }
            }
        }
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn optimize_keeps_verdicts_and_effects(rules in prop::collection::vec(arb_rule(), 0..40)) {
            let before = table(rules.clone());
            let after = optimize(before.clone());
            for p in universe() {
                prop_assert_eq!(run(&before.tables[0], &p), run(&after.tables[0], &p), "{:?}", p);
            }
            // Every source line is still accounted for, in order.
            let lines = |rs: &Ruleset| -> Vec<u32> {
                rs.tables[0].chains[0].rules.iter().flat_map(|r| r.origins.iter().map(|o| o.line)).collect()
            };
            let mut a = lines(&before);
            let mut b = lines(&after);
            a.sort_unstable();
            b.sort_unstable();
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn per_address_drops_become_one_named_set() {
        let rules: Vec<Rule> = (0..100u32)
            .map(|i| Rule {
                stmts: vec![
                    Stmt::eq(Expr::Meta(MetaKey::Nfproto), Expr::sym("ipv4")),
                    Stmt::eq(
                        Expr::payload(Proto::Ip, "saddr"),
                        Expr::Addr(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))),
                    ),
                    Stmt::Counter,
                    Stmt::Verdict(Verdict::Drop),
                ],
                comment: None,
                origin: None,
                origins: Vec::new(),
            })
            .collect();
        let rs = optimize(table(rules));
        assert_eq!(rs.tables[0].chains[0].rules.len(), 1);
        assert_eq!(rs.tables[0].sets[0].name, "merged.input.0");
        assert_eq!(rs.tables[0].sets[0].elements.len(), 100);
    }
}
