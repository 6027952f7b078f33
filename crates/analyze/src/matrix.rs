//! `rampart matrix`: the service matrix of a filter policy.
//!
//! Per family and per chain (INPUT: from a source class to this host;
//! FORWARD: from a source class to a destination class), the address space
//! is cut at every boundary of an address match of the chain's rules
//! (addresses, ranges, static set elements), every elementary interval is
//! followed through the chain as a set of packets (a new connection to the
//! service, on any interface but `lo`), and intervals with the same
//! verdicts everywhere are merged into one class. A cell with more than one
//! verdict depends on something finer than the classes (an interface, a
//! rate limit, a mark, ...); it lists every possible verdict and the rules
//! that give them.

use crate::header::{Ctx, Effect, Matched, RuleIndex};
use crate::space::{ct_value, Cube, Field, Space, Values};
use crate::Error;
use rampart_cidr::{Interval, IntervalSet};
use rampart_model::{ChainPolicy, Family, Policy, Protocol, Table, TableKind, Target};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// A service: a protocol and, for protocols with ports, destination ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub protocol: u8,
    /// Inclusive destination port ranges (empty for protocols without ports).
    pub ports: Vec<(u16, u16)>,
}

impl Service {
    /// Parses `tcp/22`, `udp/53`, `tcp/8000-8080` (also `8000:8080`),
    /// `icmp`, `gre`.
    pub fn parse(s: &str) -> Result<Service, Error> {
        let bad = || Error::BadService(s.to_string());
        let (proto, ports) = match s.split_once('/') {
            Some((p, ports)) => (p, Some(ports)),
            None => (s, None),
        };
        let protocol = Protocol::parse(proto)
            .filter(|p| p.0 != 0)
            .ok_or_else(bad)?;
        let ports = match ports {
            None => Vec::new(),
            Some(_) if !protocol.has_ports() => return Err(bad()),
            Some(text) => {
                let (a, b) = text
                    .split_once(['-', ':'])
                    .map_or((text, text), |(a, b)| (a, b));
                let a: u16 = a.trim().parse().map_err(|_| bad())?;
                let b: u16 = b.trim().parse().map_err(|_| bad())?;
                if a > b {
                    return Err(bad());
                }
                vec![(a, b)]
            }
        };
        Ok(Service {
            protocol: protocol.0,
            ports,
        })
    }

    /// `tcp/22`, `tcp/80,443`, `udp/1000-2000`.
    pub fn label(&self) -> String {
        let p = Protocol(self.protocol);
        let name = p
            .name()
            .map_or_else(|| self.protocol.to_string(), str::to_string);
        if self.ports.is_empty() {
            return name;
        }
        if self.ports == [(0, 65535)] {
            return format!("{name}/any");
        }
        let list: Vec<String> = self
            .ports
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        let count: u32 = self
            .ports
            .iter()
            .map(|&(a, b)| u32::from(b) - u32::from(a) + 1)
            .sum();
        if count > 32768 {
            format!("{name}/other")
        } else if list.len() > 4 {
            format!("{name}/{},+{}", list[..4].join(","), list.len() - 4)
        } else {
            format!("{name}/{}", list.join(","))
        }
    }
}

/// A class of addresses the chain treats alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Class {
    /// A short name for tables.
    pub label: String,
    /// The class as the fewest CIDR prefixes.
    pub prefixes: Vec<String>,
    /// Sets of the policy that hold every address of the class.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sets: Vec<String>,
}

/// What one source class gets towards one destination class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// Every possible verdict (`accept`, `drop`, `reject`, `queue`, ...);
    /// more than one when the verdict depends on something finer than the
    /// classes.
    pub verdicts: Vec<String>,
    /// The rules (or chain policy) that give those verdicts.
    pub by: Vec<String>,
}

/// One chain of one family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainMatrix {
    pub family: Family,
    pub chain: String,
    pub sources: Vec<Class>,
    /// INPUT: one class, this host (unless its rules match destinations).
    pub destinations: Vec<Class>,
    pub services: Vec<ServiceMatrix>,
}

/// The cells of one service: `cells[source][destination]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceMatrix {
    pub service: String,
    pub protocol: u8,
    pub ports: Vec<(u16, u16)>,
    pub cells: Vec<Vec<Cell>>,
}

/// The whole matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix {
    pub chains: Vec<ChainMatrix>,
}

/// Computes the matrix of a policy's filter tables, for one service or
/// (`None`) for every TCP and UDP port class the policy distinguishes.
pub fn matrix(policy: &Policy, service: Option<&Service>) -> Matrix {
    let mut chains = Vec::new();
    for family in policy.families() {
        let Some(table) = policy.table(family, TableKind::Filter) else {
            continue;
        };
        let ctx = Ctx::new(policy, family);
        let w = Walker::new(&ctx, table);
        for name in ["INPUT", "FORWARD"] {
            let Some(ci) = w.chain_index(name) else {
                continue;
            };
            if name == "FORWARD" && table.chains[ci].rules.is_empty() {
                continue;
            }
            chains.push(w.chain_matrix(ci, service));
        }
    }
    Matrix { chains }
}

struct Walker<'c, 'a> {
    ctx: &'c Ctx<'a>,
    table: &'a Table,
    matched: Vec<Vec<Matched>>,
    effects: Vec<Vec<Effect>>,
    index: Vec<RuleIndex>,
}

type Outcome = BTreeSet<(String, String)>;

impl<'c, 'a> Walker<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>, table: &'a Table) -> Self {
        let matched: Vec<Vec<Matched>> = table
            .chains
            .iter()
            .map(|c| c.rules.iter().map(|r| ctx.rule_space(r)).collect())
            .collect();
        Walker {
            ctx,
            table,
            index: matched.iter().map(|m| RuleIndex::new(m)).collect(),
            matched,
            effects: table
                .chains
                .iter()
                .map(|c| {
                    c.rules
                        .iter()
                        .map(|r| Effect::of(r.target.as_ref()))
                        .collect()
                })
                .collect(),
        }
    }

    fn chain_index(&self, name: &str) -> Option<usize> {
        self.table.chains.iter().position(|c| c.name == name)
    }

    fn reachable(&self, ci: usize) -> Vec<usize> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![ci];
        while let Some(c) = stack.pop() {
            if !seen.insert(c) {
                continue;
            }
            for e in &self.effects[c] {
                if let Effect::Jump(t) | Effect::Goto(t) = e {
                    if let Some(t) = self.chain_index(t) {
                        stack.push(t);
                    }
                }
            }
        }
        seen.into_iter().collect()
    }

    /// Elementary intervals of one field over the rules of `chains`.
    fn cuts(&self, chains: &[usize], f: Field) -> Vec<(u128, u128)> {
        let max = self.ctx.domain.max[f as usize];
        let mut points = BTreeSet::new();
        points.insert(0u128);
        for &c in chains {
            for m in &self.matched[c] {
                for cube in &m.space.cubes {
                    for &(lo, hi) in cube.get(f).ranges() {
                        points.insert(lo);
                        if let Some(n) = hi.checked_add(1).filter(|&n| n <= max) {
                            points.insert(n);
                        }
                    }
                }
            }
        }
        let p: Vec<u128> = points.into_iter().collect();
        p.iter()
            .enumerate()
            .map(|(i, &lo)| (lo, p.get(i + 1).map_or(max, |&n| n - 1)))
            .collect()
    }

    fn probe(
        &self,
        chain: &str,
        src: (u128, u128),
        dst: (u128, u128),
        proto: u8,
        port: (u128, u128),
    ) -> Cube {
        let mut c = self.ctx.full();
        c.set(Field::Src, Values::range(src.0, src.1));
        c.set(Field::Dst, Values::range(dst.0, dst.1));
        c.set(Field::Proto, Values::single(u128::from(proto)));
        if Protocol(proto).has_ports() {
            c.set(Field::Dport, Values::range(port.0, port.1));
        }
        c.set(Field::Ct, Values::single(ct_value(1, false, false)));
        c.set(Field::Frag, Values::single(0));
        c.set(Field::InIface, self.ctx.ifaces.not_loopback());
        if chain == "FORWARD" {
            c.set(Field::OutIface, self.ctx.ifaces.not_loopback());
        }
        if proto == Protocol::TCP.0 {
            c.set(Field::Flags, Values::single(0x02));
        }
        c
    }

    fn rule_ref(&self, ci: usize, i: usize) -> String {
        let chain = &self.table.chains[ci];
        let r = &chain.rules[i];
        let text = crate::lint::rule_text(&chain.name, r, self.ctx.family);
        match &r.origin {
            Some(o) => format!("{o}: {text}"),
            None => text,
        }
    }

    /// Follows `probe` through chain `ci`: the possible verdicts and
    /// whether some packets return to the caller.
    fn walk(&self, ci: usize, probe: &Cube, depth: usize, out: &mut Outcome) -> bool {
        let chain = &self.table.chains[ci];
        let builtin = self.table.is_builtin(&chain.name);
        let policy = |out: &mut Outcome| {
            let p = chain.policy.unwrap_or(ChainPolicy::Accept);
            out.insert((
                p.name().to_ascii_lowercase(),
                format!("policy of {}", chain.name),
            ));
        };
        if depth > 16 {
            out.insert(("unknown".into(), "jumps nested too deep".into()));
            return false;
        }
        let pm = Matched::new(Space::new(vec![probe.clone()]), Vec::new());
        let mut returned = false;
        for i in self.index[ci].query(pm.bounds[0]) {
            let m = &self.matched[ci][i];
            if !pm.may_overlap(m) || !m.space.overlaps_cube(probe) {
                continue;
            }
            let mut rest = Space::new(vec![probe.clone()]);
            let full = m.is_exact() && rest.subtract(&m.space).is_ok() && rest.is_empty();
            let rule = &chain.rules[i];
            match &self.effects[ci][i] {
                Effect::Verdict => {
                    let v = match &rule.target {
                        Some(Target::Accept) => "accept".to_string(),
                        Some(Target::Drop) => "drop".to_string(),
                        Some(Target::Reject(_)) => "reject".to_string(),
                        Some(t) => t.name().to_ascii_lowercase(),
                        None => "none".to_string(),
                    };
                    out.insert((v, self.rule_ref(ci, i)));
                }
                Effect::Return => {
                    if builtin {
                        policy(out);
                    } else {
                        returned = true;
                        if full {
                            return true;
                        }
                    }
                }
                Effect::Jump(t) => {
                    if let Some(ti) = self.chain_index(t) {
                        let back = self.walk(ti, probe, depth + 1, out);
                        if full && !back {
                            return returned;
                        }
                    }
                    continue;
                }
                Effect::Goto(t) => {
                    if let Some(ti) = self.chain_index(t) {
                        let back = self.walk(ti, probe, depth + 1, out);
                        if back {
                            if builtin {
                                policy(out);
                            } else {
                                returned = true;
                                if full {
                                    return true;
                                }
                            }
                        }
                    }
                }
                Effect::Nothing | Effect::SideEffect => continue,
            }
            if full {
                return returned;
            }
        }
        if builtin {
            policy(out);
            false
        } else {
            true
        }
    }

    fn cell(&self, ci: usize, probe: &Cube) -> Cell {
        let mut out = Outcome::new();
        self.walk(ci, probe, 0, &mut out);
        let verdicts: BTreeSet<String> = out.iter().map(|(v, _)| v.clone()).collect();
        Cell {
            verdicts: verdicts.into_iter().collect(),
            by: out.into_iter().map(|(_, by)| by).collect(),
        }
    }

    fn chain_matrix(&self, ci: usize, service: Option<&Service>) -> ChainMatrix {
        let chain = &self.table.chains[ci].name;
        let chains = self.reachable(ci);
        let srcs = self.cuts(&chains, Field::Src);
        let dsts = self.cuts(&chains, Field::Dst);
        // Services: the one asked for, or every TCP/UDP port class.
        let services: Vec<(u8, (u128, u128))> = match service {
            Some(s) if s.ports.is_empty() => vec![(s.protocol, (0, 65535))],
            Some(s) => s
                .ports
                .iter()
                .map(|&(a, b)| (s.protocol, (u128::from(a), u128::from(b))))
                .collect(),
            None => {
                let ports = self.cuts(&chains, Field::Dport);
                [Protocol::TCP.0, Protocol::UDP.0]
                    .into_iter()
                    .flat_map(|p| ports.iter().map(move |&r| (p, r)))
                    .collect()
            }
        };
        // cells[service][src][dst] over elementary intervals.
        let raw: Vec<Vec<Vec<Cell>>> = services
            .iter()
            .map(|&(proto, port)| {
                srcs.iter()
                    .map(|&s| {
                        dsts.iter()
                            .map(|&d| self.cell(ci, &self.probe(chain, s, d, proto, port)))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        // Merge sources with the same row everywhere, then destinations.
        let key = |v: Vec<&Vec<String>>| format!("{v:?}");
        let src_groups = group(srcs.len(), |s| {
            key(raw
                .iter()
                .flat_map(|sv| sv[s].iter().map(|c| &c.verdicts))
                .collect())
        });
        let dst_groups = group(dsts.len(), |d| {
            key(raw
                .iter()
                .flat_map(|sv| sv.iter().map(move |row| &row[d].verdicts))
                .collect())
        });
        let svc_groups = if service.is_some() {
            (0..services.len()).map(|i| vec![i]).collect()
        } else {
            group(services.len(), |i| {
                format!(
                    "{}|{}",
                    services[i].0,
                    key(raw[i]
                        .iter()
                        .flat_map(|row| row.iter().map(|c| &c.verdicts))
                        .collect())
                )
            })
        };
        let src_groups = order(&srcs, src_groups);
        let dst_groups = order(&dsts, dst_groups);
        let mut svc_groups = svc_groups;
        // Protocol, then the class holding most ports last.
        svc_groups.sort_by_key(|g| {
            let proto = services[g[0]].0;
            let count: u128 = g
                .iter()
                .map(|&i| services[i].1 .1 - services[i].1 .0 + 1)
                .sum();
            (proto, count > 32768, services[g[0]].1 .0)
        });
        let sources = self.classes(&srcs, &src_groups, "anywhere");
        let destinations = if dst_groups.len() == 1 && chain == "INPUT" {
            vec![Class {
                label: "this host".into(),
                prefixes: self.classes(&dsts, &dst_groups, "any")[0].prefixes.clone(),
                sets: vec![],
            }]
        } else {
            self.classes(&dsts, &dst_groups, "anywhere")
        };
        let services = svc_groups
            .iter()
            .map(|g| {
                let proto = services[g[0]].0;
                let mut ports: Vec<(u16, u16)> = if Protocol(proto).has_ports() {
                    let v = Values::from_ranges(g.iter().map(|&i| services[i].1).collect());
                    v.ranges()
                        .iter()
                        .map(|&(a, b)| {
                            (
                                u16::try_from(a).unwrap_or(u16::MAX),
                                u16::try_from(b).unwrap_or(u16::MAX),
                            )
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                ports.sort_unstable();
                let s = Service {
                    protocol: proto,
                    ports: ports.clone(),
                };
                let cells = src_groups
                    .iter()
                    .map(|sg| {
                        dst_groups
                            .iter()
                            .map(|dg| {
                                let mut cells = Vec::new();
                                for &i in g {
                                    for &s in sg {
                                        for &d in dg {
                                            cells.push(&raw[i][s][d]);
                                        }
                                    }
                                }
                                merge_cells(cells.into_iter())
                            })
                            .collect()
                    })
                    .collect();
                ServiceMatrix {
                    service: s.label(),
                    protocol: proto,
                    ports,
                    cells,
                }
            })
            .collect();
        ChainMatrix {
            family: self.ctx.family,
            chain: chain.clone(),
            sources,
            destinations,
            services,
        }
    }

    fn classes(&self, ivs: &[(u128, u128)], groups: &[Vec<usize>], everything: &str) -> Vec<Class> {
        let sets: Vec<(String, Values)> = self
            .ctx
            .policy
            .sets
            .iter()
            .filter_map(|s| self.ctx.set_values(s).map(|v| (s.name.clone(), v)))
            .collect();
        let biggest = groups
            .iter()
            .enumerate()
            .max_by_key(|(_, g)| {
                g.iter()
                    .map(|&i| ivs[i].1 - ivs[i].0)
                    .fold(0u128, u128::saturating_add)
            })
            .map(|(i, _)| i);
        groups
            .iter()
            .enumerate()
            .map(|(gi, g)| {
                let v = Values::from_ranges(g.iter().map(|&i| ivs[i]).collect());
                let prefixes = self.prefixes(&v);
                let in_sets: Vec<String> = sets
                    .iter()
                    .filter(|(_, s)| !v.is_empty() && v.is_subset(s))
                    .map(|(n, _)| n.clone())
                    .collect();
                let mut label = if groups.len() == 1 {
                    everything.to_string()
                } else if Some(gi) == biggest && prefixes.len() > 4 {
                    format!("{everything} else")
                } else if prefixes.len() > 4 {
                    format!(
                        "{} ... ({} prefixes)",
                        prefixes[..3].join(", "),
                        prefixes.len()
                    )
                } else {
                    prefixes.join(", ")
                };
                if !in_sets.is_empty() {
                    let _ = write!(label, " (set {})", in_sets.join(", "));
                }
                Class {
                    label,
                    prefixes,
                    sets: in_sets,
                }
            })
            .collect()
    }

    fn prefixes(&self, v: &Values) -> Vec<String> {
        match self.ctx.family {
            Family::Ipv4 => {
                let set: IntervalSet<u32> = v
                    .ranges()
                    .iter()
                    .filter_map(|&(a, b)| {
                        Interval::new(u32::try_from(a).ok()?, u32::try_from(b).ok()?)
                    })
                    .collect();
                set.prefixes()
                    .map(|p| format!("{}/{}", std::net::Ipv4Addr::from(p.addr), p.len))
                    .collect()
            }
            Family::Ipv6 => {
                let set: IntervalSet<u128> = v
                    .ranges()
                    .iter()
                    .filter_map(|&(a, b)| Interval::new(a, b))
                    .collect();
                set.prefixes()
                    .map(|p| format!("{}/{}", std::net::Ipv6Addr::from(p.addr), p.len))
                    .collect()
            }
        }
    }
}

/// Classes in address order, the largest one last.
fn order(ivs: &[(u128, u128)], mut groups: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
    let size = |g: &Vec<usize>| {
        g.iter()
            .map(|&i| ivs[i].1 - ivs[i].0)
            .fold(0u128, u128::saturating_add)
    };
    let biggest = groups.iter().map(size).max().unwrap_or(0);
    groups.sort_by_key(|g| (size(g) == biggest, ivs[g[0]].0));
    groups
}

/// Groups `0..n` by key, in order of first appearance.
fn group(n: usize, key: impl Fn(usize) -> String) -> Vec<Vec<usize>> {
    let mut idx: BTreeMap<String, usize> = BTreeMap::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let k = key(i);
        match idx.get(&k) {
            Some(&g) => out[g].push(i),
            None => {
                idx.insert(k, out.len());
                out.push(vec![i]);
            }
        }
    }
    out
}

fn merge_cells<'x>(cells: impl Iterator<Item = &'x Cell>) -> Cell {
    let mut v = BTreeSet::new();
    let mut by = BTreeSet::new();
    for c in cells {
        v.extend(c.verdicts.iter().cloned());
        by.extend(c.by.iter().cloned());
    }
    Cell {
        verdicts: v.into_iter().collect(),
        by: by.into_iter().collect(),
    }
}

impl Cell {
    /// `accept`, or `accept/drop` when it depends.
    pub fn text(&self) -> String {
        self.verdicts.join("/")
    }
}

/// The matrix as readable tables.
pub fn render(m: &Matrix) -> String {
    let mut s = String::new();
    for cm in &m.chains {
        let fam = match cm.family {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        };
        if cm.destinations.len() == 1 {
            let _ = writeln!(
                s,
                "{fam} {}: new connections from each class to {}",
                cm.chain,
                if cm.chain == "INPUT" {
                    "this host"
                } else {
                    "anywhere"
                }
            );
            let mut rows = vec![std::iter::once("FROM".to_string())
                .chain(cm.services.iter().map(|sv| sv.service.clone()))
                .collect::<Vec<_>>()];
            for (si, src) in cm.sources.iter().enumerate() {
                rows.push(
                    std::iter::once(src.label.clone())
                        .chain(cm.services.iter().map(|sv| sv.cells[si][0].text()))
                        .collect(),
                );
            }
            table(&mut s, &rows);
        } else {
            for sv in &cm.services {
                let _ = writeln!(
                    s,
                    "{fam} {} {}: new connections FROM (rows) TO (columns)",
                    cm.chain, sv.service
                );
                let mut rows = vec![std::iter::once("FROM \\ TO".to_string())
                    .chain(cm.destinations.iter().map(|d| d.label.clone()))
                    .collect::<Vec<_>>()];
                for (si, src) in cm.sources.iter().enumerate() {
                    rows.push(
                        std::iter::once(src.label.clone())
                            .chain(sv.cells[si].iter().map(Cell::text))
                            .collect(),
                    );
                }
                table(&mut s, &rows);
            }
        }
        let depends = cm
            .services
            .iter()
            .any(|sv| sv.cells.iter().flatten().any(|c| c.verdicts.len() > 1));
        if depends {
            let _ = writeln!(
                s,
                "  a/b: depends on what the classes do not split (interface, rate limit, connection limit, mark, ...); see --json for the rules"
            );
        }
        s.push('\n');
    }
    s
}

fn table(s: &mut String, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|x| x.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::from("  ");
        for (c, cell) in r.iter().enumerate() {
            let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
}
