//! Lowering: `rampart_model::Policy` → [`Ruleset`], with iptables' meaning.
//!
//! Layout: the filter, mangle, raw and security tables of both families go
//! into `table inet rampart`; same-named chains of IPv4 and IPv6 share one
//! nft chain and every rule starts with `meta nfproto ipv4|ipv6`, so a rule
//! only ever sees packets of the family it was written for. The nat table
//! goes into `table ip rampart-nat` / `table ip6 rampart-nat`.

use crate::ruleset::*;
use crate::LowerError;
use rampart_model::matches::{self as m, Match};
use rampart_model::targets::{self as t, Target};
use rampart_model::{
    ElemPart, Family, IpNet, IpSet, Neg, Policy, PortRange, Protocol, SetKind, TableKind,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Lowers a whole policy; returns every construct that cannot be lowered.
pub fn lower(policy: &Policy) -> Result<Ruleset, Vec<LowerError>> {
    let mut cx = Cx {
        policy,
        errors: Vec::new(),
        dyn_sets: BTreeMap::new(),
        recent_plan: recent_plan(policy),
        connlimits: 0,
        updated_sets: HashSet::new(),
    };
    let rs = cx.ruleset();
    if cx.errors.is_empty() {
        Ok(rs)
    } else {
        Err(cx.errors)
    }
}

/// Name of rampart's filter table.
pub const INET_TABLE: &str = "rampart";
/// Name of rampart's nat tables (`ip` and `ip6`).
pub const NAT_TABLE: &str = "rampart-nat";

struct Cx<'a> {
    policy: &'a Policy,
    errors: Vec<LowerError>,
    /// Sets the rules fill from the packet path (hashlimit, connlimit,
    /// recent), by name.
    dyn_sets: BTreeMap<String, Set>,
    /// Per recent list and family: the set timeout, or why none fits.
    recent_plan: HashMap<(String, Family), Res<Option<u32>>>,
    /// connlimit rules seen so far (each gets its own set).
    connlimits: usize,
    /// ipsets that `-j SET` changes (declared `flags dynamic`).
    updated_sets: HashSet<String>,
}

/// Where a rule sits, for its lowering and its errors.
#[derive(Clone, Copy)]
struct RuleCx<'a> {
    family: Family,
    kind: TableKind,
    chain: &'a str,
    rule: &'a rampart_model::Rule,
    /// `-p P` when given without `!`.
    proto: Option<Protocol>,
}

/// One position of a rule: one conjunction, or mutually exclusive
/// alternatives (the rule is split into one nft rule per alternative).
enum Part {
    All(Vec<Stmt>),
    OneOf(Vec<Vec<Stmt>>),
}

type Res<T> = Result<T, String>;

impl<'a> Cx<'a> {
    fn err(&mut self, rc: &RuleCx<'_>, construct: &str, reason: impl Into<String>) {
        self.errors.push(LowerError {
            construct: construct.to_string(),
            reason: reason.into(),
            table: rc.kind.name().to_string(),
            family: rc.family,
            chain: rc.chain.to_string(),
            origin: rc.rule.origin.clone(),
        });
    }

    fn ruleset(&mut self) -> Ruleset {
        let mut inet = Table {
            family: TableFamily::Inet,
            name: INET_TABLE.into(),
            sets: Vec::new(),
            chains: Vec::new(),
        };
        for s in &self.policy.sets {
            match lower_set(s) {
                Ok(set) => inet.sets.push(set),
                Err(reason) => self.errors.push(LowerError {
                    construct: format!("ipset {} ({})", s.name, s.kind.name()),
                    reason,
                    table: "sets".into(),
                    family: s.family.unwrap_or(Family::Ipv4),
                    chain: String::new(),
                    origin: s.origin.clone(),
                }),
            }
        }
        for kind in [
            TableKind::Raw,
            TableKind::Mangle,
            TableKind::Filter,
            TableKind::Security,
        ] {
            let chains = self.inet_chains(kind);
            inet.chains.extend(chains);
        }
        for s in &mut inet.sets {
            s.dynamic |= self.updated_sets.contains(&s.name);
        }
        let taken: HashSet<String> = inet.sets.iter().map(|s| s.name.clone()).collect();
        for (name, set) in std::mem::take(&mut self.dyn_sets) {
            if taken.contains(&name) {
                self.errors.push(LowerError {
                    construct: format!("set {name}"),
                    reason: "an ipset has the name rampart gives the state of a hashlimit/connlimit/recent match".into(),
                    table: "sets".into(),
                    family: Family::Ipv4,
                    chain: String::new(),
                    origin: None,
                });
            }
            inet.sets.push(set);
        }
        let mut tables = vec![inet];
        for fam in [Family::Ipv4, Family::Ipv6] {
            if let Some(t) = self.policy.table(fam, TableKind::Nat) {
                let chains = self.nat_chains(t);
                let used = used_sets(&chains);
                for name in used.intersection(&self.updated_sets) {
                    self.errors.push(LowerError {
                        construct: format!("ipset {name}"),
                        reason: "the set is changed by -j SET and matched in the nat table; nft's nat table would hold a copy that never sees the changes".into(),
                        table: "nat".into(),
                        family: fam,
                        chain: String::new(),
                        origin: None,
                    });
                }
                let sets = tables[0]
                    .sets
                    .iter()
                    .filter(|s| used.contains(&s.name))
                    .cloned()
                    .collect();
                tables.push(Table {
                    family: match fam {
                        Family::Ipv4 => TableFamily::Ip,
                        Family::Ipv6 => TableFamily::Ip6,
                    },
                    name: NAT_TABLE.into(),
                    sets,
                    chains,
                });
            }
        }
        Ruleset { tables }
    }

    /// The chains of one iptables table kind (both families) in the inet table.
    fn inet_chains(&mut self, kind: TableKind) -> Vec<Chain> {
        let tables: Vec<&rampart_model::Table> = [Family::Ipv4, Family::Ipv6]
            .into_iter()
            .filter_map(|f| self.policy.table(f, kind))
            .collect();
        if tables.is_empty() {
            return Vec::new();
        }
        let prefix = match kind {
            TableKind::Filter => "",
            TableKind::Mangle => "mangle-",
            TableKind::Raw => "raw-",
            TableKind::Security => "security-",
            _ => "other-",
        };
        let mut out = Vec::new();
        // Base chains.
        for hook in kind.builtin_chains() {
            let mut rules = Vec::new();
            let mut policies = Vec::new();
            for t in &tables {
                if let Some(c) = t.chain(hook.name()) {
                    policies.push((
                        t.family,
                        c.policy.unwrap_or(rampart_model::ChainPolicy::Accept),
                    ));
                    rules.extend(self.chain_rules(t, c, prefix, true));
                }
            }
            let both_same = policies.len() == 2 && policies[0].1 == policies[1].1;
            let policy = if both_same && policies[0].1 == rampart_model::ChainPolicy::Drop {
                ChainPolicy::Drop
            } else {
                if !both_same {
                    for (fam, p) in &policies {
                        if *p == rampart_model::ChainPolicy::Drop {
                            rules.push(Rule {
                                stmts: vec![
                                    nfproto(*fam),
                                    Stmt::Counter,
                                    Stmt::Verdict(Verdict::Drop),
                                ],
                                comment: Some(format!(
                                    "{} {} policy DROP",
                                    fam.tool(),
                                    hook.name()
                                )),
                                origin: None,
                                origins: Vec::new(),
                            });
                        }
                    }
                }
                ChainPolicy::Accept
            };
            if rules.is_empty() && policy == ChainPolicy::Accept {
                continue;
            }
            let (ctype, prio) = match kind {
                TableKind::Raw => (ChainType::Filter, Priority::RAW),
                TableKind::Mangle if *hook == rampart_model::Hook::Output => {
                    (ChainType::Route, Priority::MANGLE)
                }
                TableKind::Mangle => (ChainType::Filter, Priority::MANGLE),
                TableKind::Security => (ChainType::Filter, Priority::SECURITY),
                _ => (ChainType::Filter, Priority::FILTER),
            };
            out.push(Chain {
                name: format!("{prefix}{}", hook_of(*hook).name()),
                base: Some(BaseChain {
                    kind: ctype,
                    hook: hook_of(*hook),
                    priority: prio,
                    policy,
                }),
                rules,
            });
        }
        // User chains, merged by name across families.
        let mut users: BTreeMap<String, Vec<Rule>> = BTreeMap::new();
        let mut order = Vec::new();
        for t in &tables {
            for c in t.chains.iter().filter(|c| !t.is_builtin(&c.name)) {
                let rules = self.chain_rules(t, c, prefix, true);
                if !users.contains_key(&c.name) {
                    order.push(c.name.clone());
                }
                users.entry(c.name.clone()).or_default().extend(rules);
            }
        }
        for name in order {
            let rules = users.remove(&name).unwrap_or_default();
            out.push(Chain {
                name: chain_name(prefix, &name),
                base: None,
                rules,
            });
        }
        out
    }

    fn nat_chains(&mut self, t: &rampart_model::Table) -> Vec<Chain> {
        let mut out = Vec::new();
        for c in &t.chains {
            let rules = self.chain_rules(t, c, "", false);
            let base = rampart_model::Hook::from_name(&c.name)
                .filter(|_| t.is_builtin(&c.name))
                .map(|h| {
                    // nft names dstnat/srcnat only at prerouting/postrouting.
                    let prio = match h {
                        rampart_model::Hook::Prerouting => Priority::DSTNAT,
                        rampart_model::Hook::Postrouting => Priority::SRCNAT,
                        rampart_model::Hook::Output => Priority {
                            value: -100,
                            name: None,
                        },
                        _ => Priority {
                            value: 100,
                            name: None,
                        },
                    };
                    BaseChain {
                        kind: ChainType::Nat,
                        hook: hook_of(h),
                        priority: prio,
                        policy: match c.policy {
                            Some(rampart_model::ChainPolicy::Drop) => ChainPolicy::Drop,
                            _ => ChainPolicy::Accept,
                        },
                    }
                });
            if base.is_some_and(|b| b.policy == ChainPolicy::Accept) && rules.is_empty() {
                continue;
            }
            let name = match &base {
                Some(b) => b.hook.name().to_string(),
                None => chain_name("", &c.name),
            };
            out.push(Chain { name, base, rules });
        }
        out
    }

    fn chain_rules(
        &mut self,
        t: &rampart_model::Table,
        c: &rampart_model::Chain,
        prefix: &str,
        guard: bool,
    ) -> Vec<Rule> {
        let mut out = Vec::new();
        for r in &c.rules {
            let rc = RuleCx {
                family: t.family,
                kind: t.kind,
                chain: &c.name,
                rule: r,
                proto: r.protocol.filter(|p| !p.invert).map(|p| p.value),
            };
            out.extend(self.rule(&rc, prefix, guard));
        }
        out
    }

    /// One policy rule → one or more nft rules (more when a match is a
    /// disjunction nft cannot test in one rule).
    fn rule(&mut self, rc: &RuleCx<'_>, prefix: &str, guard: bool) -> Vec<Rule> {
        let r = rc.rule;
        let mut parts: Vec<Part> = Vec::new();
        let mut failed = false;
        if guard {
            parts.push(Part::All(vec![nfproto(rc.family)]));
        }
        match generic(rc) {
            Ok(s) => parts.push(Part::All(s)),
            Err((construct, reason)) => {
                self.err(rc, &construct, reason);
                failed = true;
            }
        }
        let mut comments = Vec::new();
        for mt in &r.matches {
            if let Match::Comment(c) = mt {
                comments.push(c.comment.clone());
                continue;
            }
            let lowered = match mt {
                Match::Hashlimit(h) => self.hashlimit(rc, h),
                Match::Connlimit(c) => self.connlimit(rc, c),
                Match::Recent(x) => self.recent(rc, x),
                _ => lower_match(rc, mt, self.policy),
            };
            match lowered {
                Ok(p) => parts.push(p),
                Err(reason) => {
                    self.err(rc, &format!("-m {}", mt.name()), reason);
                    failed = true;
                }
            }
        }
        let mut tail = vec![Stmt::Counter];
        match r.target.as_ref().map(|tg| match tg {
            Target::SetTarget(st) => self.set_target(rc, st),
            _ => lower_target(rc, tg, prefix),
        }) {
            None => {}
            Some(Ok(s)) => tail.extend(s),
            Some(Err(reason)) => {
                let name = r.target.as_ref().map_or("", |t| t.name());
                self.err(rc, &format!("-j {name}"), reason);
                failed = true;
            }
        }
        let comment = if comments.is_empty() {
            None
        } else {
            let c = comments.join("; ");
            if c.len() > 128 || c.contains('"') || c.contains('\n') {
                self.err(
                    rc,
                    "-m comment",
                    "nft comments hold at most 128 bytes and no double quote",
                );
                failed = true;
            }
            Some(c)
        };
        if failed {
            return Vec::new();
        }
        // Drop `meta l4proto P` when a later payload match of P implies it.
        // Expand alternatives; refuse when a stateful statement would run
        // more than once.
        let mut alts: Vec<Vec<Stmt>> = vec![Vec::new()];
        let mut stateful_seen = false;
        for p in parts {
            match p {
                Part::All(s) => {
                    stateful_seen |= s.iter().any(Stmt::is_stateful);
                    for a in &mut alts {
                        a.extend(s.iter().cloned());
                    }
                }
                Part::OneOf(options) => {
                    if stateful_seen {
                        self.err(
                            rc,
                            "rule",
                            "a disjunction after a stateful match (limit) cannot be split into nft rules without running the limit twice",
                        );
                        return Vec::new();
                    }
                    let mut next = Vec::new();
                    for a in &alts {
                        for o in &options {
                            let mut x = a.clone();
                            x.extend(o.iter().cloned());
                            next.push(x);
                        }
                    }
                    alts = next;
                }
            }
        }
        alts.into_iter()
            .map(|mut stmts| {
                stmts.extend(tail.iter().cloned());
                Rule {
                    stmts,
                    comment: comment.clone(),
                    origin: r.origin.clone(),
                    origins: r.origin.iter().cloned().collect(),
                }
            })
            .collect()
    }
}

/// Stateful matches and targets (hashlimit, connlimit, recent, `-j SET`).
impl Cx<'_> {
    /// Refuses state in the nat tables: nft would keep it apart from the
    /// filter table's, where iptables has one list per name.
    fn stateful_here(rc: &RuleCx<'_>) -> Res<()> {
        if rc.kind == TableKind::Nat {
            Err(
                "in the nat table its state would live apart from the inet table's; not lowered"
                    .into(),
            )
        } else {
            Ok(())
        }
    }

    /// Declares a dynamic set, or checks that an earlier declaration of
    /// the same name agrees.
    fn dyn_set(&mut self, set: Set, what: &str) -> Res<()> {
        match self.dyn_sets.get(&set.name) {
            Some(old) if *old != set => Err(format!(
                "{what} is used with different options by several rules; iptables shares the first rule's table, nft cannot"
            )),
            Some(_) => Ok(()),
            None => {
                self.dyn_sets.insert(set.name.clone(), set);
                Ok(())
            }
        }
    }

    /// `-m hashlimit` → `update @hashlimit.NAME.v4 { KEY limit rate [over] R burst B packets }`
    /// in a set whose timeout is `--hashlimit-htable-expire`: each key
    /// gets its own token bucket, dropped (and later recreated full) after
    /// `expire` without packets, as in `xt_hashlimit`.
    fn hashlimit(&mut self, rc: &RuleCx<'_>, h: &m::hashlimit::Hashlimit) -> Res<Part> {
        Self::stateful_here(rc)?;
        let (rate, burst) = match h.rate {
            m::hashlimit::HashlimitRate::Packets { rate, burst } => (rate, burst),
            m::hashlimit::HashlimitRate::Bytes { .. } => {
                return Err("byte-rate hashlimit (the kernel charges in 16-byte units and rounds the burst to rate-sized chunks) has no exact nft limit".into())
            }
        };
        if h.rate_match.is_some() {
            return Err("--hashlimit-rate-match has no nft equivalent".into());
        }
        if h.mode.is_empty() {
            return Err(
                "hashlimit without --hashlimit-mode (one bucket shared by name) is not lowered"
                    .into(),
            );
        }
        if burst == 0 || burst > u64::from(u32::MAX) {
            return Err(format!("--hashlimit-burst {burst}"));
        }
        if !h.expire.is_multiple_of(1000) || h.expire == 0 {
            return Err(format!(
                "--hashlimit-htable-expire {} ms is not a whole number of seconds",
                h.expire
            ));
        }
        let ipp = ip_proto(rc.family);
        let addr_t = addr_type(rc.family);
        let mut key = Vec::new();
        let mut types = Vec::new();
        for (on, field, mask) in [
            (h.mode.srcip, "saddr", h.srcmask),
            (h.mode.dstip, "daddr", h.dstmask),
        ] {
            if on {
                key.push(masked_addr(Expr::payload(ipp, field), rc.family, mask)?);
                types.push(addr_t);
            }
        }
        for (on, field) in [(h.mode.srcport, "sport"), (h.mode.dstport, "dport")] {
            if on {
                // xt_hashlimit reads ports of tcp/udp/sctp/dccp/udplite only
                // (0 for other protocols); `th` would read any header.
                key.push(Expr::payload(
                    l4(rc, "--hashlimit-mode srcport/dstport")?,
                    field,
                ));
                types.push(KeyType::InetService);
            }
        }
        let name = format!("hashlimit.{}.{}", clean_name(&h.name), fam_tag(rc.family));
        self.dyn_set(
            Set {
                name: name.clone(),
                key: types,
                interval: false,
                timeout_flag: true,
                auto_merge: false,
                timeout: Some(h.expire / 1000),
                size: Some(hashlimit_max(h)),
                elements: Vec::new(),
                dynamic: true,
            },
            &format!("hashlimit table {}", h.name),
        )?;
        Ok(Part::All(vec![Stmt::SetUpdate(SetUpdate {
            op: SetOp::Update,
            set: name,
            key: concat(key),
            timeout: None,
            stmts: vec![Stmt::Limit(Limit {
                rate: rate.count,
                unit: rate_unit(rate.unit),
                // Checked above to fit.
                burst: u32::try_from(burst).unwrap_or(u32::MAX),
                over: h.above,
            })],
        })]))
    }

    /// `-m connlimit` → `add @connlimitN { ip saddr [& MASK] ct count [over] N }`:
    /// one set per rule, as `xt_connlimit` keeps one count tree per rule.
    fn connlimit(&mut self, rc: &RuleCx<'_>, c: &m::connlimit::Connlimit) -> Res<Part> {
        Self::stateful_here(rc)?;
        let field = match c.key {
            m::connlimit::ConnlimitKey::Saddr => "saddr",
            m::connlimit::ConnlimitKey::Daddr => "daddr",
        };
        let key = masked_addr(Expr::payload(ip_proto(rc.family), field), rc.family, c.mask)?;
        let name = format!("connlimit.{}", self.connlimits);
        self.connlimits += 1;
        self.dyn_set(
            Set {
                name: name.clone(),
                key: vec![addr_type(rc.family)],
                interval: false,
                timeout_flag: false,
                auto_merge: false,
                timeout: None,
                size: None,
                elements: Vec::new(),
                dynamic: true,
            },
            "connlimit",
        )?;
        Ok(Part::All(vec![Stmt::SetUpdate(SetUpdate {
            op: SetOp::Add,
            set: name,
            key,
            timeout: None,
            stmts: vec![Stmt::CtCount {
                count: c.limit,
                over: c.above,
            }],
        })]))
    }

    /// `-m recent` → a set of addresses `recent.NAME.v4`. `--set` is
    /// `update @set { ip saddr }`; `--rcheck` a lookup; `--update` a lookup
    /// followed by an update; `--remove` a lookup followed by a delete.
    /// `--seconds S` becomes the set's timeout (each `--set`/`--update`
    /// refreshes it), so every check of one list must use the same S.
    fn recent(&mut self, rc: &RuleCx<'_>, r: &m::recent::Recent) -> Res<Part> {
        use m::recent::RecentCommand as C;
        Self::stateful_here(rc)?;
        if r.hitcount.is_some() {
            return Err("--hitcount counts hits in a sliding window of --seconds; nft set elements keep no hit history (a limit or quota would only approximate it)".into());
        }
        if r.rttl {
            return Err("--rttl (compare the recorded TTL) has no nft equivalent".into());
        }
        let timeout = self
            .recent_plan
            .get(&(r.name.clone(), rc.family))
            .cloned()
            .unwrap_or(Ok(None))?;
        let field = match r.side {
            m::recent::RecentSide::Source => "saddr",
            m::recent::RecentSide::Dest => "daddr",
        };
        let left = Expr::payload(ip_proto(rc.family), field);
        let key = match (r.mask, rc.family) {
            (IpAddr::V4(m), Family::Ipv4) if m == Ipv4Addr::BROADCAST => left,
            (IpAddr::V6(m), Family::Ipv6) if m == Ipv6Addr::from(u128::MAX) => left,
            (m @ IpAddr::V4(_), Family::Ipv4) | (m @ IpAddr::V6(_), Family::Ipv6) => {
                Expr::and(left, Expr::Addr(m))
            }
            _ => return Err("--mask of the other address family".into()),
        };
        let name = format!("recent.{}.{}", clean_name(&r.name), fam_tag(rc.family));
        self.dyn_set(
            Set {
                name: name.clone(),
                key: vec![addr_type(rc.family)],
                interval: false,
                timeout_flag: timeout.is_some(),
                auto_merge: false,
                timeout,
                size: None,
                elements: Vec::new(),
                dynamic: true,
            },
            &format!("recent list {}", r.name),
        )?;
        let lookup = |op| Stmt::cmp(key.clone(), op, Expr::SetRef(name.clone()));
        let change = |op| {
            Stmt::SetUpdate(SetUpdate {
                op,
                set: name.clone(),
                key: key.clone(),
                timeout: None,
                stmts: Vec::new(),
            })
        };
        let inv = r.command.invert;
        Ok(Part::All(match (r.command.value, inv) {
            (C::Set, false) => vec![change(SetOp::Update)],
            (C::Rcheck, _) => vec![lookup(neg_op(inv))],
            (C::Update, false) => vec![lookup(Op::Eq), change(SetOp::Update)],
            (C::Remove, false) => vec![lookup(Op::Eq), change(SetOp::Delete)],
            (c, true) => {
                return Err(format!(
                    "! --{} changes the list and matches on the opposite outcome; not lowered",
                    c.name()
                ))
            }
        }))
    }

    /// `-j SET --add-set/--del-set` → `add|update|delete @set { KEY [timeout T] }`.
    /// `--exist` refreshes the timeout of an element already present
    /// (`update`); without it the element is left alone (`add`).
    fn set_target(&mut self, rc: &RuleCx<'_>, st: &t::set::SetTarget) -> Res<Vec<Stmt>> {
        Self::stateful_here(rc)?;
        if st.map_set.is_some() || st.map_mark || st.map_prio || st.map_queue {
            return Err("--map-set (skb metadata from set elements) has no nft equivalent".into());
        }
        let mut out = Vec::new();
        for (sref, del) in [(&st.add_set, false), (&st.del_set, true)] {
            let Some(sref) = sref else { continue };
            let set = self
                .policy
                .set(&sref.name)
                .ok_or_else(|| format!("set {} is not defined in the policy", sref.name))?;
            if set.family.is_some_and(|f| f != rc.family) {
                return Err(format!(
                    "set {} is of the other address family; the target does nothing",
                    sref.name
                ));
            }
            let lowered = lower_set(set)?;
            if lowered.interval {
                return Err(format!(
                    "set {} holds networks or ranges (an nft interval set), which the packet path cannot change",
                    sref.name
                ));
            }
            let dirs: Vec<bool> = sref
                .dirs
                .iter()
                .map(|d| *d == t::set::SetDir::Src)
                .collect();
            let key = packet_key(rc, set, &dirs)?;
            let timeout = match st.timeout {
                None => None,
                Some(0) => return Err("--timeout 0 (permanent element) in a set with a default timeout has no nft equivalent".into()),
                Some(_) if del => None,
                Some(_) if set.timeout.is_none() => {
                    return Err(format!("--timeout on set {}, which has no timeout support", sref.name))
                }
                Some(t) => Some(t),
            };
            let op = match (del, st.exist) {
                (true, _) => SetOp::Delete,
                (false, true) => SetOp::Update,
                (false, false) => SetOp::Add,
            };
            self.updated_sets.insert(lowered.name.clone());
            out.push(Stmt::SetUpdate(SetUpdate {
                op,
                set: lowered.name,
                key,
                timeout,
                stmts: Vec::new(),
            }));
        }
        if out.is_empty() {
            return Err("-j SET without --add-set or --del-set".into());
        }
        Ok(out)
    }
}

/// The number of keys an `xt_hashlimit` table holds at most, as its
/// `htable_create()` computes it: `--hashlimit-htable-size` 0/unset is
/// derived from memory (8192 buckets on a host with more than 1 GiB of
/// RAM, which rampart assumes), `--hashlimit-htable-max` 0/unset is 8 ×
/// the size, and a max below the size is raised to the size. The nft set
/// gets this as its `size` (without one, the kernel would cap a dynamic
/// set at 65535). What happens when it is full differs; see
/// `docs/nftables-lowering.md`.
fn hashlimit_max(h: &m::hashlimit::Hashlimit) -> u32 {
    const DEFAULT_SIZE: u32 = 8192;
    let size = h.htable_size.filter(|s| *s > 0).unwrap_or(DEFAULT_SIZE);
    match h.htable_max.filter(|m| *m > 0) {
        Some(max) => max.max(size),
        None => size.saturating_mul(8),
    }
}

/// For each recent list and family: the one `--seconds` every check uses
/// (the nft set timeout), `None` when no check has `--seconds`, or why the
/// list's checks disagree.
fn recent_plan(policy: &Policy) -> HashMap<(String, Family), Res<Option<u32>>> {
    use m::recent::RecentCommand as C;
    let mut uses: HashMap<(String, Family), (Vec<u32>, bool)> = HashMap::new();
    for t in policy.tables.iter().filter(|t| t.kind != TableKind::Nat) {
        for r in t.chains.iter().flat_map(|c| &c.rules) {
            for mt in &r.matches {
                let Match::Recent(x) = mt else { continue };
                let e = uses.entry((x.name.clone(), t.family)).or_default();
                match (x.command.value, x.seconds) {
                    (C::Set, _) => {}
                    (C::Rcheck | C::Update, Some(s)) => {
                        if !e.0.contains(&s) {
                            e.0.push(s);
                        }
                    }
                    (C::Rcheck | C::Update, None) | (C::Remove, _) => e.1 = true,
                }
            }
        }
    }
    uses.into_iter()
        .map(|(k, (secs, forever))| {
            let plan = match (secs.as_slice(), forever) {
                ([], _) => Ok(None),
                ([s], false) => Ok(Some(*s)),
                ([s], true) => Err(format!(
                    "recent list {} is checked both with --seconds {s} and without (or with --remove); one nft set timeout cannot serve both",
                    k.0
                )),
                (many, _) => Err(format!(
                    "recent list {} is checked with different --seconds ({many:?}); one nft set timeout cannot serve them all",
                    k.0
                )),
            };
            (k, plan)
        })
        .collect()
}

fn addr_type(f: Family) -> KeyType {
    match f {
        Family::Ipv4 => KeyType::Ipv4Addr,
        Family::Ipv6 => KeyType::Ipv6Addr,
    }
}

fn fam_tag(f: Family) -> &'static str {
    match f {
        Family::Ipv4 => "v4",
        Family::Ipv6 => "v6",
    }
}

/// A name as the middle part of a set name (letters, digits, `_`, `-`).
fn clean_name(n: &str) -> String {
    n.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn concat(mut v: Vec<Expr>) -> Expr {
    if v.len() == 1 {
        v.remove(0)
    } else {
        Expr::Concat(v)
    }
}

/// An address field grouped by a prefix length (`ip saddr & 255.255.255.0`).
fn masked_addr(left: Expr, f: Family, prefix: u8) -> Res<Expr> {
    let width = match f {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    };
    if prefix > width {
        return Err(format!("mask /{prefix} is longer than the address"));
    }
    if prefix == width {
        return Ok(left);
    }
    let ones = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    };
    let mask = match f {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::from((ones >> 96) as u32)),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(ones)),
    };
    Ok(Expr::and(left, Expr::Addr(mask)))
}

fn rate_unit(u: m::limit::RateUnit) -> &'static str {
    match u {
        m::limit::RateUnit::Second => "second",
        m::limit::RateUnit::Minute => "minute",
        m::limit::RateUnit::Hour => "hour",
        m::limit::RateUnit::Day => "day",
    }
}

fn used_sets(chains: &[Chain]) -> HashSet<String> {
    let mut used = HashSet::new();
    for r in chains.iter().flat_map(|c| &c.rules) {
        for s in &r.stmts {
            if let Stmt::Match(Match_ {
                right: Expr::SetRef(n),
                ..
            }) = s
            {
                used.insert(n.clone());
            }
        }
    }
    used
}

use crate::ruleset::Match as Match_;

fn hook_of(h: rampart_model::Hook) -> Hook {
    match h {
        rampart_model::Hook::Prerouting => Hook::Prerouting,
        rampart_model::Hook::Input => Hook::Input,
        rampart_model::Hook::Forward => Hook::Forward,
        rampart_model::Hook::Output => Hook::Output,
        rampart_model::Hook::Postrouting => Hook::Postrouting,
    }
}

/// nft words that cannot be used as bare chain or set names.
const KEYWORDS: &[&str] = &[
    "accept",
    "drop",
    "reject",
    "return",
    "jump",
    "goto",
    "continue",
    "queue",
    "counter",
    "limit",
    "log",
    "comment",
    "meter",
    "set",
    "map",
    "element",
    "elements",
    "table",
    "chain",
    "rule",
    "ip",
    "ip6",
    "inet",
    "arp",
    "bridge",
    "netdev",
    "tcp",
    "udp",
    "icmp",
    "icmpv6",
    "meta",
    "ct",
    "mark",
    "policy",
    "type",
    "hook",
    "priority",
    "filter",
    "nat",
    "route",
    "input",
    "output",
    "forward",
    "prerouting",
    "postrouting",
    "ingress",
    "egress",
    "flags",
    "timeout",
    "size",
    "dnat",
    "snat",
    "masquerade",
    "redirect",
    "notrack",
    "level",
    "prefix",
    "group",
    "rate",
    "over",
    "burst",
    "hash",
    "numgen",
    "fib",
    "rt",
    "socket",
    "osf",
    "tproxy",
    "synproxy",
    "flow",
    "quota",
    "secmark",
    "ether",
    "vlan",
    "sctp",
    "dccp",
    "udplite",
    "esp",
    "ah",
    "comp",
    "th",
    "state",
    "status",
    "direction",
    "zone",
    "label",
    "saddr",
    "daddr",
    "sport",
    "dport",
    "length",
    "protocol",
    "version",
    "define",
    "include",
    "flush",
    "add",
    "delete",
    "create",
    "insert",
    "list",
    "exists",
    "missing",
    "new",
    "established",
    "related",
    "invalid",
    "untracked",
    "to",
    "with",
    "at",
    "and",
    "or",
    "xor",
    "random",
    "persistent",
    "vmap",
    "interval",
    "constant",
    "dynamic",
    "typeof",
    "devices",
    "iif",
    "oif",
    "iifname",
    "oifname",
    "nfproto",
    "l4proto",
    "pkttype",
    "skuid",
    "skgid",
    "packets",
    "bytes",
    "mss",
    "exthdr",
    "dup",
    "fwd",
    "reset",
    "ecn",
    "dscp",
    "original",
    "reply",
    "helper",
    "expiration",
    "raw",
    "mangle",
    "security",
    "srcnat",
    "dstnat",
    "update",
    "describe",
    "import",
    "export",
    "monitor",
    "rename",
    "replace",
    "get",
    "destroy",
    "last",
    "never",
    "all",
    "ipsec",
    "dccp",
];

/// Is `s` a bare nft identifier that is no keyword?
fn is_identifier(s: &str) -> bool {
    let mut ch = s.chars();
    ch.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && ch.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !KEYWORDS.contains(&s)
        && s.len() <= 256
}

/// The nft name of a user chain: the iptables name behind the table prefix;
/// names nft cannot take bare get `u_` in front.
fn chain_name(prefix: &str, name: &str) -> String {
    let n = format!("{prefix}{name}");
    if is_identifier(&n) {
        n
    } else {
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{prefix}u_{clean}")
    }
}

fn nfproto(f: Family) -> Stmt {
    Stmt::eq(
        Expr::Meta(MetaKey::Nfproto),
        Expr::sym(match f {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }),
    )
}

fn neg_op(invert: bool) -> Op {
    if invert {
        Op::Ne
    } else {
        Op::Eq
    }
}

fn ip_proto(f: Family) -> Proto {
    match f {
        Family::Ipv4 => Proto::Ip,
        Family::Ipv6 => Proto::Ip6,
    }
}

fn proto_expr(p: Protocol) -> Expr {
    match p.0 {
        6 => Expr::sym("tcp"),
        17 => Expr::sym("udp"),
        1 => Expr::sym("icmp"),
        58 => Expr::sym("ipv6-icmp"),
        n => Expr::Num(u64::from(n)),
    }
}

/// The comparison of an address field with a network (`ip saddr 10.0.0.0/8`,
/// `ip saddr & 255.0.255.0 == 10.0.12.0`); `None` when it matches everything.
fn net_match(left: Expr, net: &Neg<IpNet>) -> Res<Option<Stmt>> {
    let n = net.value;
    let op = neg_op(net.invert);
    match n.prefix_len() {
        Some(0) if net.invert => Err(format!("! {n} matches no packet")),
        Some(0) => Ok(None),
        Some(p) if p == n.width() => Ok(Some(Stmt::cmp(left, op, Expr::Addr(n.addr())))),
        Some(p) => Ok(Some(Stmt::cmp(left, op, Expr::Prefix(n.addr(), p)))),
        None => Ok(Some(Stmt::cmp(
            Expr::and(left, Expr::Addr(n.mask())),
            op,
            Expr::Addr(n.addr()),
        ))),
    }
}

fn iface_match(key: MetaKey, i: &Neg<rampart_model::Iface>) -> Res<Option<Stmt>> {
    let name = &i.value.0;
    if i.value.matches_all() {
        return if i.invert {
            Err(format!("! {name} matches no packet"))
        } else {
            Ok(None)
        };
    }
    if name.contains(['*', '"', '\\']) {
        return Err(format!(
            "interface name {name:?} has a character nft treats specially"
        ));
    }
    let pat = match name.strip_suffix('+') {
        Some(p) => format!("{p}*"),
        None => name.clone(),
    };
    Ok(Some(Stmt::cmp(
        Expr::Meta(key),
        neg_op(i.invert),
        Expr::Str(pat),
    )))
}

/// `-s -d -i -o -p -f`.
fn generic(rc: &RuleCx<'_>) -> Result<Vec<Stmt>, (String, String)> {
    let r = rc.rule;
    let mut v = Vec::new();
    let ipp = ip_proto(rc.family);
    if let Some(s) = &r.source {
        if let Some(st) = net_match(Expr::payload(ipp, "saddr"), s).map_err(|e| ("-s".into(), e))? {
            v.push(st);
        }
    }
    if let Some(d) = &r.destination {
        if let Some(st) = net_match(Expr::payload(ipp, "daddr"), d).map_err(|e| ("-d".into(), e))? {
            v.push(st);
        }
    }
    if let Some(i) = &r.in_iface {
        if let Some(st) = iface_match(MetaKey::Iifname, i).map_err(|e| ("-i".into(), e))? {
            v.push(st);
        }
    }
    if let Some(o) = &r.out_iface {
        if let Some(st) = iface_match(MetaKey::Oifname, o).map_err(|e| ("-o".into(), e))? {
            v.push(st);
        }
    }
    if let Some(p) = &r.protocol {
        v.push(Stmt::cmp(
            Expr::Meta(MetaKey::L4proto),
            neg_op(p.invert),
            proto_expr(p.value),
        ));
    }
    if let Some(f) = r.fragment {
        if rc.family == Family::Ipv6 {
            return Err(("-f".into(), "-f is IPv4 only".into()));
        }
        v.push(Stmt::cmp(
            Expr::and(Expr::payload(Proto::Ip, "frag-off"), Expr::Hex(0x1fff)),
            if f { Op::Ne } else { Op::Eq },
            Expr::Num(0),
        ));
    }
    Ok(v)
}

fn port_expr(p: PortRange) -> Expr {
    if p.is_single() {
        Expr::Num(u64::from(p.first))
    } else {
        Expr::range(Expr::Num(u64::from(p.first)), Expr::Num(u64::from(p.last)))
    }
}

fn port_match(proto: Proto, field: &'static str, p: &Neg<PortRange>) -> Stmt {
    Stmt::cmp(
        Expr::payload(proto, field),
        neg_op(p.invert),
        port_expr(p.value),
    )
}

/// The header name of the rule's `-p` protocol, for port matches.
fn l4(rc: &RuleCx<'_>, what: &str) -> Res<Proto> {
    Ok(match rc.proto.map(|p| p.0) {
        Some(6) => Proto::Tcp,
        Some(17) => Proto::Udp,
        Some(132) => Proto::Sctp,
        Some(33) => Proto::Dccp,
        Some(136) => Proto::Udplite,
        _ => return Err(format!("{what} needs -p tcp, udp, sctp, dccp or udplite")),
    })
}

const TCP_FLAG_NAMES: [&str; 8] = ["fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"];

fn tcp_flag_list(bits: u8) -> Vec<String> {
    TCP_FLAG_NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| (*n).to_string())
        .collect()
}

fn icmp_name(v6: bool, t: u8) -> Expr {
    let name = if v6 {
        match t {
            1 => "destination-unreachable",
            2 => "packet-too-big",
            3 => "time-exceeded",
            4 => "parameter-problem",
            128 => "echo-request",
            129 => "echo-reply",
            133 => "nd-router-solicit",
            134 => "nd-router-advert",
            135 => "nd-neighbor-solicit",
            136 => "nd-neighbor-advert",
            _ => return Expr::Num(u64::from(t)),
        }
    } else {
        match t {
            0 => "echo-reply",
            3 => "destination-unreachable",
            4 => "source-quench",
            5 => "redirect",
            8 => "echo-request",
            11 => "time-exceeded",
            12 => "parameter-problem",
            _ => return Expr::Num(u64::from(t)),
        }
    };
    Expr::sym(name)
}

fn icmp_match(v6: bool, ty: &Neg<m::icmp::IcmpType>) -> Res<Part> {
    let p = if v6 { Proto::Icmpv6 } else { Proto::Icmp };
    let t = ty.value;
    let tfield = Expr::payload(p, "type");
    let cfield = Expr::payload(p, "code");
    if !v6 && t.icmp_type == 0xff {
        // `any`: every ICMP packet whose header can be read.
        if ty.invert {
            return Err("! --icmp-type any matches no packet".into());
        }
        return Ok(Part::All(vec![Stmt::eq(
            tfield,
            Expr::range(Expr::Num(0), Expr::Num(255)),
        )]));
    }
    let code = if t.code_min == t.code_max {
        Expr::Num(u64::from(t.code_min))
    } else {
        Expr::range(
            Expr::Num(u64::from(t.code_min)),
            Expr::Num(u64::from(t.code_max)),
        )
    };
    let ty_e = icmp_name(v6, t.icmp_type);
    Ok(Part::All(match (t.all_codes(), ty.invert) {
        (true, inv) => vec![Stmt::cmp(tfield, neg_op(inv), ty_e)],
        (false, false) => vec![Stmt::eq(tfield, ty_e), Stmt::eq(cfield, code)],
        (false, true) => vec![Stmt::cmp(
            Expr::Concat(vec![tfield, cfield]),
            Op::Ne,
            Expr::AnonSet(vec![Expr::Concat(vec![
                Expr::Num(u64::from(t.icmp_type)),
                match code {
                    Expr::Num(n) => Expr::range(Expr::Num(n), Expr::Num(n)),
                    c => c,
                },
            ])]),
        )],
    }))
}

fn state_names(s: &m::state::CtStates) -> Vec<String> {
    let mut v = Vec::new();
    for (on, n) in [
        (s.invalid, "invalid"),
        (s.new, "new"),
        (s.related, "related"),
        (s.established, "established"),
        (s.untracked, "untracked"),
    ] {
        if on {
            v.push(n.to_string());
        }
    }
    v
}

/// `--state` / `--ctstate`: the packet's state is in the set, or (SNAT,
/// DNAT) the connection is translated: an OR nft splits into exclusive
/// alternatives.
fn ctstate(states: &Neg<m::state::CtStates>) -> Res<Part> {
    let s = states.value;
    let names = state_names(&s);
    let mut nat = Vec::new();
    if s.snat {
        nat.push("snat".to_string());
    }
    if s.dnat {
        nat.push("dnat".to_string());
    }
    let st = |op| {
        Stmt::cmp(
            Expr::ct(CtKey::State),
            op,
            Expr::AnonSet(names.iter().map(|n| Expr::sym(n.clone())).collect()),
        )
    };
    let status_any = Stmt::cmp(
        Expr::ct(CtKey::Status),
        Op::AnyBit,
        Expr::FlagList(nat.clone()),
    );
    let status_none = Stmt::cmp(
        Expr::and(Expr::ct(CtKey::Status), Expr::Bits(nat.clone())),
        Op::Eq,
        Expr::Num(0),
    );
    Ok(match (names.is_empty(), nat.is_empty(), states.invert) {
        (true, true, _) => return Err("empty state list".into()),
        (false, true, false) => Part::All(vec![Stmt::cmp(
            Expr::ct(CtKey::State),
            Op::AnyBit,
            Expr::FlagList(names.clone()),
        )]),
        (false, true, true) => Part::All(vec![st(Op::Ne)]),
        (true, false, false) => Part::All(vec![status_any]),
        (true, false, true) => Part::All(vec![status_none]),
        (false, false, false) => Part::OneOf(vec![vec![st(Op::Eq)], vec![st(Op::Ne), status_any]]),
        (false, false, true) => Part::All(vec![st(Op::Ne), status_none]),
    })
}

fn conntrack(rc: &RuleCx<'_>, c: &m::conntrack::Conntrack) -> Res<Part> {
    let mut v = Vec::new();
    let mut alt = None;
    let others = c.tests_more_than_state();
    if let Some(s) = &c.state {
        let can_lack_ct = s.value.invalid || s.value.untracked || s.invert;
        if others && can_lack_ct {
            return Err("--ctstate that can match packets without a conntrack entry, combined with other conntrack options (iptables ignores the other options then; nft cannot)".into());
        }
        match ctstate(s)? {
            Part::All(x) => v.extend(x),
            Part::OneOf(o) => alt = Some(o),
        }
    }
    let ipp = ip_proto(rc.family);
    if let Some(d) = c.dir {
        v.push(Stmt::eq(
            Expr::ct(CtKey::Direction),
            Expr::sym(match d {
                m::conntrack::CtDir::Original => "original",
                m::conntrack::CtDir::Reply => "reply",
            }),
        ));
    }
    if let Some(p) = &c.proto {
        v.push(Stmt::cmp(
            Expr::Ct {
                dir: Some(CtDir::Original),
                key: CtKey::Protocol,
            },
            neg_op(p.invert),
            proto_expr(p.value),
        ));
    }
    if let Some(s) = &c.status {
        let st = s.value;
        let mut names = Vec::new();
        for (on, n) in [
            (st.expected, "expected"),
            (st.seen_reply, "seen-reply"),
            (st.assured, "assured"),
            (st.confirmed, "confirmed"),
        ] {
            if on {
                names.push(n.to_string());
            }
        }
        if names.is_empty() {
            return Err("--ctstatus NONE".into());
        }
        v.push(if s.invert {
            Stmt::cmp(
                Expr::and(Expr::ct(CtKey::Status), Expr::Bits(names)),
                Op::Eq,
                Expr::Num(0),
            )
        } else {
            Stmt::cmp(Expr::ct(CtKey::Status), Op::AnyBit, Expr::FlagList(names))
        });
    }
    if let Some(e) = &c.expire {
        // The kernel compares whole seconds (remaining jiffies / HZ); nft
        // compares milliseconds: N s covers N000..=N999 ms.
        let lo = u64::from(e.value.first) * 1000;
        let hi = u64::from(e.value.last) * 1000 + 999;
        v.push(Stmt::cmp(
            Expr::ct(CtKey::Expiration),
            neg_op(e.invert),
            Expr::range(Expr::Millis(lo), Expr::Millis(hi)),
        ));
    }
    for (net, dir, src) in [
        (&c.orig_src, CtDir::Original, true),
        (&c.orig_dst, CtDir::Original, false),
        (&c.repl_src, CtDir::Reply, true),
        (&c.repl_dst, CtDir::Reply, false),
    ] {
        if let Some(n) = net {
            let key = if src {
                CtKey::Saddr(ipp)
            } else {
                CtKey::Daddr(ipp)
            };
            if let Some(st) = net_match(
                Expr::Ct {
                    dir: Some(dir),
                    key,
                },
                n,
            )? {
                v.push(st);
            }
        }
    }
    for (port, dir, src) in [
        (&c.orig_src_port, CtDir::Original, true),
        (&c.orig_dst_port, CtDir::Original, false),
        (&c.repl_src_port, CtDir::Reply, true),
        (&c.repl_dst_port, CtDir::Reply, false),
    ] {
        if let Some(p) = port {
            // nft needs a transport protocol before a tuple port.
            l4(rc, "a conntrack port option")?;
            let key = if src {
                CtKey::ProtoSrc
            } else {
                CtKey::ProtoDst
            };
            v.push(Stmt::cmp(
                Expr::Ct {
                    dir: Some(dir),
                    key,
                },
                neg_op(p.invert),
                port_expr(p.value),
            ));
        }
    }
    Ok(match alt {
        None => Part::All(v),
        Some(o) => Part::OneOf(
            o.into_iter()
                .map(|mut a| {
                    a.extend(v.iter().cloned());
                    a
                })
                .collect(),
        ),
    })
}

fn lower_match(rc: &RuleCx<'_>, mt: &Match, policy: &Policy) -> Res<Part> {
    let v6 = rc.family == Family::Ipv6;
    let one = |s: Stmt| Ok(Part::All(vec![s]));
    match mt {
        Match::Tcp(tcp) => {
            let mut v = Vec::new();
            if let Some(p) = &tcp.sport {
                v.push(port_match(Proto::Tcp, "sport", p));
            }
            if let Some(p) = &tcp.dport {
                v.push(port_match(Proto::Tcp, "dport", p));
            }
            if let Some(f) = &tcp.flags {
                v.push(Stmt::cmp(
                    Expr::and(
                        Expr::payload(Proto::Tcp, "flags"),
                        Expr::Bits(tcp_flag_list(f.value.mask)),
                    ),
                    neg_op(f.invert),
                    match tcp_flag_list(f.value.comp) {
                        l if l.is_empty() => Expr::sym("0x0"),
                        l => Expr::Bits(l),
                    },
                ));
            }
            if let Some(o) = &tcp.option {
                v.push(Stmt::eq(
                    Expr::TcpOptionExists { kind: o.value },
                    Expr::Bool(!o.invert),
                ));
            }
            if v.is_empty() {
                v.push(Stmt::eq(
                    Expr::payload(Proto::Tcp, "sport"),
                    Expr::range(Expr::Num(0), Expr::Num(65535)),
                ));
            }
            Ok(Part::All(v))
        }
        Match::Udp(udp) => {
            let mut v = Vec::new();
            if let Some(p) = &udp.sport {
                v.push(port_match(Proto::Udp, "sport", p));
            }
            if let Some(p) = &udp.dport {
                v.push(port_match(Proto::Udp, "dport", p));
            }
            if v.is_empty() {
                v.push(Stmt::eq(
                    Expr::payload(Proto::Udp, "sport"),
                    Expr::range(Expr::Num(0), Expr::Num(65535)),
                ));
            }
            Ok(Part::All(v))
        }
        Match::Multiport(mp) => {
            let p = l4(rc, "-m multiport")?;
            let set = Expr::AnonSet(mp.ports.value.iter().map(|r| port_expr(*r)).collect());
            let inv = mp.ports.invert;
            Ok(Part::All(match mp.dir {
                m::multiport::MultiportDir::Source => {
                    vec![Stmt::cmp(Expr::payload(p, "sport"), neg_op(inv), set)]
                }
                m::multiport::MultiportDir::Destination => {
                    vec![Stmt::cmp(Expr::payload(p, "dport"), neg_op(inv), set)]
                }
                m::multiport::MultiportDir::Either if inv => vec![
                    Stmt::cmp(Expr::payload(p, "sport"), Op::Ne, set.clone()),
                    Stmt::cmp(Expr::payload(p, "dport"), Op::Ne, set),
                ],
                m::multiport::MultiportDir::Either => {
                    let any = || Expr::range(Expr::Num(0), Expr::Num(65535));
                    let mut elems = Vec::new();
                    for r in &mp.ports.value {
                        elems.push(Expr::Concat(vec![port_expr(*r), any()]));
                        elems.push(Expr::Concat(vec![any(), port_expr(*r)]));
                    }
                    vec![Stmt::eq(
                        Expr::Concat(vec![Expr::payload(p, "sport"), Expr::payload(p, "dport")]),
                        Expr::AnonSet(elems),
                    )]
                }
            }))
        }
        Match::Icmp(i) => icmp_match(false, &i.icmp_type),
        Match::Icmp6(i) => icmp_match(true, &i.icmp_type),
        Match::State(s) => ctstate(&s.states),
        Match::Conntrack(c) => conntrack(rc, c),
        Match::Limit(l) => {
            if l.burst == 0 {
                return Err("--limit-burst 0".into());
            }
            let unit = match l.rate.unit {
                m::limit::RateUnit::Second => "second",
                m::limit::RateUnit::Minute => "minute",
                m::limit::RateUnit::Hour => "hour",
                m::limit::RateUnit::Day => "day",
            };
            one(Stmt::Limit(Limit {
                rate: l.rate.count,
                unit,
                burst: l.burst,
                over: false,
            }))
        }
        Match::SetMatch(s) => set_match(rc, s, policy),
        Match::Iprange(r) => {
            let ipp = ip_proto(rc.family);
            let mut v = Vec::new();
            for (rg, field) in [(&r.src, "saddr"), (&r.dst, "daddr")] {
                if let Some(rg) = rg {
                    if rg.value.first > rg.value.last {
                        return Err(format!("reversed range {} matches no packet", rg.value));
                    }
                    v.push(Stmt::cmp(
                        Expr::payload(ipp, field),
                        neg_op(rg.invert),
                        Expr::range(Expr::Addr(rg.value.first), Expr::Addr(rg.value.last)),
                    ));
                }
            }
            Ok(Part::All(v))
        }
        Match::Mark(mk) => one(mark_match(Expr::Meta(MetaKey::Mark), &mk.mark)),
        Match::Connmark(mk) => one(mark_match(Expr::ct(CtKey::Mark), &mk.mark)),
        Match::Mac(mac) => one(Stmt::cmp(
            Expr::payload(Proto::Ether, "saddr"),
            neg_op(mac.source.invert),
            Expr::Mac(mac.source.value),
        )),
        Match::Length(l) => {
            let r = l.length.value;
            let val = if r.min == r.max {
                Expr::Num(u64::from(r.min))
            } else {
                Expr::range(Expr::Num(u64::from(r.min)), Expr::Num(u64::from(r.max)))
            };
            one(Stmt::cmp(
                Expr::Meta(MetaKey::Length),
                neg_op(l.length.invert),
                val,
            ))
        }
        Match::Ttl(tt) => {
            if v6 {
                return Err("-m ttl is IPv4 only".into());
            }
            one(Stmt::cmp(
                Expr::payload(Proto::Ip, "ttl"),
                cmp_op(tt.op),
                Expr::Num(u64::from(tt.value)),
            ))
        }
        Match::Hl(h) => {
            if !v6 {
                return Err("-m hl is IPv6 only".into());
            }
            one(Stmt::cmp(
                Expr::payload(Proto::Ip6, "hoplimit"),
                cmp_op(h.op),
                Expr::Num(u64::from(h.value)),
            ))
        }
        Match::Pkttype(p) => {
            use m::pkttype::PktType;
            let v = match p.pkt_type.value {
                PktType::Unicast => Expr::sym("host"),
                PktType::Broadcast => Expr::sym("broadcast"),
                PktType::Multicast => Expr::sym("multicast"),
                PktType::Otherhost => Expr::sym("other"),
                PktType::Outgoing => Expr::Num(4),
            };
            one(Stmt::cmp(
                Expr::Meta(MetaKey::Pkttype),
                neg_op(p.pkt_type.invert),
                v,
            ))
        }
        Match::Addrtype(a) => {
            let mut v = Vec::new();
            for (types, daddr) in [(&a.src_type, false), (&a.dst_type, true)] {
                if let Some(ts) = types {
                    let names: Vec<Expr> = ts
                        .value
                        .iter()
                        .map(|t| Expr::sym(t.name().to_ascii_lowercase()))
                        .collect();
                    let right = if names.len() == 1 {
                        names.into_iter().next().unwrap_or(Expr::Num(0))
                    } else {
                        Expr::AnonSet(names)
                    };
                    v.push(Stmt::cmp(
                        Expr::Fib {
                            daddr,
                            iif: a.limit_iface_in,
                            oif: a.limit_iface_out,
                        },
                        neg_op(ts.invert),
                        right,
                    ));
                }
            }
            Ok(Part::All(v))
        }
        Match::Owner(o) => {
            if o.suppl_groups {
                return Err("--suppl-groups has no nft equivalent".into());
            }
            if o.socket_exists.is_some() {
                return Err("--socket-exists has no nft equivalent".into());
            }
            let mut v = Vec::new();
            for (id, key) in [(&o.uid, MetaKey::Skuid), (&o.gid, MetaKey::Skgid)] {
                if let Some(id) = id {
                    if id.invert {
                        return Err("! --uid-owner/--gid-owner also matches packets without a socket; nft's skuid/skgid never do".into());
                    }
                    let r = id.value;
                    let val = if r.first == r.last {
                        Expr::Num(u64::from(r.first))
                    } else {
                        Expr::range(Expr::Num(u64::from(r.first)), Expr::Num(u64::from(r.last)))
                    };
                    v.push(Stmt::eq(Expr::Meta(key), val));
                }
            }
            Ok(Part::All(v))
        }
        Match::Physdev(_) => {
            Err("nftables cannot match bridge ports (physdev) from an ip/inet table".into())
        }
        other => Err(format!(
            "-m {} is not lowered to nftables (yet); no approximation is made",
            other.name()
        )),
    }
}

fn cmp_op(op: m::ttl::CmpOp) -> Op {
    match op {
        m::ttl::CmpOp::Eq => Op::Eq,
        m::ttl::CmpOp::Ne => Op::Ne,
        m::ttl::CmpOp::Lt => Op::Lt,
        m::ttl::CmpOp::Gt => Op::Gt,
    }
}

fn mark_match(left: Expr, mk: &Neg<m::mark::MarkMask>) -> Stmt {
    let v = mk.value;
    let left = if v.mask == u32::MAX {
        left
    } else {
        Expr::and(left, Expr::Hex(v.mask))
    };
    Stmt::cmp(left, neg_op(mk.invert), Expr::Hex(v.value))
}

fn set_match(rc: &RuleCx<'_>, s: &m::set::SetMatch, policy: &Policy) -> Res<Part> {
    if s.return_nomatch {
        return Err("--return-nomatch has no nft equivalent".into());
    }
    if s.packets.is_some() || s.bytes.is_some() {
        return Err("--packets-*/--bytes-* counter conditions have no nft equivalent".into());
    }
    let set = policy
        .set(&s.set)
        .ok_or_else(|| format!("set {} is not defined in the policy", s.set))?;
    if let Some(f) = set.family {
        if f != rc.family {
            return Err(format!(
                "set {} is of the other address family; the match never succeeds",
                s.set
            ));
        }
    }
    let dirs: Vec<bool> = s.dirs.iter().map(|d| *d == m::set::SetDir::Src).collect();
    let left = packet_key(rc, set, &dirs)?;
    Ok(Part::All(vec![Stmt::cmp(
        left,
        neg_op(s.invert),
        Expr::SetRef(nft_set_name(&s.set)),
    )]))
}

/// The packet fields an ipset of this shape is looked up with, one
/// direction (`true`: source) per dimension.
fn packet_key(rc: &RuleCx<'_>, set: &IpSet, dirs: &[bool]) -> Res<Expr> {
    let ipp = ip_proto(rc.family);
    let addr = |src: bool| Expr::payload(ipp, if src { "saddr" } else { "daddr" });
    let port = |src: bool| {
        [
            Expr::Meta(MetaKey::L4proto),
            Expr::payload(Proto::Th, if src { "sport" } else { "dport" }),
        ]
    };
    let mut key = Vec::new();
    let shape = set_shape(set.kind)?;
    if dirs.len() < shape.len() {
        return Err(format!(
            "set {} is given {} direction(s) but has {} dimension(s)",
            set.name,
            dirs.len(),
            shape.len()
        ));
    }
    for (dim, src) in shape.iter().zip(dirs.iter().copied()) {
        match dim {
            Dim::Addr => key.push(addr(src)),
            Dim::Port => key.extend(port(src)),
            Dim::Mac => key.push(Expr::payload(
                Proto::Ether,
                if src { "saddr" } else { "daddr" },
            )),
            // ipset's hash:net,iface: `src` is the input interface.
            Dim::Iface => key.push(Expr::Meta(if src {
                MetaKey::Iifname
            } else {
                MetaKey::Oifname
            })),
        }
    }
    Ok(concat(key))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dim {
    Addr,
    Port,
    Mac,
    Iface,
}

fn set_shape(kind: SetKind) -> Res<Vec<Dim>> {
    Ok(match kind {
        SetKind::HashIp | SetKind::HashNet | SetKind::BitmapIp => vec![Dim::Addr],
        SetKind::HashIpPort | SetKind::HashNetPort => vec![Dim::Addr, Dim::Port],
        SetKind::HashNetIface => vec![Dim::Addr, Dim::Iface],
        SetKind::HashMac => vec![Dim::Mac],
        SetKind::Port => vec![Dim::Port],
        SetKind::Iface => vec![Dim::Iface],
        k => {
            return Err(format!(
                "ipset type {} is not lowered to nftables (yet)",
                k.name()
            ))
        }
    })
}

/// The nft name of an ipset: the same name when it is an nft identifier,
/// else `s_` and the name with other characters replaced by `_`.
pub fn nft_set_name(name: &str) -> String {
    if is_identifier(name) {
        name.to_string()
    } else {
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("s_{clean}")
    }
}

/// An ipset as a named nft set.
fn lower_set(s: &IpSet) -> Res<Set> {
    let shape = set_shape(s.kind)?;
    if s.options.netmask.is_some() {
        return Err("netmask (addresses stored masked) is not lowered".into());
    }
    let addr_t = match s.family {
        Some(Family::Ipv6) => KeyType::Ipv6Addr,
        _ => KeyType::Ipv4Addr,
    };
    let mut key = Vec::new();
    for d in &shape {
        match d {
            Dim::Addr => key.push(addr_t),
            Dim::Port => key.extend([KeyType::InetProto, KeyType::InetService]),
            Dim::Mac => key.push(KeyType::EtherAddr),
            Dim::Iface => key.push(KeyType::Ifname),
        }
    }
    let mut interval = s.kind == SetKind::HashNet || s.kind == SetKind::HashNetPort;
    let mut elements = Vec::new();
    for e in &s.elements {
        if e.nomatch {
            return Err("nomatch elements have no nft equivalent".into());
        }
        if e.timeout == Some(0) {
            return Err("an element with timeout 0 (permanent) in a set with a default timeout has no nft equivalent".into());
        }
        let mut parts = Vec::new();
        for p in &e.parts {
            match p {
                ElemPart::Net(n) => match n.prefix_len() {
                    Some(l) if l == n.width() => parts.push(Expr::Addr(n.addr())),
                    Some(l) => {
                        interval = true;
                        parts.push(Expr::Prefix(n.addr(), l));
                    }
                    None => return Err(format!("element {n} has a non-contiguous mask")),
                },
                ElemPart::Range(a, b) => {
                    interval = true;
                    parts.push(Expr::range(Expr::Addr(*a), Expr::Addr(*b)));
                }
                ElemPart::Port { proto, first, last } => {
                    let pr = proto.unwrap_or(6);
                    if !matches!(pr, 6 | 17 | 132 | 136) {
                        return Err(format!(
                            "element port of protocol {pr} (only tcp, udp, sctp, udplite ports are lowered)"
                        ));
                    }
                    parts.push(proto_expr(Protocol(pr)));
                    if first == last {
                        parts.push(Expr::Num(u64::from(*first)));
                    } else {
                        interval = true;
                        parts.push(Expr::range(
                            Expr::Num(u64::from(*first)),
                            Expr::Num(u64::from(*last)),
                        ));
                    }
                }
                ElemPart::Mac(m) => parts.push(Expr::Mac(*m)),
                ElemPart::Iface(name) => {
                    if name.is_empty()
                        || name.len() > 15
                        || name.contains(|c: char| c == '"' || c == '*' || c.is_control())
                    {
                        return Err(format!("interface name {name:?} cannot be a set element"));
                    }
                    // ipset's `eth+` wildcard is not an exact name.
                    if name.ends_with('+') {
                        return Err(format!(
                            "interface wildcard {name:?} in a set is not lowered"
                        ));
                    }
                    parts.push(Expr::Str(name.clone()));
                }
                other => return Err(format!("element part {other:?} is not lowered")),
            }
        }
        if let Some(c) = &e.comment {
            if c.contains('"') || c.len() > 128 {
                return Err("element comment with a double quote or over 128 bytes".into());
            }
        }
        elements.push(Element {
            key: parts,
            timeout: e.timeout,
            comment: e.comment.clone(),
        });
    }
    let timeout_flag = s.timeout.is_some() || elements.iter().any(|e| e.timeout.is_some());
    // Only single keys: `port` sets are a concatenation in one dimension.
    let single = key.len() == 1;

    Ok(Set {
        name: nft_set_name(&s.name),
        key,
        interval,
        timeout_flag,
        auto_merge: interval && !timeout_flag && single,
        timeout: s.timeout,
        size: s.options.maxelem,
        elements,
        dynamic: false,
    })
}

fn addr_or_range(r: &t::snat::AddrRange) -> Expr {
    if r.is_single() {
        Expr::Addr(r.first)
    } else {
        Expr::range(Expr::Addr(r.first), Expr::Addr(r.last))
    }
}

fn nat_range(rc: &RuleCx<'_>, kind: NatKind, to: &t::snat::NatRange) -> Res<Nat> {
    if to.base_port.is_some() {
        return Err("shifted port mapping (/BASE) is not lowered".into());
    }
    if to.ports.is_some() {
        l4(rc, "a NAT port range")?;
    }
    Ok(Nat {
        kind,
        prefix: false,
        addr: to.addrs.as_ref().map(addr_or_range),
        port: to.ports.map(port_expr),
        flags: Vec::new(),
    })
}

fn reject_stmt(rc: &RuleCx<'_>, r: &t::reject::Reject) -> Res<Stmt> {
    use t::reject::RejectWith::*;
    Ok(Stmt::Reject(match r.with {
        TcpReset => {
            if rc.proto != Some(Protocol::TCP) {
                return Err("--reject-with tcp-reset needs -p tcp".into());
            }
            Reject::TcpReset
        }
        IcmpNetUnreachable => Reject::Icmp("net-unreachable"),
        IcmpHostUnreachable => Reject::Icmp("host-unreachable"),
        IcmpPortUnreachable => Reject::Icmp("port-unreachable"),
        IcmpProtoUnreachable => Reject::Icmp("prot-unreachable"),
        IcmpNetProhibited => Reject::Icmp("net-prohibited"),
        IcmpHostProhibited => Reject::Icmp("host-prohibited"),
        IcmpAdminProhibited => Reject::Icmp("admin-prohibited"),
        Icmp6NoRoute => Reject::Icmpv6("no-route"),
        Icmp6AdmProhibited => Reject::Icmpv6("admin-prohibited"),
        Icmp6AddrUnreachable => Reject::Icmpv6("addr-unreachable"),
        Icmp6PortUnreachable => Reject::Icmpv6("port-unreachable"),
        Icmp6PolicyFail => Reject::Icmpv6("policy-fail"),
        Icmp6RejectRoute => Reject::Icmpv6("reject-route"),
        _ => return Err(format!("--reject-with {}", r.with.name())),
    }))
}

fn check_log_text(s: &str) -> Res<()> {
    if s.contains(['"', '\\', '\n', '$']) {
        Err(format!("log prefix {s:?} has a character nft cannot keep"))
    } else {
        Ok(())
    }
}

fn lower_target(rc: &RuleCx<'_>, tg: &Target, prefix: &str) -> Res<Vec<Stmt>> {
    let v = |s: Stmt| Ok(vec![s]);
    match tg {
        Target::Accept => v(Stmt::Verdict(Verdict::Accept)),
        Target::Drop => v(Stmt::Verdict(Verdict::Drop)),
        Target::Return => v(Stmt::Verdict(Verdict::Return)),
        Target::Jump { chain } => v(Stmt::Verdict(Verdict::Jump(chain_name(prefix, chain)))),
        Target::Goto { chain } => v(Stmt::Verdict(Verdict::Goto(chain_name(prefix, chain)))),
        Target::Queue => v(Stmt::Queue(Queue {
            num: Expr::Num(0),
            bypass: false,
            fanout: false,
        })),
        Target::Reject(r) => Ok(vec![reject_stmt(rc, r)?]),
        Target::Log(l) => {
            let mut flags = Vec::new();
            match (l.tcp_sequence, l.tcp_options) {
                (true, true) => flags.push("tcp sequence,options"),
                (true, false) => flags.push("tcp sequence"),
                (false, true) => flags.push("tcp options"),
                (false, false) => {}
            }
            if l.ip_options {
                flags.push("ip options");
            }
            if l.uid {
                flags.push("skuid");
            }
            if l.macdecode {
                flags.push("ether");
            }
            if let Some(p) = &l.prefix {
                check_log_text(p)?;
            }
            use t::log::LogLevel::*;
            let level = match l.level {
                Warning => None,
                Emerg => Some("emerg"),
                Alert => Some("alert"),
                Crit => Some("crit"),
                Err => Some("err"),
                Notice => Some("notice"),
                Info => Some("info"),
                Debug => Some("debug"),
            };
            v(Stmt::Log(Log {
                prefix: l.prefix.clone(),
                level,
                flags,
                ..Default::default()
            }))
        }
        Target::Nflog(n) => {
            if let Some(p) = &n.prefix {
                check_log_text(p)?;
            }
            v(Stmt::Log(Log {
                prefix: n.prefix.clone(),
                group: Some(n.group),
                snaplen: match n.copy {
                    Some(t::nflog::NflogCopy::Size(s)) => Some(s),
                    // --nflog-range is ignored by the kernel.
                    _ => None,
                },
                queue_threshold: (n.threshold > 1).then_some(n.threshold),
                ..Default::default()
            }))
        }
        Target::Snat(s) => {
            let mut n = nat_range(rc, NatKind::Snat, &s.to)?;
            nat_flags(&mut n, s.random, s.random_fully, s.persistent);
            v(Stmt::Nat(n))
        }
        Target::Dnat(d) => {
            let mut n = nat_range(rc, NatKind::Dnat, &d.to)?;
            nat_flags(&mut n, d.random, false, d.persistent);
            v(Stmt::Nat(n))
        }
        Target::Masquerade(mq) => {
            if mq.to_ports.is_some() {
                l4(rc, "MASQUERADE --to-ports")?;
            }
            let mut n = Nat {
                kind: NatKind::Masquerade,
                prefix: false,
                addr: None,
                port: mq.to_ports.map(port_expr),
                flags: Vec::new(),
            };
            nat_flags(&mut n, mq.random, mq.random_fully, false);
            v(Stmt::Nat(n))
        }
        Target::Redirect(r) => {
            if r.to_ports.is_some() {
                l4(rc, "REDIRECT --to-ports")?;
            }
            let mut n = Nat {
                kind: NatKind::Redirect,
                prefix: false,
                addr: None,
                port: r.to_ports.map(port_expr),
                flags: Vec::new(),
            };
            nat_flags(&mut n, r.random, false, false);
            v(Stmt::Nat(n))
        }
        Target::Netmap(nm) => {
            let kind = match rc.chain {
                "PREROUTING" | "OUTPUT" => NatKind::Dnat,
                "POSTROUTING" | "INPUT" => NatKind::Snat,
                other => {
                    return Err(format!(
                        "NETMAP in user chain {other}: the direction depends on the calling hook"
                    ))
                }
            };
            let p = nm
                .to
                .prefix_len()
                .ok_or("NETMAP --to with a non-contiguous mask")?;
            v(Stmt::Nat(Nat {
                kind,
                prefix: true,
                addr: Some(Expr::Prefix(nm.to.addr(), p)),
                port: None,
                flags: Vec::new(),
            }))
        }
        Target::Nfqueue(q) => v(Stmt::Queue(Queue {
            num: match q.queue {
                t::nfqueue::QueueSpec::Num(n) => Expr::Num(u64::from(n)),
                t::nfqueue::QueueSpec::Balance { first, last } => {
                    Expr::range(Expr::Num(u64::from(first)), Expr::Num(u64::from(last)))
                }
            },
            bypass: q.bypass,
            fanout: q.cpu_fanout,
        })),
        Target::Mark(mk) => v(Stmt::Mangle {
            target: Expr::Meta(MetaKey::Mark),
            value: xmark(Expr::Meta(MetaKey::Mark), mk.value, mk.mask),
        }),
        Target::Connmark(cm) => {
            if cm.shift.is_some() {
                return Err("CONNMARK shifts have no nft equivalent".into());
            }
            use t::connmark::ConnmarkMode::*;
            match cm.mode {
                Set { value, mask } => v(Stmt::Mangle {
                    target: Expr::ct(CtKey::Mark),
                    value: xmark(Expr::ct(CtKey::Mark), value, mask),
                }),
                Save { nfmask, ctmask } if ctmask == u32::MAX => v(Stmt::Mangle {
                    target: Expr::ct(CtKey::Mark),
                    value: masked(Expr::Meta(MetaKey::Mark), nfmask),
                }),
                Restore { nfmask, ctmask } if nfmask == u32::MAX => v(Stmt::Mangle {
                    target: Expr::Meta(MetaKey::Mark),
                    value: masked(Expr::ct(CtKey::Mark), ctmask),
                }),
                _ => Err("--save-mark/--restore-mark that keeps part of the old mark combines two marks, which nft cannot".into()),
            }
        }
        Target::Notrack(_) => v(Stmt::Notrack),
        Target::Ct(ct) => {
            if ct.helper.is_some() {
                return Err("CT --helper is not lowered (yet)".into());
            }
            if ct.timeout.is_some() || !ct.ctevents.is_empty() || !ct.expevents.is_empty() {
                return Err("CT --timeout/--ctevents/--expevents are not lowered".into());
            }
            let mut out = Vec::new();
            if ct.notrack {
                out.push(Stmt::Notrack);
            }
            if let Some(z) = ct.zone {
                let id = match z.id {
                    t::ct::ZoneId::Id(n) => n,
                    t::ct::ZoneId::Mark => return Err("CT --zone mark is not lowered".into()),
                };
                out.push(Stmt::Mangle {
                    target: Expr::Ct {
                        dir: match z.dir {
                            t::ct::ZoneDir::Both => None,
                            t::ct::ZoneDir::Orig => Some(CtDir::Original),
                            t::ct::ZoneDir::Reply => Some(CtDir::Reply),
                        },
                        key: CtKey::Zone,
                    },
                    value: Expr::Num(u64::from(id)),
                });
            }
            Ok(out)
        }
        Target::Tcpmss(mss) => {
            if rc.proto != Some(Protocol::TCP) {
                return Err("TCPMSS needs -p tcp".into());
            }
            v(Stmt::Mangle {
                target: Expr::TcpMaxseg,
                value: match mss {
                    t::tcpmss::Tcpmss::ClampToPmtu => Expr::RtMtu,
                    t::tcpmss::Tcpmss::Set { mss } => Expr::Num(u64::from(*mss)),
                },
            })
        }
        other => Err(format!(
            "-j {} is not lowered to nftables (yet); no approximation is made",
            other.name()
        )),
    }
}

fn nat_flags(n: &mut Nat, random: bool, fully: bool, persistent: bool) {
    if random {
        n.flags.push("random");
    }
    if fully {
        n.flags.push("fully-random");
    }
    if persistent {
        n.flags.push("persistent");
    }
}

/// `(old & !mask) ^ value`, or just `value` when every bit is replaced.
fn xmark(base: Expr, value: u32, mask: u32) -> Expr {
    if mask == u32::MAX {
        Expr::Hex(value)
    } else {
        Expr::AndXor {
            base: Box::new(base),
            and: !mask,
            xor: value,
        }
    }
}

fn masked(e: Expr, mask: u32) -> Expr {
    if mask == u32::MAX {
        e
    } else {
        Expr::and(e, Expr::Hex(mask))
    }
}
