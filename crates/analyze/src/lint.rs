//! `rampart lint`: findings about a policy, each with a stable code, a
//! severity, the rule's origin and the related rule.
//!
//! Every finding that says a rule never matches is proved over header
//! space (see [`crate::space`]): a rule is shadowed only when the union of
//! the earlier rules that end the chain, each modelled exactly, contains
//! every packet the rule could match. Opaque rules never cover anything;
//! jumps into user chains never cover anything (the packet may return).

use crate::header::{changes_modelled_fields, Ctx, Effect, Matched, RuleIndex};
use crate::space::{ct_value, Cube, Field, Space, Values};
use rampart_model::{
    Chain, ChainPolicy, Family, Match, Origin, Policy, Protocol, Rule, Table, TableKind, Target,
};
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Harmless clutter (a redundant rule, an unused set).
    Note,
    /// Probably not what the author meant.
    Warning,
    /// A hole or a lock-out.
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "note" => Some(Severity::Note),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// The stable finding codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Code {
    /// R001: the rule can never match; earlier rules with another verdict
    /// decide all its packets.
    Shadowed,
    /// R002: removing the rule changes nothing (earlier or later rules, or
    /// the chain policy, give its packets the same verdict).
    Redundant,
    /// R003: a user chain no reachable rule jumps to.
    UnreachableChain,
    /// R004: the rule follows an unconditional ACCEPT/DROP/REJECT/RETURN.
    AfterTerminal,
    /// R005: a set no rule uses.
    UnusedSet,
    /// R006: IPv4 is restrictive but IPv6 accepts everything.
    Ipv6Open,
    /// R007: a database or admin port accepted from anywhere.
    ExposedAdminPort,
    /// R008: a dropping chain without an ESTABLISHED/RELATED accept.
    NoEstablished,
    /// R009: no new SSH connection can be accepted.
    SshUnreachable,
}

impl Code {
    pub const ALL: [Code; 9] = [
        Code::Shadowed,
        Code::Redundant,
        Code::UnreachableChain,
        Code::AfterTerminal,
        Code::UnusedSet,
        Code::Ipv6Open,
        Code::ExposedAdminPort,
        Code::NoEstablished,
        Code::SshUnreachable,
    ];

    /// `R001` ...
    pub fn id(self) -> &'static str {
        match self {
            Code::Shadowed => "R001",
            Code::Redundant => "R002",
            Code::UnreachableChain => "R003",
            Code::AfterTerminal => "R004",
            Code::UnusedSet => "R005",
            Code::Ipv6Open => "R006",
            Code::ExposedAdminPort => "R007",
            Code::NoEstablished => "R008",
            Code::SshUnreachable => "R009",
        }
    }

    /// `shadowed` ...
    pub fn name(self) -> &'static str {
        match self {
            Code::Shadowed => "shadowed",
            Code::Redundant => "redundant",
            Code::UnreachableChain => "unreachable-chain",
            Code::AfterTerminal => "after-terminal",
            Code::UnusedSet => "unused-set",
            Code::Ipv6Open => "ipv6-open",
            Code::ExposedAdminPort => "exposed-admin-port",
            Code::NoEstablished => "no-established",
            Code::SshUnreachable => "ssh-unreachable",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Code::Redundant | Code::UnusedSet => Severity::Note,
            Code::ExposedAdminPort | Code::SshUnreachable => Severity::Error,
            _ => Severity::Warning,
        }
    }

    /// A code by id or name, case-insensitive (`R007`, `exposed-admin-port`).
    pub fn parse(s: &str) -> Option<Code> {
        let s = s.trim();
        Code::ALL
            .into_iter()
            .find(|c| c.id().eq_ignore_ascii_case(s) || c.name().eq_ignore_ascii_case(s))
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// Another rule a finding refers to (the covering rule, the deciding one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Related {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The rule in iptables-save form, or the chain policy.
    pub rule: String,
    /// What it has to do with the finding.
    pub note: String,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    pub name: &'static str,
    pub severity: Severity,
    pub message: String,
    /// Where: the rule's origin (or, for chain-level findings, the first
    /// rule of the chain); `None` when the policy has no location for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    pub families: Vec<Family>,
    pub table: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// The rule in iptables-save form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// Lint options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Codes silenced everywhere (`--allow`).
    pub allow: Vec<Code>,
}

/// A database, cache or admin service that should never be open to the
/// whole Internet.
#[derive(Debug, Clone, Copy)]
pub struct AdminPort {
    pub name: &'static str,
    pub proto: Protocol,
    pub port: u16,
}

const fn tcp(name: &'static str, port: u16) -> AdminPort {
    AdminPort {
        name,
        proto: Protocol::TCP,
        port,
    }
}

/// The ports R007 looks for.
pub const ADMIN_PORTS: &[AdminPort] = &[
    tcp("MySQL", 3306),
    tcp("PostgreSQL", 5432),
    tcp("Redis", 6379),
    tcp("MongoDB", 27017),
    tcp("Memcached", 11211),
    AdminPort {
        name: "Memcached",
        proto: Protocol::UDP,
        port: 11211,
    },
    tcp("Elasticsearch", 9200),
    tcp("Elasticsearch transport", 9300),
    tcp("Docker API", 2375),
    tcp("Docker API (TLS)", 2376),
    tcp("etcd", 2379),
    tcp("CouchDB", 5984),
    tcp("InfluxDB", 8086),
    tcp("Cassandra", 9042),
    tcp("Kubelet", 10250),
    tcp("Microsoft SQL Server", 1433),
    tcp("Oracle", 1521),
    tcp("RabbitMQ", 5672),
    tcp("RabbitMQ management", 15672),
    tcp("Consul", 8500),
    tcp("VNC", 5900),
    tcp("RDP", 3389),
    tcp("Telnet", 23),
    tcp("SMB", 445),
    tcp("rpcbind", 111),
    tcp("NFS", 2049),
];

/// Opaque matches that do not restrict who can connect (rate and
/// connection limits and the like): an ACCEPT with only these is still
/// open to the world.
const NOT_A_RESTRICTION: &[&str] = &[
    "limit",
    "hashlimit",
    "connlimit",
    "addrtype",
    "pkttype",
    "ttl",
    "hl",
    "length",
    "tcpmss",
    "ecn",
    "tos",
    "dscp",
    "conntrack",
    "tcp --tcp-option",
];

/// Lints a policy.
pub fn lint(policy: &Policy, opts: &Options) -> Vec<Finding> {
    let mut out = Vec::new();
    let ctxs: Vec<Ctx> = policy
        .families()
        .into_iter()
        .map(|f| Ctx::new(policy, f))
        .collect();
    let mut filters = Vec::new();
    for ctx in &ctxs {
        for table in policy.tables.iter().filter(|t| t.family == ctx.family) {
            let mut a = TableAnalysis::new(ctx, table);
            a.shadowing(&mut out);
            a.unreachable_chains(&mut out);
            if table.kind == TableKind::Filter {
                a.exposed_admin_ports(&mut out);
                a.no_established(&mut out);
                filters.push(a);
            }
        }
    }
    // A lock-out only when SSH is unreachable over every family.
    let ssh: Vec<Finding> = filters
        .iter()
        .filter_map(TableAnalysis::ssh_unreachable)
        .collect();
    if ssh.len() == filters.len() {
        out.extend(ssh);
    }
    let v4 = filters.iter().find(|a| a.family() == Family::Ipv4);
    let v6 = filters.iter().find(|a| a.family() == Family::Ipv6);
    if let Some(v4) = v4 {
        ipv6_open(v4, v6, &mut out);
    }
    unused_sets(policy, &mut out);
    finish(policy, out, opts)
}

/// Drops silenced findings, merges the same finding of both families, and
/// sorts by place.
fn finish(policy: &Policy, found: Vec<Finding>, opts: &Options) -> Vec<Finding> {
    // Codes silenced at each origin (`lint = { allow = [...] }`).
    let mut silenced: std::collections::HashMap<&Origin, BTreeSet<Code>> =
        std::collections::HashMap::new();
    for r in policy
        .tables
        .iter()
        .flat_map(|t| &t.chains)
        .flat_map(|c| &c.rules)
    {
        let Some(o) = &r.origin else { continue };
        let mut codes: Vec<Code> = r.lint_allow.iter().filter_map(|a| Code::parse(a)).collect();
        // iptables rules: `-m comment --comment "lint: allow R007 R001"`.
        for m in &r.matches {
            if let Match::Comment(c) = m {
                if let Some((_, rest)) = c.comment.split_once("lint: allow ") {
                    codes.extend(
                        rest.split([',', ' '])
                            .map_while(|w| {
                                if w.is_empty() {
                                    Some(None)
                                } else {
                                    Code::parse(w).map(Some)
                                }
                            })
                            .flatten(),
                    );
                }
            }
        }
        if !codes.is_empty() {
            silenced.entry(o).or_default().extend(codes);
        }
    }
    let allowed_at = |f: &Finding| -> bool {
        f.origin
            .as_ref()
            .and_then(|o| silenced.get(o))
            .is_some_and(|codes| codes.contains(&f.code))
    };
    let mut merged: Vec<Finding> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for f in found {
        if opts.allow.contains(&f.code) || allowed_at(&f) {
            continue;
        }
        let key = format!(
            "{}|{:?}|{}|{:?}|{}",
            f.code.id(),
            f.origin,
            f.table,
            f.chain,
            f.related
                .iter()
                .map(|r| format!("{:?}", r.origin))
                .collect::<Vec<_>>()
                .join(",")
        );
        match index.get(&key) {
            Some(&i) => {
                for fam in &f.families {
                    if !merged[i].families.contains(fam) {
                        merged[i].families.push(*fam);
                    }
                }
            }
            None => {
                index.insert(key, merged.len());
                merged.push(f);
            }
        }
    }
    merged.sort_by(|a, b| {
        let k = |f: &Finding| {
            f.origin
                .as_ref()
                .map(|o| (o.file.clone(), o.line, o.column))
        };
        k(a).cmp(&k(b)).then(a.code.cmp(&b.code))
    });
    merged
}

fn verdict_text(t: Option<&Target>) -> String {
    match t {
        None => "no target".into(),
        Some(Target::Reject(r)) => format!("REJECT ({})", reject_name(r)),
        Some(Target::Jump { chain }) => format!("jump to {chain}"),
        Some(Target::Goto { chain }) => format!("goto {chain}"),
        Some(t) => t.name().to_string(),
    }
}

fn reject_name(r: &rampart_model::targets::reject::Reject) -> String {
    serde_json::to_value(r.with)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "reject".into())
}

/// Is a chain's fall-through verdict the same as the rule's target?
fn policy_equals(p: ChainPolicy, t: Option<&Target>) -> bool {
    matches!(
        (p, t),
        (ChainPolicy::Accept, Some(Target::Accept)) | (ChainPolicy::Drop, Some(Target::Drop))
    )
}

/// Per rule of a table: its packets, its effect, and whether it can never
/// match (shadowed or after an unconditional rule).
struct TableAnalysis<'c, 'a> {
    ctx: &'c Ctx<'a>,
    table: &'a Table,
    matched: Vec<Vec<Matched>>,
    effects: Vec<Vec<Effect>>,
    dead: Vec<Vec<bool>>,
    /// Chains whose rules (or the chains they call) change modelled fields.
    dirty: BTreeSet<String>,
    /// Per chain, its rules by source span.
    index: Vec<RuleIndex>,
}

impl<'c, 'a> TableAnalysis<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>, table: &'a Table) -> Self {
        let matched: Vec<Vec<Matched>> = table
            .chains
            .iter()
            .map(|c| c.rules.iter().map(|r| ctx.rule_space(r)).collect())
            .collect();
        let effects = table
            .chains
            .iter()
            .map(|c| {
                c.rules
                    .iter()
                    .map(|r| Effect::of(r.target.as_ref()))
                    .collect()
            })
            .collect();
        let dead = table
            .chains
            .iter()
            .map(|c| vec![false; c.rules.len()])
            .collect();
        // Chains that change modelled fields, closed over jumps.
        let mut dirty: BTreeSet<String> = table
            .chains
            .iter()
            .filter(|c| {
                c.rules
                    .iter()
                    .any(|r| changes_modelled_fields(r.target.as_ref()))
            })
            .map(|c| c.name.clone())
            .collect();
        loop {
            let before = dirty.len();
            for c in &table.chains {
                if c.rules.iter().any(|r| match &r.target {
                    Some(Target::Jump { chain } | Target::Goto { chain }) => dirty.contains(chain),
                    _ => false,
                }) {
                    dirty.insert(c.name.clone());
                }
            }
            if dirty.len() == before {
                break;
            }
        }
        let index = matched
            .iter()
            .map(|m: &Vec<Matched>| RuleIndex::new(m))
            .collect();
        TableAnalysis {
            ctx,
            table,
            matched,
            effects,
            dead,
            dirty,
            index,
        }
    }

    fn family(&self) -> Family {
        self.ctx.family
    }

    fn chain_index(&self, name: &str) -> Option<usize> {
        self.table.chains.iter().position(|c| c.name == name)
    }

    fn rule_text(&self, chain: &Chain, rule: &Rule) -> String {
        rule_text(&chain.name, rule, self.family())
    }

    fn related(&self, chain: &Chain, j: usize, note: impl Into<String>) -> Related {
        let r = &chain.rules[j];
        Related {
            origin: r.origin.clone(),
            rule: self.rule_text(chain, r),
            note: note.into(),
        }
    }

    fn finding(
        &self,
        code: Code,
        chain: &Chain,
        at: Option<usize>,
        message: String,
        related: Vec<Related>,
        help: Option<String>,
    ) -> Finding {
        let rule = at.and_then(|i| chain.rules.get(i));
        Finding {
            code,
            name: code.name(),
            severity: code.severity(),
            message,
            origin: rule
                .and_then(|r| r.origin.clone())
                .or_else(|| first_origin(chain)),
            families: vec![self.family()],
            table: self.table.kind.name().to_string(),
            chain: Some(chain.name.clone()),
            rule: rule.map(|r| self.rule_text(chain, r)),
            related,
            help,
        }
    }

    /// Does rule `j` change modelled fields (itself or through a call)?
    fn changes_fields(&self, chain: &Chain, j: usize) -> bool {
        let r = &chain.rules[j];
        changes_modelled_fields(r.target.as_ref())
            || matches!(&r.target, Some(Target::Jump { chain } | Target::Goto { chain }) if self.dirty.contains(chain))
    }

    /// The packets that can enter each chain (over-approximated): every
    /// packet for a built-in chain, the union of the calling rules'
    /// packets (within their own chain's entry) for a user chain.
    fn entries(&self) -> Vec<Space> {
        let mut memo: Vec<Option<Space>> = vec![None; self.table.chains.len()];
        let mut visiting = vec![false; self.table.chains.len()];
        for ci in 0..self.table.chains.len() {
            self.entry(ci, &mut memo, &mut visiting);
        }
        memo.into_iter()
            .map(|e| e.unwrap_or_else(|| Space::new(vec![self.ctx.full()])))
            .collect()
    }

    fn entry(&self, ci: usize, memo: &mut Vec<Option<Space>>, visiting: &mut Vec<bool>) -> Space {
        if let Some(e) = &memo[ci] {
            return e.clone();
        }
        let full = Space::new(vec![self.ctx.full()]);
        if self.table.is_builtin(&self.table.chains[ci].name) || visiting[ci] {
            return full;
        }
        visiting[ci] = true;
        let name = &self.table.chains[ci].name;
        let mut cubes = Vec::new();
        'callers: for (k, c) in self.table.chains.iter().enumerate() {
            for (i, _) in c.rules.iter().enumerate() {
                let calls =
                    matches!(&self.effects[k][i], Effect::Jump(t) | Effect::Goto(t) if t == name);
                if !calls || self.dead[k][i] {
                    continue;
                }
                let e = self.entry(k, memo, visiting);
                cubes.extend(e.intersect(&self.matched[k][i].space).cubes);
                if cubes.len() > Space::MAX_CUBES {
                    cubes = full.cubes.clone();
                    break 'callers;
                }
            }
        }
        visiting[ci] = false;
        let e = Space::new(cubes);
        memo[ci] = Some(e.clone());
        e
    }

    /// R001, R002, R004: walks each chain once.
    fn shadowing(&mut self, out: &mut Vec<Finding>) {
        for ci in 0..self.table.chains.len() {
            let chain = &self.table.chains[ci];
            // Earlier exact rules that end the chain, since the last rule
            // that changes modelled fields (`reset`).
            let mut covering = vec![false; chain.rules.len()];
            let mut reset = 0usize;
            let mut unconditional: Option<usize> = None;
            for i in 0..chain.rules.len() {
                if let Some(t) = unconditional {
                    self.dead[ci][i] = true;
                    let tr = &chain.rules[t];
                    out.push(self.finding(
                        Code::AfterTerminal,
                        chain,
                        Some(i),
                        format!(
                            "this rule can never be reached: it comes after a rule that ends the chain for every packet ({})",
                            verdict_text(tr.target.as_ref())
                        ),
                        vec![self.related(chain, t, "matches every packet")],
                        Some("remove it, or move it above the unconditional rule".into()),
                    ));
                    continue;
                }
                let m = &self.matched[ci][i];
                // The earlier covering rules that meet it, taken out as one
                // merged union (a blocklist is one pass, not one per rule).
                let mut used: Vec<usize> = self.index[ci]
                    .query(m.bounds[0])
                    .into_iter()
                    .take_while(|&j| j < i)
                    .filter(|&j| {
                        j >= reset
                            && covering[j]
                            && m.may_overlap(&self.matched[ci][j])
                            && m.space.overlaps(&self.matched[ci][j].space)
                    })
                    .collect();
                let mut rem = m.space.clone();
                let complex = rem
                    .subtract(&Space::union_compact(
                        used.iter().map(|&j| &self.matched[ci][j].space),
                    ))
                    .is_err();
                let effect = &self.effects[ci][i];
                if m.space.is_empty() {
                    self.dead[ci][i] = true;
                    out.push(self.finding(
                        Code::Shadowed,
                        chain,
                        Some(i),
                        "this rule can never match: its conditions exclude every packet (such as `! -s 0.0.0.0/0`, a reversed range, or ports of another protocol)".to_string(),
                        vec![],
                        Some("fix or remove the conditions".into()),
                    ));
                    continue;
                }
                if !complex && rem.is_empty() {
                    self.dead[ci][i] = true;
                    // Keep only the covering rules that are needed (when
                    // there are few enough to try).
                    let mut k = 0;
                    while used.len() > 1 && used.len() <= 64 && k < used.len() {
                        let mut rest = m.space.clone();
                        let covered = used
                            .iter()
                            .enumerate()
                            .filter(|&(x, _)| x != k)
                            .try_for_each(|(_, &j)| rest.subtract(&self.matched[ci][j].space))
                            .is_ok()
                            && rest.is_empty();
                        if covered {
                            used.remove(k);
                        } else {
                            k += 1;
                        }
                    }
                    let rule = &chain.rules[i];
                    let same = effect.ends_chain()
                        && used.iter().all(|&j| chain.rules[j].target == rule.target);
                    let how = if used.len() == 1 {
                        "covers it"
                    } else {
                        "covers part of it"
                    };
                    const SHOWN: usize = 5;
                    let mut related: Vec<Related> = used
                        .iter()
                        .take(SHOWN)
                        .map(|&j| {
                            self.related(
                                chain,
                                j,
                                format!(
                                    "{how} first: {}",
                                    verdict_text(chain.rules[j].target.as_ref())
                                ),
                            )
                        })
                        .collect();
                    if used.len() > SHOWN {
                        related.push(Related {
                            origin: None,
                            rule: format!("{} more rules", used.len() - SHOWN),
                            note: "cover the rest of it".into(),
                        });
                    }
                    let f = if same {
                        self.finding(
                            Code::Redundant,
                            chain,
                            Some(i),
                            format!(
                                "this rule is redundant: the rule(s) above already give every packet it matches the same verdict ({})",
                                verdict_text(rule.target.as_ref())
                            ),
                            related,
                            Some("remove it".into()),
                        )
                    } else {
                        self.finding(
                            Code::Shadowed,
                            chain,
                            Some(i),
                            format!(
                                "this rule can never match: every packet it matches is decided by the rule(s) above (its verdict {} never applies)",
                                verdict_text(rule.target.as_ref())
                            ),
                            related,
                            Some("remove it, or move it above the rule(s) that cover it".into()),
                        )
                    };
                    out.push(f);
                    continue;
                }
                // The second rule of one native item (the DROP after a
                // rate-limited ACCEPT) is not the author's to remove.
                let companion = i > 0
                    && chain.rules[i].origin.is_some()
                    && chain.rules[i - 1].origin == chain.rules[i].origin;
                if !complex && !companion && m.is_exact() && effect.ends_chain() {
                    if let Some(f) = self.redundant_later(ci, i, rem) {
                        out.push(f);
                    }
                }
                if self.changes_fields(chain, i) {
                    reset = i;
                }
                if m.is_exact() && effect.ends_chain() {
                    covering[i] = true;
                    if m.space.cubes.iter().any(|c| c.is_full(&self.ctx.domain)) {
                        unconditional = Some(i);
                    }
                }
            }
        }
    }

    /// R002 by the rules below: the packets that reach rule `i` (`rem`)
    /// would get the same verdict from later rules or the chain's end.
    fn redundant_later(&self, ci: usize, i: usize, mut rem: Space) -> Option<Finding> {
        let chain = &self.table.chains[ci];
        let rule = &chain.rules[i];
        let builtin = self.table.is_builtin(&chain.name);
        // RETURN in a user chain and falling off its end are the same.
        let user_return = !builtin && rule.target == Some(Target::Return);
        if !user_return && !matches!(rule.target, Some(Target::Accept | Target::Drop)) {
            return None;
        }
        // Rules whose sources cannot meet this one's never matter.
        let candidates = self.index[ci].query(self.matched[ci][i].bounds[0]);
        for j in candidates.into_iter().filter(|&j| j > i) {
            if self.dead[ci][j] {
                continue;
            }
            let mj = &self.matched[ci][j];
            if !self.matched[ci][i].may_overlap(mj) || !rem.overlaps(&mj.space) {
                continue;
            }
            match &self.effects[ci][j] {
                Effect::Nothing => continue,
                e if e.ends_chain()
                    && mj.is_exact()
                    && chain.rules[j].target == rule.target
                    && !self.changes_fields(chain, j) =>
                {
                    rem.subtract(&mj.space).ok()?;
                    if rem.is_empty() {
                        return Some(self.finding(
                            Code::Redundant,
                            chain,
                            Some(i),
                            format!(
                                "this rule is redundant: without it, its packets get the same verdict ({}) from a rule below",
                                verdict_text(rule.target.as_ref())
                            ),
                            vec![self.related(chain, j, "gives them the same verdict")],
                            Some("remove it".into()),
                        ));
                    }
                }
                _ => return None,
            }
        }
        let same_end = if builtin {
            chain
                .policy
                .is_some_and(|p| policy_equals(p, rule.target.as_ref()))
        } else {
            user_return
        };
        if !same_end {
            return None;
        }
        let end = if builtin {
            format!(
                "the chain policy {}",
                chain.policy.map_or("", ChainPolicy::name)
            )
        } else {
            "the end of the chain (return)".to_string()
        };
        Some(self.finding(
            Code::Redundant,
            chain,
            Some(i),
            format!(
                "this rule is redundant: without it, its packets get the same verdict ({}) from {end}",
                verdict_text(rule.target.as_ref())
            ),
            vec![],
            Some("remove it".into()),
        ))
    }

    /// The user chains reachable from the built-in chains through jumps
    /// and gotos of rules that can match.
    fn reachable_from(&self, roots: &[&str]) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = roots.iter().filter_map(|n| self.chain_index(n)).collect();
        while let Some(ci) = stack.pop() {
            if !seen.insert(ci) {
                continue;
            }
            for (i, e) in self.effects[ci].iter().enumerate() {
                if let Effect::Jump(t) | Effect::Goto(t) = e {
                    if !self.dead[ci][i] {
                        if let Some(ti) = self.chain_index(t) {
                            stack.push(ti);
                        }
                    }
                }
            }
        }
        seen
    }

    fn builtins(&self) -> Vec<&'a str> {
        self.table
            .chains
            .iter()
            .filter(|c| self.table.is_builtin(&c.name))
            .map(|c| c.name.as_str())
            .collect()
    }

    /// R003.
    fn unreachable_chains(&self, out: &mut Vec<Finding>) {
        let reach = self.reachable_from(&self.builtins());
        for (ci, chain) in self.table.chains.iter().enumerate() {
            if self.table.is_builtin(&chain.name) || reach.contains(&ci) {
                continue;
            }
            let callers: Vec<Related> = self
                .table
                .chains
                .iter()
                .enumerate()
                .flat_map(|(k, c)| {
                    c.rules
                        .iter()
                        .enumerate()
                        .filter(move |(i, _)| {
                            matches!(&self.effects[k][*i], Effect::Jump(t) | Effect::Goto(t) if *t == chain.name)
                        })
                        .map(move |(i, _)| (c, i))
                })
                .map(|(c, i)| self.related(c, i, "jumps to it but can never match or is never reached"))
                .collect();
            let message = if callers.is_empty() {
                format!(
                    "user chain `{}` is never used: no rule jumps to it",
                    chain.name
                )
            } else {
                format!(
                    "user chain `{}` is never reached: only rules that can never match, or chains that are never reached, jump to it",
                    chain.name
                )
            };
            out.push(self.finding(
                Code::UnreachableChain,
                chain,
                (!chain.rules.is_empty()).then_some(0),
                message,
                callers,
                Some("remove the chain, or add the jump it was meant to have".into()),
            ));
        }
    }

    /// The exact chain-ending rules before `i` (since the last rule that
    /// changes modelled fields): packets in them never reach rule `i`.
    fn reaching(&self, ci: usize, i: usize, mut probe: Space) -> Result<Space, ()> {
        let chain = &self.table.chains[ci];
        let start = (0..i)
            .rev()
            .find(|&j| self.changes_fields(chain, j))
            .map_or(0, |j| j + 1);
        let bounds = Matched::new(probe.clone(), Vec::new()).bounds[0];
        let candidates = self.index[ci].query(bounds);
        let covering: Vec<&Space> = candidates
            .into_iter()
            .filter(|&j| j >= start && j < i && self.effects[ci][j].ends_chain())
            .map(|j| &self.matched[ci][j])
            .filter(|m| m.is_exact() && probe.overlaps(&m.space))
            .map(|m| &m.space)
            .collect();
        probe
            .subtract(&Space::union_compact(covering))
            .map_err(|_| ())?;
        Ok(probe)
    }

    /// A new connection to `port` from any source on any interface but `lo`.
    fn new_conn_probe(&self, proto: Protocol, port: u16) -> Cube {
        let mut c = self.ctx.full();
        c.set(Field::Proto, Values::single(u128::from(proto.0)));
        c.set(Field::Dport, Values::single(u128::from(port)));
        c.set(Field::Ct, Values::single(ct_value(1, false, false)));
        c.set(Field::Frag, Values::single(0));
        c.set(Field::InIface, self.ctx.ifaces.not_loopback());
        if proto == Protocol::TCP {
            // A SYN.
            c.set(Field::Flags, Values::single(0x02));
        }
        c
    }

    /// R007.
    fn exposed_admin_ports(&self, out: &mut Vec<Finding>) {
        let reach = self.reachable_from(&["INPUT", "FORWARD"]);
        let entries = self.entries();
        let domain = &self.ctx.domain;
        for &ci in &reach {
            let chain = &self.table.chains[ci];
            for (i, rule) in chain.rules.iter().enumerate() {
                if self.dead[ci][i] || rule.target != Some(Target::Accept) {
                    continue;
                }
                let m = &self.matched[ci][i];
                if m.opaque.iter().any(|o| !NOT_A_RESTRICTION.contains(o)) {
                    continue;
                }
                let mut open = Vec::new();
                for ap in ADMIN_PORTS {
                    let probe = self.new_conn_probe(ap.proto, ap.port);
                    let hit = entries[ci].intersect(&m.space.intersect_cube(&probe));
                    // From anywhere: the whole source space, on every
                    // interface but lo.
                    let world = hit.cubes.iter().any(|c| {
                        c.get(Field::Src).is_full(domain.max[Field::Src as usize])
                            && probe.get(Field::InIface).is_subset(c.get(Field::InIface))
                    });
                    if !world {
                        continue;
                    }
                    if self.reaching(ci, i, hit).is_ok_and(|s| !s.is_empty()) {
                        let name = match ap.proto {
                            Protocol::UDP => format!("{} (udp/{})", ap.name, ap.port),
                            _ => format!("{} (tcp/{})", ap.name, ap.port),
                        };
                        open.push(name);
                    }
                }
                if open.is_empty() {
                    continue;
                }
                let any = if self.family() == Family::Ipv4 {
                    "0.0.0.0/0"
                } else {
                    "::/0"
                };
                out.push(self.finding(
                    Code::ExposedAdminPort,
                    chain,
                    Some(i),
                    format!(
                        "this rule accepts new connections to {} from anywhere ({any})",
                        open.join(", ")
                    ),
                    vec![],
                    Some("allow them only from the addresses that need them (`from` / -s), or keep the service on localhost".into()),
                ));
            }
        }
    }

    /// The verdict a built-in chain ends with for every packet: its
    /// policy, or the first unconditional chain-ending rule.
    fn default_verdict(&self, ci: usize) -> Option<(Option<usize>, bool)> {
        let chain = &self.table.chains[ci];
        for (i, m) in self.matched[ci].iter().enumerate() {
            if self.dead[ci][i] || !m.is_exact() || !self.effects[ci][i].ends_chain() {
                continue;
            }
            if m.space.cubes.iter().any(|c| c.is_full(&self.ctx.domain)) {
                let accepts = chain.rules[i].target == Some(Target::Accept)
                    || (chain.rules[i].target == Some(Target::Return)
                        && chain.policy == Some(ChainPolicy::Accept));
                return Some((Some(i), accepts));
            }
        }
        chain.policy.map(|p| (None, p == ChainPolicy::Accept))
    }

    /// R008.
    fn no_established(&self, out: &mut Vec<Finding>) {
        for name in ["INPUT", "FORWARD", "OUTPUT"] {
            let Some(ci) = self.chain_index(name) else {
                continue;
            };
            let chain = &self.table.chains[ci];
            let Some((_, false)) = self.default_verdict(ci) else {
                continue;
            };
            let reach = self.reachable_from(&[name]);
            let accepts: Vec<(usize, usize)> = reach
                .iter()
                .flat_map(|&k| (0..self.table.chains[k].rules.len()).map(move |i| (k, i)))
                .filter(|&(k, i)| {
                    !self.dead[k][i] && self.table.chains[k].rules[i].target == Some(Target::Accept)
                })
                .collect();
            if name != "INPUT" && accepts.is_empty() {
                // Nothing is allowed through at all: nothing to reply to.
                continue;
            }
            let entries = self.entries();
            let mut missing = Vec::new();
            for (state, base) in [("ESTABLISHED", 3usize), ("RELATED", 2)] {
                let mut probe = self.ctx.full();
                probe.set(
                    Field::Ct,
                    Values::from_ranges(
                        (0..4)
                            .map(|bits| {
                                let v = ct_value(base, bits & 2 != 0, bits & 1 != 0);
                                (v, v)
                            })
                            .collect(),
                    ),
                );
                if name != "OUTPUT" {
                    probe.set(Field::InIface, self.ctx.ifaces.not_loopback());
                }
                if name != "INPUT" {
                    let lo = self.ctx.ifaces.not_loopback();
                    probe.set(Field::OutIface, lo);
                }
                let mut rem = Space::new(vec![probe.clone()]);
                let mut some = false;
                for &(k, i) in &accepts {
                    let m = &self.matched[k][i];
                    if !m.is_exact() {
                        continue;
                    }
                    let acc = entries[k].intersect(&m.space);
                    some |= acc.overlaps_cube(&probe);
                    if rem.subtract(&acc).is_err() {
                        break;
                    }
                }
                // INPUT must accept them from everywhere; in FORWARD and
                // OUTPUT, an accept for some interfaces or addresses shows
                // the author handles replies.
                let handled = if name == "INPUT" {
                    rem.is_empty()
                } else {
                    some
                };
                if !handled {
                    missing.push(state);
                }
            }
            if missing.is_empty() {
                continue;
            }
            let what = if missing.len() == 2 {
                format!(
                    "{name} drops by default but no rule accepts ESTABLISHED or RELATED packets: replies to connections {} are dropped",
                    if name == "OUTPUT" { "made to this host" } else { "this host allows or makes" }
                )
            } else if missing == ["RELATED"] {
                format!(
                    "{name} drops by default and accepts ESTABLISHED but not RELATED packets: ICMP errors of existing connections (such as \"fragmentation needed\") are dropped"
                )
            } else {
                format!("{name} drops by default but does not accept ESTABLISHED packets of every connection")
            };
            out.push(self.finding(
                Code::NoEstablished,
                chain,
                None,
                what,
                vec![],
                Some("add `-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT` near the top (native: `established = true` in [defaults])".into()),
            ));
        }
    }

    /// Can some packet of `probe` be accepted in chain `ci`, and can some
    /// return from it to the caller? `Err` when unknown (too complex);
    /// `killers` collects exact rules that drop part of it.
    fn may_accept(
        &self,
        ci: usize,
        mut probe: Space,
        depth: usize,
        killers: &mut Vec<(usize, usize)>,
    ) -> Result<(bool, bool), ()> {
        if depth > 16 {
            return Ok((true, true));
        }
        let chain = &self.table.chains[ci];
        let builtin = self.table.is_builtin(&chain.name);
        let policy_accepts = chain.policy == Some(ChainPolicy::Accept);
        let mut returns = false;
        // Exact drops not yet taken out of `probe` (taken out together,
        // merged, before anything that could accept).
        let mut pending: Vec<&Space> = Vec::new();
        for (i, rule) in chain.rules.iter().enumerate() {
            let m = &self.matched[ci][i];
            if self.dead[ci][i] || !probe.overlaps(&m.space) {
                continue;
            }
            let drops = matches!(rule.target, Some(Target::Drop | Target::Reject(_)));
            if drops && m.is_exact() {
                pending.push(&m.space);
                killers.push((ci, i));
                continue;
            }
            if !pending.is_empty() {
                probe
                    .subtract(&Space::union_compact(pending.drain(..)))
                    .map_err(|_| ())?;
                if probe.is_empty() {
                    return Ok((false, returns));
                }
                if !probe.overlaps(&m.space) {
                    continue;
                }
            }
            if self.changes_fields(chain, i) {
                return Ok((true, true));
            }
            match &self.effects[ci][i] {
                Effect::Jump(t) | Effect::Goto(t) => {
                    let Some(ti) = self.chain_index(t) else {
                        continue;
                    };
                    let sub = probe.intersect(&m.space);
                    let (acc, back) = self.may_accept(ti, sub, depth + 1, killers)?;
                    if acc {
                        return Ok((true, true));
                    }
                    // A goto's returns leave this chain as a RETURN would.
                    if back && matches!(self.effects[ci][i], Effect::Goto(_)) {
                        if builtin && policy_accepts {
                            return Ok((true, true));
                        }
                        returns |= !builtin;
                    }
                }
                Effect::Verdict => {
                    if !drops {
                        return Ok((true, true));
                    }
                    // An opaque drop may or may not drop: nothing known.
                }
                Effect::Return => {
                    if builtin && policy_accepts {
                        return Ok((true, true));
                    }
                    returns |= !builtin;
                    if m.is_exact() {
                        // Gone from this chain: to the policy (drop) or
                        // back to the caller, which goes on with them.
                        probe.subtract(&m.space).map_err(|_| ())?;
                    }
                }
                Effect::Nothing | Effect::SideEffect => {}
            }
        }
        probe
            .subtract(&Space::union_compact(pending))
            .map_err(|_| ())?;
        let left = !probe.is_empty();
        Ok((
            left && builtin && policy_accepts,
            returns || (left && !builtin),
        ))
    }

    /// R009 for this family.
    fn ssh_unreachable(&self) -> Option<Finding> {
        let ci = self.chain_index("INPUT")?;
        let chain = &self.table.chains[ci];
        let probe = Space::new(vec![self.new_conn_probe(Protocol::TCP, 22)]);
        let mut killers = Vec::new();
        if self.may_accept(ci, probe, 0, &mut killers) != Ok((false, false)) {
            return None;
        }
        const SHOWN: usize = 5;
        let mut related: Vec<Related> = killers
            .iter()
            .take(SHOWN)
            .map(|&(k, i)| self.related(&self.table.chains[k], i, "drops new SSH connections"))
            .collect();
        if killers.len() > SHOWN {
            related.push(Related {
                origin: None,
                rule: format!("{} more rules", killers.len() - SHOWN),
                note: "drop new SSH connections too".into(),
            });
        }
        if let Some(p) = chain.policy {
            related.push(Related {
                origin: None,
                rule: format!(":{} {}", chain.name, p.name()),
                note: "the chain policy drops the rest".into(),
            });
        }
        let at = killers.first().filter(|(k, _)| *k == ci).map(|&(_, i)| i);
        Some(self.finding(
            Code::SshUnreachable,
            chain,
            at,
            format!(
                "no new SSH connection (tcp/22) can be accepted (over {}, nor over any other family): applying this policy locks remote admins out",
                match self.family() {
                    Family::Ipv4 => "IPv4",
                    Family::Ipv6 => "IPv6",
                }
            ),
            related,
            Some("allow tcp/22 from the admins' addresses; if sshd listens on another port, silence R009".into()),
        ))
    }
}

/// A rule in iptables-save form, without counters.
pub fn rule_text(chain: &str, rule: &Rule, family: Family) -> String {
    let mut r = rule.clone();
    r.counters = None;
    rampart_syntax::iptables::rule_line(chain, &r, family)
}

fn first_origin(chain: &Chain) -> Option<Origin> {
    chain.rules.iter().find_map(|r| r.origin.clone())
}

/// R006: per filter chain INPUT and FORWARD, IPv4 drops by default but
/// IPv6 accepts everything.
fn ipv6_open(a4: &TableAnalysis, a6: Option<&TableAnalysis>, out: &mut Vec<Finding>) {
    let v4 = a4.table;
    let v6 = a6.map(|a| a.table);
    for name in ["INPUT", "FORWARD"] {
        let Some(ci) = a4.chain_index(name) else {
            continue;
        };
        let Some((_, false)) = a4.default_verdict(ci) else {
            continue;
        };
        let chain = &v4.chains[ci];
        if name == "FORWARD" && chain.rules.is_empty() && v6.is_none() {
            // A host that does not route: IPv6 forwarding is off anyway
            // unless enabled, and the IPv4 side says nothing else.
            continue;
        }
        let why = match a6 {
            None => "the policy has no IPv6 (ip6tables) rules at all".to_string(),
            Some(a6) => {
                let Some(c6) = a6.chain_index(name) else {
                    continue;
                };
                let open = a6.default_verdict(c6).is_none_or(|(_, acc)| acc)
                    && !a6.table.chains[c6]
                        .rules
                        .iter()
                        .any(|r| matches!(r.target, Some(Target::Drop | Target::Reject(_))));
                if !open {
                    continue;
                }
                format!("IPv6 {name} accepts everything (policy ACCEPT, nothing dropped)")
            }
        };
        out.push(Finding {
            code: Code::Ipv6Open,
            name: Code::Ipv6Open.name(),
            severity: Code::Ipv6Open.severity(),
            message: format!("IPv4 {name} drops what no rule allows, but {why}: the host is open over IPv6"),
            origin: first_origin(chain),
            families: vec![Family::Ipv4],
            table: "filter".into(),
            chain: Some(name.into()),
            rule: None,
            related: vec![],
            help: Some("give IPv6 the same policy (ip6tables-save / ip6tables; native: leave `family` unset in [defaults])".into()),
        });
    }
}

/// R005.
fn unused_sets(policy: &Policy, out: &mut Vec<Finding>) {
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for rule in policy
        .tables
        .iter()
        .flat_map(|t| &t.chains)
        .flat_map(|c| &c.rules)
    {
        for m in &rule.matches {
            if let Match::SetMatch(s) = m {
                used.insert(&s.set);
            }
        }
        if let Some(Target::SetTarget(t)) = &rule.target {
            for r in [&t.add_set, &t.del_set, &t.map_set].into_iter().flatten() {
                used.insert(&r.name);
            }
        }
    }
    for s in &policy.sets {
        for e in &s.elements {
            for p in &e.parts {
                if let rampart_model::ElemPart::SetName(n) = p {
                    used.insert(n);
                }
            }
        }
    }
    let mut seen_origins = BTreeSet::new();
    for s in &policy.sets {
        if used.contains(s.name.as_str()) {
            continue;
        }
        // A native set is one ipset per family; one finding for both.
        if let Some(o) = &s.origin {
            if !seen_origins.insert(o.to_string()) {
                continue;
            }
        }
        out.push(Finding {
            code: Code::UnusedSet,
            name: Code::UnusedSet.name(),
            severity: Code::UnusedSet.severity(),
            message: format!("set `{}` is defined but no rule uses it", s.name),
            origin: s.origin.clone(),
            families: s.family.into_iter().collect(),
            table: String::new(),
            chain: None,
            rule: None,
            related: vec![],
            help: Some("remove it, or reference it from a rule (`@name` / -m set)".into()),
        });
    }
}
