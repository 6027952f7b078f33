//! Lowering the checked policy ([`Ir`]) into the model, rule by rule as an
//! expert would write it with iptables and ip6tables.
//!
//! Per family, each filter chain that has a drop policy or rules starts with
//! the prelude: loopback accept, `ESTABLISHED,RELATED` accept, `INVALID`
//! drop, then (INPUT) the ICMP policy, then the allow/deny items in file
//! order, then the rate-limited LOG of what the policy will drop.
//!
//! `[protect]` goes right after the loopback accept of the chains it
//! guards (before `ESTABLISHED`, so a banned source loses its open
//! connections too): the SYN meter, the NEW meter and the connection
//! limit (each adding the offender to `protect-ban[-v6]` with `-j SET`,
//! or dropping/resetting when it does not ban), then the drop of the ban
//! set's members. Each rule carries a `protect: ...` comment.

use super::check::{
    fam, Addr, DenyAction, Direction, ElemKey, Ir, Item, LogSpec, Masq, Ping, PortForward, Rate,
    RateLimit, RuleItem, SetDef, SetType, Snat, StateMatch, Unit, Verdict,
};
use super::check::{Meter, Protect, PROTECT_BAN, PROTECT_BAN_SIZE, PROTECT_NEW, PROTECT_SYN};
use rampart_model::matches::conntrack::{Conntrack, CtStates};
use rampart_model::matches::hashlimit::{Hashlimit, HashlimitMode, HashlimitRate};
use rampart_model::matches::hl::{CmpOp, Hl};
use rampart_model::matches::icmp::{Icmp, IcmpType};
use rampart_model::matches::icmp6::Icmp6;
use rampart_model::matches::limit::{self, Limit, RateUnit};
use rampart_model::matches::multiport::{Multiport, MultiportDir};
use rampart_model::matches::state::State;
use rampart_model::matches::{comment, connlimit, set as setm, tcp, udp};
use rampart_model::targets::dnat::{AddrRange, Dnat, NatRange};
use rampart_model::targets::set::{SetRef, SetTarget};
use rampart_model::targets::{log, masquerade, reject, snat};
use rampart_model::{
    ChainPolicy, ElemPart, Family, Iface, IpNet, IpSet, Match, Neg, Origin, Policy, PortRange,
    Protocol, Rule, SetElement, SetKind, Sysctl, TableKind, Target,
};

const FAMILIES: [Family; 2] = [Family::Ipv4, Family::Ipv6];

/// ICMP types always accepted on input: destination unreachable (with
/// fragmentation needed), time exceeded, parameter problem.
pub(crate) const ICMP4_ESSENTIAL: [u8; 3] = [3, 11, 12];
/// ICMPv6 types always accepted (RFC 4890): the four error types, MLD
/// (130-132, 143) and neighbour discovery (133-136).
pub(crate) const ICMP6_ESSENTIAL: [u8; 12] = [1, 2, 3, 4, 130, 131, 132, 133, 134, 135, 136, 143];

/// The model of a checked policy, taking the set elements out of `ir` one
/// set at a time (a policy with million-element sets never holds all of
/// them twice).
pub(crate) fn lower_owned(mut ir: Ir) -> Policy {
    let elements: Vec<Vec<super::check::Elem>> = ir
        .sets
        .iter_mut()
        .map(|s| std::mem::take(&mut s.elements))
        .collect();
    let mut policy = lower(&ir);
    for (def, els) in ir.sets.iter_mut().zip(elements) {
        def.elements = els;
        for family in [Some(Family::Ipv4), Some(Family::Ipv6), None] {
            let name = match family {
                Some(f) if def.kind.has_addresses() && def.families.contains(&f) => {
                    def.ipset_name(f)
                }
                None if !def.kind.has_addresses() => def.name.clone(),
                _ => continue,
            };
            if let Some(set) = policy.set_mut(&name) {
                let lowered = lower_set(def, family);
                set.elements = lowered.elements;
                set.options = lowered.options;
            }
        }
        def.elements = Vec::new();
    }
    policy
}

/// The model of a checked policy.
pub(crate) fn lower(ir: &Ir) -> Policy {
    let mut policy = Policy::default();
    let d = &ir.defaults;
    // hashlimit table names, per item, the same in both families.
    let mut n = 0usize;
    let hl_names: Vec<String> = ir
        .items
        .iter()
        .map(|i| match i {
            Item::Rule(r) if r.rate.is_some_and(|x| x.per_source) => {
                n += 1;
                format!("rampart-{n}")
            }
            _ => String::new(),
        })
        .collect();

    for family in FAMILIES {
        // Rules of the items, per chain, in order.
        let mut input = Vec::new();
        let mut forward = Vec::new();
        let mut output = Vec::new();
        for (item, hl_name) in ir.items.iter().zip(&hl_names) {
            match item {
                Item::Rule(r) => {
                    let rules = lower_rule(r, family, &ir.sets, hl_name);
                    match r.direction {
                        Direction::Input => input.extend(rules),
                        Direction::Forward => forward.extend(rules),
                        Direction::Output => output.extend(rules),
                    }
                }
                Item::PortForward(pf) => {
                    if pf.accept && pf.to.is_ipv4() == (family == Family::Ipv4) {
                        forward.extend(port_forward_accepts(pf));
                    }
                }
            }
        }

        let table = policy.table_mut(family, TableKind::Filter);
        for (name, verdict, rules) in [
            ("INPUT", d.input, input),
            ("FORWARD", d.forward, forward),
            ("OUTPUT", d.output, output),
        ] {
            let Some(chain) = table.chain_mut(name) else {
                continue;
            };
            chain.policy = Some(match verdict {
                Verdict::Accept => ChainPolicy::Accept,
                Verdict::Drop => ChainPolicy::Drop,
            });
            if verdict == Verdict::Drop || !rules.is_empty() || protects(ir, name) {
                chain.rules.extend(prelude(ir, family, name));
            }
            chain.rules.extend(rules);
            if verdict == Verdict::Drop {
                if let Some(l) = &d.log {
                    let prefix = l
                        .prefix
                        .clone()
                        .unwrap_or_else(|| format!("rampart-{}-drop: ", name.to_ascii_lowercase()));
                    chain.rules.push(Rule {
                        matches: vec![limit_match(l.rate, l.burst)],
                        target: Some(log_target(Some(prefix))),
                        origin: Some(d.origin.clone()),
                        ..Default::default()
                    });
                }
            }
        }
    }

    // NAT.
    let mut nat_families = Vec::new();
    for item in &ir.items {
        if let Item::PortForward(pf) = item {
            let family = ip_family(pf.to);
            if let Some(c) = policy
                .table_mut(family, TableKind::Nat)
                .chain_mut("PREROUTING")
            {
                c.rules.extend(dnat_rules(pf));
            }
            nat_families.push(family);
        }
    }
    for m in &ir.masquerade {
        for (family, rule) in masq_rules(m) {
            if let Some(c) = policy
                .table_mut(family, TableKind::Nat)
                .chain_mut("POSTROUTING")
            {
                c.rules.push(rule);
            }
            nat_families.push(family);
        }
    }
    for s in &ir.snat {
        for (family, rule) in snat_rules(s) {
            if let Some(c) = policy
                .table_mut(family, TableKind::Nat)
                .chain_mut("POSTROUTING")
            {
                c.rules.push(rule);
            }
            nat_families.push(family);
        }
    }

    // Forwarding sysctls.
    let mut fwd: Vec<(Family, Origin)> = Vec::new();
    match d.ip_forward {
        Some(true) => fwd = FAMILIES.iter().map(|&f| (f, d.origin.clone())).collect(),
        Some(false) => {}
        None => {
            for f in FAMILIES {
                if nat_families.contains(&f) {
                    fwd.push((
                        f,
                        first_nat_origin(ir, f).unwrap_or_else(|| d.origin.clone()),
                    ));
                }
            }
        }
    }
    for (f, origin) in fwd {
        let key = match f {
            Family::Ipv4 => "net.ipv4.ip_forward",
            Family::Ipv6 => "net.ipv6.conf.all.forwarding",
        };
        policy.sysctls.push(Sysctl {
            key: key.into(),
            value: "1".into(),
            origin: Some(origin),
        });
    }

    // Sets.
    if let Some(b) = ir
        .protect
        .as_ref()
        .and_then(|p| p.max_ban().map(|t| (p, t)))
    {
        let (p, timeout) = b;
        for family in FAMILIES {
            policy.sets.push(IpSet {
                name: protect_ban_name(family),
                kind: SetKind::HashIp,
                family: Some(family),
                timeout: Some(timeout),
                options: rampart_model::set::SetOptions {
                    maxelem: Some(PROTECT_BAN_SIZE),
                    ..Default::default()
                },
                elements: Vec::new(),
                origin: Some(p.origin.clone()),
            });
        }
    }
    for s in &ir.sets {
        if s.kind.has_addresses() {
            for &family in &s.families {
                policy.sets.push(lower_set(s, Some(family)));
            }
        } else {
            policy.sets.push(lower_set(s, None));
        }
    }
    // A policy for one family: nothing of the other.
    if let Some(only) = d.family {
        policy.tables.retain(|t| t.family == only);
        policy.sets.retain(|s| s.family.is_none_or(|f| f == only));
        policy.sysctls.retain(|s| match only {
            Family::Ipv4 => !s.key.starts_with("net.ipv6."),
            Family::Ipv6 => !s.key.starts_with("net.ipv4."),
        });
    }
    policy
}

fn first_nat_origin(ir: &Ir, family: Family) -> Option<Origin> {
    let pf = ir.items.iter().find_map(|i| match i {
        Item::PortForward(pf) if ip_family(pf.to) == family => Some(pf.origin.clone()),
        _ => None,
    });
    pf.or_else(|| {
        ir.masquerade
            .iter()
            .find(|m| masq_rules(m).iter().any(|(f, _)| *f == family))
            .map(|m| m.origin.clone())
    })
    .or_else(|| {
        ir.snat
            .iter()
            .find(|s| ip_family(s.to) == family)
            .map(|s| s.origin.clone())
    })
}

fn ip_family(a: std::net::IpAddr) -> Family {
    if a.is_ipv4() {
        Family::Ipv4
    } else {
        Family::Ipv6
    }
}

/// The model set of one family (sets without addresses: the only one).
fn lower_set(s: &SetDef, family: Option<Family>) -> IpSet {
    let elements: Vec<SetElement> = s
        .elements
        .iter()
        .filter(|e| match (e.key.is_ipv4(), family) {
            (Some(v4), Some(f)) => v4 == (f == Family::Ipv4),
            _ => true,
        })
        .map(|e| SetElement {
            parts: elem_parts(&e.key),
            timeout: e.timeout,
            comment: e.comment.clone(),
            nomatch: false,
        })
        .collect();
    IpSet {
        name: match family {
            Some(f) => s.ipset_name(f),
            None => s.name.clone(),
        },
        kind: set_kind(s.kind),
        family,
        timeout: s.timeout,
        options: rampart_model::set::SetOptions {
            comment: elements.iter().any(|e| e.comment.is_some()),
            ..Default::default()
        },
        elements,
        origin: Some(s.origin.clone()),
    }
}

pub(crate) fn set_kind(t: SetType) -> SetKind {
    match t {
        SetType::Net => SetKind::HashNet,
        SetType::Ip => SetKind::HashIp,
        SetType::Port => SetKind::Port,
        SetType::IpPort => SetKind::HashIpPort,
        SetType::NetPort => SetKind::HashNetPort,
        SetType::Iface => SetKind::Iface,
    }
}

pub(crate) fn elem_parts(k: &ElemKey) -> Vec<ElemPart> {
    let port = |p: Protocol, r: PortRange| ElemPart::Port {
        proto: Some(p.0),
        first: r.first,
        last: r.last,
    };
    match k {
        ElemKey::Net(n) => vec![ElemPart::Net(*n)],
        ElemKey::Range(a, b) => vec![ElemPart::Range(*a, *b)],
        ElemKey::Port(p, r) => vec![port(*p, *r)],
        ElemKey::Pair(n, p, r) => vec![ElemPart::Net(*n), port(*p, *r)],
        ElemKey::Iface(i) => vec![ElemPart::Iface(i.clone())],
    }
}

/// The rules every stateful chain starts with.
fn prelude(ir: &Ir, family: Family, chain: &str) -> Vec<Rule> {
    let d = &ir.defaults;
    let o = || Some(d.origin.clone());
    let mut out = Vec::new();
    if d.loopback.has(chain) {
        let lo = Some(Neg::new(Iface("lo".into())));
        match chain {
            "INPUT" => out.push(Rule {
                in_iface: lo,
                target: Some(Target::Accept),
                origin: o(),
                ..Default::default()
            }),
            "OUTPUT" => out.push(Rule {
                out_iface: lo,
                target: Some(Target::Accept),
                origin: o(),
                ..Default::default()
            }),
            _ => {}
        }
    }
    if let Some(p) = ir.protect.as_ref().filter(|_| protects(ir, chain)) {
        out.extend(protect_rules(p, family));
    }
    if d.established.has(chain) {
        out.push(Rule {
            matches: vec![ctstate(CtStates {
                established: true,
                related: true,
                ..Default::default()
            })],
            target: Some(Target::Accept),
            origin: o(),
            ..Default::default()
        });
    }
    if d.drop_invalid.has(chain) {
        out.push(Rule {
            matches: vec![ctstate(CtStates {
                invalid: true,
                ..Default::default()
            })],
            target: Some(Target::Drop),
            origin: o(),
            ..Default::default()
        });
    }
    let io = || Some(ir.icmp.origin.clone());
    if ir.icmp.essentials && (chain == "INPUT" || chain == "OUTPUT") {
        let essential: &[u8] = match family {
            Family::Ipv4 if chain == "INPUT" => &ICMP4_ESSENTIAL,
            Family::Ipv4 => &[],
            Family::Ipv6 => &ICMP6_ESSENTIAL,
        };
        for &t in essential {
            out.push(icmp_rule(family, t, vec![], Target::Accept, io()));
        }
    }
    if chain == "INPUT" {
        let echo = match family {
            Family::Ipv4 => 8,
            Family::Ipv6 => 128,
        };
        match ir.icmp.ping {
            Ping::Allow => out.push(icmp_rule(family, echo, vec![], Target::Accept, io())),
            Ping::Deny => out.push(icmp_rule(family, echo, vec![], Target::Drop, io())),
            Ping::RateLimited => {
                let lim = limit_match(ir.icmp.rate, ir.icmp.burst);
                out.push(icmp_rule(family, echo, vec![lim], Target::Accept, io()));
                out.push(icmp_rule(family, echo, vec![], Target::Drop, io()));
            }
            Ping::None => {}
        }
    }
    out
}

/// Whether `[protect]` guards `chain`.
fn protects(ir: &Ir, chain: &str) -> bool {
    ir.protect.as_ref().is_some_and(|p| match chain {
        "INPUT" => p.input,
        "FORWARD" => p.forward,
        _ => false,
    })
}

/// The name of `[protect]`'s ban set of `family`.
pub(crate) fn protect_ban_name(family: Family) -> String {
    match family {
        Family::Ipv4 => PROTECT_BAN.to_string(),
        Family::Ipv6 => format!("{PROTECT_BAN}-v6"),
    }
}

/// `[protect]`'s rules for one chain of `family` (see the module doc).
fn protect_rules(p: &Protect, family: Family) -> Vec<Rule> {
    let note = |what: &str| {
        Match::Comment(comment::Comment {
            comment: format!("protect: {what}"),
        })
    };
    let ban = |secs: Option<u32>, otherwise: Target| match secs {
        Some(t) => Target::SetTarget(SetTarget {
            add_set: Some(SetRef {
                name: protect_ban_name(family),
                dirs: vec![rampart_model::targets::set::SetDir::Src],
            }),
            timeout: Some(t),
            ..Default::default()
        }),
        None => otherwise,
    };
    let syn = || {
        Match::Tcp(tcp::Tcp {
            flags: Some(Neg::new(tcp::TcpFlags::SYN)),
            ..Default::default()
        })
    };
    let meter = |m: &Meter, name: &str| {
        let mut hl = hashlimit(m.rate, m.burst, family, name);
        hl.above = true;
        // A flood from many sources must not fill the meter (a full
        // meter lets new sources through unmetered).
        hl.htable_max = Some(PROTECT_BAN_SIZE);
        Match::Hashlimit(hl)
    };
    let mut out = Vec::new();
    if let Some(m) = &p.syn {
        out.push(Rule {
            protocol: Some(Neg::new(Protocol::TCP)),
            matches: vec![syn(), meter(m, PROTECT_SYN), note("syn_rate")],
            target: Some(ban(m.ban, Target::Drop)),
            origin: Some(m.origin.clone()),
            ..Default::default()
        });
    }
    if let Some(m) = &p.new {
        out.push(Rule {
            matches: vec![
                ctstate(CtStates {
                    new: true,
                    ..Default::default()
                }),
                meter(m, PROTECT_NEW),
                note("new_rate"),
            ],
            target: Some(ban(m.ban, Target::Drop)),
            origin: Some(m.origin.clone()),
            ..Default::default()
        });
    }
    if let Some(c) = &p.conn {
        out.push(Rule {
            protocol: Some(Neg::new(Protocol::TCP)),
            matches: vec![
                syn(),
                Match::Connlimit(connlimit::Connlimit {
                    limit: c.limit,
                    above: true,
                    mask: full_mask(family),
                    key: connlimit::ConnlimitKey::Saddr,
                }),
                note("connlimit"),
            ],
            target: Some(ban(
                c.ban,
                Target::Reject(reject::Reject {
                    with: reject::RejectWith::TcpReset,
                }),
            )),
            origin: Some(c.origin.clone()),
            ..Default::default()
        });
    }
    if p.max_ban().is_some() {
        out.push(Rule {
            matches: vec![
                set_match(&protect_ban_name(family), &[setm::SetDir::Src]),
                note("ban"),
            ],
            target: Some(Target::Drop),
            origin: Some(p.origin.clone()),
            ..Default::default()
        });
    }
    out
}

fn icmp_rule(
    family: Family,
    icmp_type: u8,
    extra: Vec<Match>,
    target: Target,
    origin: Option<Origin>,
) -> Rule {
    let t = Neg::new(IcmpType::with_any_code(icmp_type));
    let (protocol, m) = match family {
        Family::Ipv4 => (Protocol::ICMP, Match::Icmp(Icmp { icmp_type: t })),
        Family::Ipv6 => (Protocol::ICMPV6, Match::Icmp6(Icmp6 { icmp_type: t })),
    };
    let mut matches = vec![m];
    matches.extend(extra);
    Rule {
        protocol: Some(Neg::new(protocol)),
        matches,
        target: Some(target),
        origin,
        ..Default::default()
    }
}

pub(crate) fn ctstate(states: CtStates) -> Match {
    Match::Conntrack(Conntrack {
        state: Some(Neg::new(states)),
        ..Default::default()
    })
}

pub(crate) fn model_rate(r: Rate) -> limit::Rate {
    let unit = match r.unit {
        Unit::Second => RateUnit::Second,
        Unit::Minute => RateUnit::Minute,
        Unit::Hour => RateUnit::Hour,
        Unit::Day => RateUnit::Day,
    };
    limit::Rate::new(u64::from(r.count), unit)
}

fn limit_match(rate: Rate, burst: u32) -> Match {
    Match::Limit(Limit {
        rate: model_rate(rate),
        burst,
    })
}

fn log_target(prefix: Option<String>) -> Target {
    Target::Log(log::Log {
        prefix,
        ..Default::default()
    })
}

fn full_mask(family: Family) -> u8 {
    match family {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    }
}

/// One address side of a rule after family filtering.
#[derive(Clone)]
enum Side {
    Net(IpNet),
    /// A set by its ipset name; `true` for address+port pairs (looked up
    /// with the destination port as the second dimension).
    Set(String, bool),
}

fn sides(list: &[Addr], family: Family, sets: &[SetDef]) -> Option<Vec<Option<Side>>> {
    if list.is_empty() {
        return Some(vec![None]);
    }
    let v: Vec<Option<Side>> = list
        .iter()
        .filter_map(|a| match a {
            Addr::Net(n) => (fam(n) == family).then_some(Some(Side::Net(*n))),
            Addr::Set(name) => {
                let def = sets.iter().find(|s| &s.name == name)?;
                def.families.contains(&family).then(|| {
                    let pair = matches!(def.kind, SetType::IpPort | SetType::NetPort);
                    Some(Side::Set(def.ipset_name(family), pair))
                })
            }
        })
        .collect();
    (!v.is_empty()).then_some(v)
}

/// Protocol and port selection of one rule.
#[derive(Clone)]
enum ProtoSel {
    Any,
    Proto(Protocol),
    Ports(Protocol, Vec<PortRange>),
    /// A set of ports (protocol and destination port).
    PortSet(String),
    Icmp(Family, IcmpType),
}

fn proto_sels(r: &RuleItem) -> Vec<ProtoSel> {
    if let Some((f, types)) = &r.icmp {
        return types.iter().map(|t| ProtoSel::Icmp(*f, *t)).collect();
    }
    if r.ports.is_empty() && r.port_sets.is_empty() {
        return vec![r.protocol.map_or(ProtoSel::Any, ProtoSel::Proto)];
    }
    let mut out = Vec::new();
    for (proto, ranges) in &r.ports {
        // multiport takes 15 slots; a range uses two.
        let mut chunk: Vec<PortRange> = Vec::new();
        let mut used = 0;
        for &range in ranges {
            let cost = if range.is_single() { 1 } else { 2 };
            if used + cost > Multiport::MAX_PORTS {
                out.push(ProtoSel::Ports(*proto, std::mem::take(&mut chunk)));
                used = 0;
            }
            chunk.push(range);
            used += cost;
        }
        if !chunk.is_empty() {
            out.push(ProtoSel::Ports(*proto, chunk));
        }
    }
    out.extend(r.port_sets.iter().cloned().map(ProtoSel::PortSet));
    out
}

/// An upper bound of the rules an item lowers to (for the size check).
pub(crate) fn rule_count(r: &RuleItem, sets: &[SetDef]) -> usize {
    let _ = sets;
    let n = |l: usize| l.max(1);
    2usize
        .saturating_mul(n(r.from.len()))
        .saturating_mul(n(r.to.len()))
        .saturating_mul(n(r.ins.len()))
        .saturating_mul(n(r.outs.len()))
        .saturating_mul(proto_sels(r).len())
        .saturating_mul(5)
}

fn lower_rule(r: &RuleItem, family: Family, sets: &[SetDef], hl_name: &str) -> Vec<Rule> {
    let mut out = Vec::new();
    if r.only_family().is_some_and(|f| f != family) {
        return out;
    }
    let (Some(froms), Some(tos)) = (sides(&r.from, family, sets), sides(&r.to, family, sets))
    else {
        return out;
    };
    let ins: Vec<Option<&String>> = if r.ins.is_empty() {
        vec![None]
    } else {
        r.ins.iter().map(Some).collect()
    };
    let outs: Vec<Option<&String>> = if r.outs.is_empty() {
        vec![None]
    } else {
        r.outs.iter().map(Some).collect()
    };
    let sels = proto_sels(r);
    for from in &froms {
        for to in &tos {
            for i in &ins {
                for o in &outs {
                    for sel in &sels {
                        let base = base_rule(r, from, to, *i, *o, sel);
                        out.extend(actions(r, family, base, sel, hl_name));
                    }
                }
            }
        }
    }
    out
}

fn base_rule(
    r: &RuleItem,
    from: &Option<Side>,
    to: &Option<Side>,
    i: Option<&String>,
    o: Option<&String>,
    sel: &ProtoSel,
) -> Rule {
    // `@name`: a set of interfaces, looked up after the addresses.
    fn iface(s: Option<&String>) -> Option<&String> {
        s.filter(|s| !s.starts_with('@'))
    }
    fn iface_set(s: Option<&String>) -> Option<&str> {
        s.and_then(|s| s.strip_prefix('@'))
    }
    let mut rule = Rule {
        in_iface: iface(i).map(|s| Neg::new(Iface(s.clone()))),
        out_iface: iface(o).map(|s| Neg::new(Iface(s.clone()))),
        origin: Some(r.origin.clone()),
        lint_allow: r.lint_allow.clone(),
        ..Default::default()
    };
    if let Some(Side::Net(n)) = from {
        rule.source = Some(Neg::new(*n));
    }
    if let Some(Side::Net(n)) = to {
        rule.destination = Some(Neg::new(*n));
    }
    match sel {
        ProtoSel::Any => {}
        ProtoSel::Proto(p) => {
            rule.protocol = Some(Neg::new(*p));
            if let Some(sp) = r.source_port {
                rule.matches.push(sport_match(*p, sp));
            }
        }
        ProtoSel::Ports(p, ranges) => {
            rule.protocol = Some(Neg::new(*p));
            match (r.source_port, ranges.as_slice()) {
                (Some(sp), [one]) => rule.matches.push(sport_dport_match(*p, sp, *one)),
                (Some(sp), many) => {
                    rule.matches.push(sport_match(*p, sp));
                    rule.matches.push(port_match(*p, many));
                }
                (None, _) => rule.matches.push(port_match(*p, ranges)),
            }
        }
        ProtoSel::PortSet(_) => {}
        ProtoSel::Icmp(f, t) => {
            let t = Neg::new(*t);
            let (protocol, m) = match f {
                Family::Ipv4 => (Protocol::ICMP, Match::Icmp(Icmp { icmp_type: t })),
                Family::Ipv6 => (Protocol::ICMPV6, Match::Icmp6(Icmp6 { icmp_type: t })),
            };
            rule.protocol = Some(Neg::new(protocol));
            rule.matches.push(m);
        }
    }
    if let Some(h) = r.hop_limit {
        rule.matches.push(Match::Hl(Hl {
            op: CmpOp::Eq,
            value: h,
        }));
    }
    for (side, dir) in [(from, setm::SetDir::Src), (to, setm::SetDir::Dst)] {
        match side {
            Some(Side::Set(name, false)) => rule.matches.push(set_match(name, &[dir])),
            Some(Side::Set(name, true)) => {
                rule.matches
                    .push(set_match(name, &[dir, setm::SetDir::Dst]));
            }
            _ => {}
        }
    }
    if let ProtoSel::PortSet(name) = sel {
        rule.matches.push(set_match(name, &[setm::SetDir::Dst]));
    }
    if let Some(name) = iface_set(i) {
        rule.matches.push(set_match(name, &[setm::SetDir::Src]));
    }
    if let Some(name) = iface_set(o) {
        rule.matches.push(set_match(name, &[setm::SetDir::Dst]));
    }
    if let Some((states, how)) = r.state {
        rule.matches.push(match how {
            StateMatch::Conntrack => ctstate(states),
            StateMatch::State => Match::State(State {
                states: Neg::new(states),
            }),
        });
    }
    rule
}

pub(crate) fn set_match(name: &str, dirs: &[setm::SetDir]) -> Match {
    Match::SetMatch(setm::SetMatch {
        invert: false,
        set: name.to_string(),
        dirs: dirs.to_vec(),
        return_nomatch: false,
        update_counters: true,
        update_subcounters: true,
        packets: None,
        bytes: None,
    })
}

fn sport_match(p: Protocol, sp: PortRange) -> Match {
    if p == Protocol::TCP {
        Match::Tcp(tcp::Tcp {
            sport: Some(Neg::new(sp)),
            ..Default::default()
        })
    } else {
        Match::Udp(udp::Udp {
            sport: Some(Neg::new(sp)),
            ..Default::default()
        })
    }
}

fn sport_dport_match(p: Protocol, sp: PortRange, dp: PortRange) -> Match {
    if p == Protocol::TCP {
        Match::Tcp(tcp::Tcp {
            sport: Some(Neg::new(sp)),
            dport: Some(Neg::new(dp)),
            ..Default::default()
        })
    } else {
        Match::Udp(udp::Udp {
            sport: Some(Neg::new(sp)),
            dport: Some(Neg::new(dp)),
        })
    }
}

fn port_match(p: Protocol, ranges: &[PortRange]) -> Match {
    match ranges {
        [one] if p == Protocol::TCP => Match::Tcp(tcp::Tcp {
            dport: Some(Neg::new(*one)),
            ..Default::default()
        }),
        [one] => Match::Udp(udp::Udp {
            dport: Some(Neg::new(*one)),
            ..Default::default()
        }),
        many => Match::Multiport(Multiport {
            dir: MultiportDir::Destination,
            ports: Neg::new(many.to_vec()),
        }),
    }
}

/// The rule sequence of one item for one base rule.
fn actions(r: &RuleItem, family: Family, base: Rule, sel: &ProtoSel, hl_name: &str) -> Vec<Rule> {
    let with = |extra: Vec<Match>, target: Target| {
        let mut rule = base.clone();
        rule.matches.extend(extra);
        if let Some(c) = &r.comment {
            rule.matches
                .push(Match::Comment(comment::Comment { comment: c.clone() }));
        }
        rule.target = Some(target);
        rule
    };
    let log = |extra: Vec<Match>, l: &LogSpec| {
        let mut m = extra;
        m.push(limit_match(l.rate, l.burst));
        with(m, log_target(l.prefix.clone()))
    };
    let mut out = Vec::new();
    if !r.allow {
        if let Some(l) = &r.log {
            out.push(log(vec![], l));
        }
        let target = match r.action {
            DenyAction::Drop => Target::Drop,
            DenyAction::Reject => Target::Reject(match r.reject_with {
                Some(with) => reject::Reject { with },
                None => reject::Reject::default_for(family),
            }),
        };
        out.push(with(vec![], target));
        return out;
    }
    if let Some(max) = r.max_connections {
        let cl = Match::Connlimit(connlimit::Connlimit {
            limit: max,
            above: true,
            mask: full_mask(family),
            key: connlimit::ConnlimitKey::Saddr,
        });
        if let Some(l) = &r.log {
            out.push(log(vec![cl.clone()], l));
        }
        let target = match sel {
            ProtoSel::Ports(p, _) if *p == Protocol::TCP => Target::Reject(reject::Reject {
                with: reject::RejectWith::TcpReset,
            }),
            _ => Target::Drop,
        };
        out.push(with(vec![cl], target));
    }
    match &r.rate {
        Some(rl) => {
            out.push(with(vec![rate_match(rl, family, hl_name)], Target::Accept));
            if rl.drop_excess {
                if let Some(l) = &r.log {
                    out.push(log(vec![], l));
                }
                out.push(with(vec![], Target::Drop));
            }
        }
        None => {
            if r.max_connections.is_none() {
                if let Some(l) = &r.log {
                    out.push(log(vec![], l));
                }
            }
            out.push(with(vec![], Target::Accept));
        }
    }
    out
}

fn rate_match(rl: &RateLimit, family: Family, name: &str) -> Match {
    if !rl.per_source {
        return limit_match(rl.rate, rl.burst);
    }
    Match::Hashlimit(hashlimit(rl.rate, rl.burst, family, name))
}

/// A per-source `hashlimit` (`--hashlimit-upto`; callers flip `above`).
fn hashlimit(rate: Rate, burst: u32, family: Family, name: &str) -> Hashlimit {
    let rate = model_rate(rate);
    Hashlimit {
        name: name.to_string(),
        above: false,
        rate: HashlimitRate::Packets {
            rate,
            burst: u64::from(burst),
        },
        mode: HashlimitMode {
            srcip: true,
            ..Default::default()
        },
        srcmask: full_mask(family),
        dstmask: full_mask(family),
        htable_size: None,
        htable_max: None,
        gc_interval: 1000,
        // What iptables derives when --hashlimit-htable-expire is not given:
        // the rate's unit in milliseconds.
        expire: u32::try_from(rate.unit.seconds() * 1000).unwrap_or(u32::MAX),
        rate_match: None,
    }
}

fn dnat_rules(pf: &PortForward) -> Vec<Rule> {
    pf_bases(pf, pf.ports)
        .into_iter()
        .map(|mut rule| {
            rule.target = Some(Target::Dnat(Dnat {
                to: NatRange {
                    addrs: Some(AddrRange::single(pf.to)),
                    ports: pf.to_port.map(PortRange::single),
                    base_port: None,
                },
                ..Default::default()
            }));
            rule
        })
        .collect()
}

/// One rule per `from` network (or one without a source).
fn pf_bases(pf: &PortForward, ports: PortRange) -> Vec<Rule> {
    let base = |src: Option<IpNet>| Rule {
        source: src.map(Neg::new),
        in_iface: Some(Neg::new(Iface(pf.in_iface.clone()))),
        protocol: Some(Neg::new(pf.protocol)),
        matches: vec![port_match(pf.protocol, &[ports])],
        origin: Some(pf.origin.clone()),
        ..Default::default()
    };
    if pf.from.is_empty() {
        return vec![base(None)];
    }
    pf.from.iter().map(|n| base(Some(*n))).collect()
}

/// The FORWARD accepts that let the forwarded connections through.
fn port_forward_accepts(pf: &PortForward) -> Vec<Rule> {
    let ports = pf.to_port.map_or(pf.ports, PortRange::single);
    pf_bases(pf, ports)
        .into_iter()
        .map(|mut rule| {
            rule.destination = Some(Neg::new(IpNet::host(pf.to)));
            rule.matches.push(ctstate(CtStates {
                dnat: true,
                ..Default::default()
            }));
            rule.target = Some(Target::Accept);
            rule
        })
        .collect()
}

fn masq_rules(m: &Masq) -> Vec<(Family, Rule)> {
    let base = |src: Option<IpNet>| Rule {
        source: src.map(Neg::new),
        out_iface: Some(Neg::new(Iface(m.out.clone()))),
        target: Some(Target::Masquerade(masquerade::Masquerade::default())),
        origin: Some(m.origin.clone()),
        ..Default::default()
    };
    if m.from.is_empty() {
        return vec![(Family::Ipv4, base(None))];
    }
    m.from.iter().map(|n| (fam(n), base(Some(*n)))).collect()
}

fn snat_rules(s: &Snat) -> Vec<(Family, Rule)> {
    let family = ip_family(s.to);
    let base = |src: Option<IpNet>| Rule {
        source: src.map(Neg::new),
        out_iface: Some(Neg::new(Iface(s.out.clone()))),
        target: Some(Target::Snat(snat::Snat {
            to: NatRange {
                addrs: Some(AddrRange::single(s.to)),
                ports: None,
                base_port: None,
            },
            ..Default::default()
        })),
        origin: Some(s.origin.clone()),
        ..Default::default()
    };
    if s.from.is_empty() {
        return vec![(family, base(None))];
    }
    s.from.iter().map(|n| (family, base(Some(*n)))).collect()
}
