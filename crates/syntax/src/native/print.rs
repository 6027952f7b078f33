//! Model -> native TOML (`rampart convert --to native`).
//!
//! The conversion recognises the shapes the lowering produces: chain
//! policies and the prelude (loopback, established, invalid, ICMP; searched
//! per chain), allow and deny rules by port, source port, address, set,
//! interface, conntrack state, ICMP type and hop limit (with their rate,
//! connection-limit and LOG companions, and REJECT with any reply), sets of addresses, masquerade,
//! SNAT and port forwards. Each candidate is checked by lowering it again
//! and comparing with the model, and the whole result is checked the same
//! way, so a successful conversion always means the same thing as the
//! model. Everything else is reported as [`NotExpressible`] with the rule's
//! origin.

use super::check::{
    self, Addr, Chains, DenyAction, Direction, IcmpPolicy, Ir, Item, LogSpec, Masq, Ping,
    PortForward, Rate, RateLimit, RuleItem, SetDef, SetType, Snat, StateMatch, Unit, Verdict,
};
use super::lower;
use super::sets::{self, Content, MembersBuilder};
use crate::diag::SourceFile;
use rampart_model::matches::conntrack::Conntrack;
use rampart_model::matches::hl::CmpOp;
use rampart_model::matches::icmp::IcmpType;
use rampart_model::matches::limit::RateUnit;
use rampart_model::matches::multiport::MultiportDir;
use rampart_model::matches::set::SetDir;
use rampart_model::targets::reject::RejectWith;
use rampart_model::{
    ChainPolicy, Family, IpNet, IpSet, Match, Origin, Policy, Protocol, Rule, SetElement,
    TableKind, Target,
};
use std::fmt::Write as _;

/// A construct of the model the native format cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotExpressible {
    /// What it is, e.g. "rule in filter INPUT (iptables)".
    pub construct: String,
    /// Why, and what to do instead.
    pub reason: String,
    pub origin: Option<Origin>,
}

impl std::fmt::Display for NotExpressible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(o) = &self.origin {
            write!(f, "{o}: ")?;
        }
        write!(
            f,
            "{} is not expressible in the native format: {}",
            self.construct, self.reason
        )
    }
}

/// The native text of a policy, or every construct that stands in the way.
pub fn to_native(policy: &Policy) -> Result<String, Vec<NotExpressible>> {
    let mut cx = Conv { errs: Vec::new() };
    let ir = cx.convert(policy);
    if !cx.errs.is_empty() {
        return Err(cx.errs);
    }
    let text = print(&ir);
    // The proof: the text lowers to the same model.
    let mut no_files = |p: &str| -> Result<String, String> { Err(format!("no file {p}")) };
    let parsed = super::parse_native_with(
        &SourceFile::new("converted.toml", text.clone()),
        &mut no_files,
    );
    if parsed.diagnostics.has_errors() {
        return Err(vec![NotExpressible {
            construct: "the policy".into(),
            reason: format!(
                "the converted text does not parse (a bug): {}",
                parsed.diagnostics
            ),
            origin: None,
        }]);
    }
    let (got, want) = (normalize(&parsed.value, policy), normalize(policy, policy));
    if got != want {
        return Err(vec![NotExpressible {
            construct: "the policy".into(),
            reason: format!(
                "its rules are not in the order or shape the native format produces: {}",
                first_difference(&got, &want)
            ),
            origin: None,
        }]);
    }
    Ok(text)
}

/// A comparable form: no origins, no counters, tables sorted, families the
/// reference policy lacks dropped, empty tables dropped.
fn normalize(p: &Policy, reference: &Policy) -> Policy {
    let mut p = p.clone();
    p.strip_origins();
    let fams = reference.families();
    p.tables.retain(|t| {
        fams.contains(&t.family)
            && t.chains.iter().any(|c| {
                !c.rules.is_empty()
                    || c.policy.is_some_and(|x| x != ChainPolicy::Accept)
                    || c.policy.is_none()
            })
    });
    for t in &mut p.tables {
        for c in &mut t.chains {
            c.counters = None;
            for r in &mut c.rules {
                r.counters = None;
            }
        }
    }
    p.tables.sort_by_key(|t| (t.family, t.kind));
    p.sets
        .retain(|s| s.family.is_none_or(|f| fams.contains(&f)));
    p.sets.iter_mut().for_each(canonical_set);
    p.sets.sort_by(|a, b| a.name.cmp(&b.name));
    p.sysctls.sort_by(|a, b| a.key.cmp(&b.key));
    p
}

/// Where two normalized policies first differ, for the error message.
fn first_difference(got: &Policy, want: &Policy) -> String {
    for t in &want.tables {
        let where_ = |c: &str| format!("{} {c} ({})", t.kind.name(), t.family.tool());
        let Some(g) = got.table(t.family, t.kind) else {
            return format!(
                "table {} ({}) would be missing",
                t.kind.name(),
                t.family.tool()
            );
        };
        for c in &t.chains {
            let Some(gc) = g.chain(&c.name) else {
                return format!("{} would be missing", where_(&c.name));
            };
            if gc.policy != c.policy {
                return format!("{}: policy would differ", where_(&c.name));
            }
            for (i, r) in c.rules.iter().enumerate() {
                if gc.rules.get(i).is_none_or(|x| !x.same_spec(r)) {
                    return format!(
                        "{} rule {} would be {:?} instead of {:?}",
                        where_(&c.name),
                        i + 1,
                        gc.rules.get(i),
                        r
                    );
                }
            }
            if gc.rules.len() != c.rules.len() {
                return format!(
                    "{} would have {} rules instead of {}",
                    where_(&c.name),
                    gc.rules.len(),
                    c.rules.len()
                );
            }
        }
    }
    if got.tables.len() != want.tables.len() {
        return "the converted policy would have extra tables".into();
    }
    if got.sets != want.sets {
        return "the sets would differ".into();
    }
    if got.sysctls != want.sysctls {
        return "the sysctls would differ".into();
    }
    "unknown".into()
}

struct Conv {
    errs: Vec<NotExpressible>,
}

fn chain_rules<'p>(p: &'p Policy, f: Family, kind: TableKind, chain: &str) -> &'p [Rule] {
    p.table(f, kind)
        .and_then(|t| t.chain(chain))
        .map_or(&[], |c| c.rules.as_slice())
}

impl Conv {
    fn no(
        &mut self,
        construct: impl Into<String>,
        reason: impl Into<String>,
        origin: Option<Origin>,
    ) {
        self.errs.push(NotExpressible {
            construct: construct.into(),
            reason: reason.into(),
            origin,
        });
    }

    fn convert(&mut self, p: &Policy) -> Ir {
        let fams = p.families();
        // Tables and chains the format has no words for.
        for t in &p.tables {
            let tool = t.family.tool();
            for c in &t.chains {
                if !t.is_builtin(&c.name) {
                    let origin = c.rules.first().and_then(|r| r.origin.clone());
                    self.no(
                        format!(
                            "user chain `{}` in {} {} ({tool})",
                            c.name,
                            t.kind.name(),
                            c.name
                        ),
                        "the native format has no user chains; write the rules as allow/deny items",
                        origin,
                    );
                }
            }
            let allowed: &[&str] = match t.kind {
                TableKind::Filter => &["INPUT", "FORWARD", "OUTPUT"],
                TableKind::Nat => &["PREROUTING", "POSTROUTING"],
                _ => &[],
            };
            for c in &t.chains {
                if t.is_builtin(&c.name) && !allowed.contains(&c.name.as_str()) {
                    if let Some(r) = c.rules.first() {
                        self.no(
                            format!("rules in {} {} ({tool})", t.kind.name(), c.name),
                            "the native format writes only filter rules and NAT in PREROUTING/POSTROUTING",
                            r.origin.clone(),
                        );
                    }
                    if c.policy == Some(ChainPolicy::Drop) {
                        self.no(
                            format!("policy DROP of {} {} ({tool})", t.kind.name(), c.name),
                            "only the filter chains take a policy in the native format",
                            None,
                        );
                    }
                }
            }
        }

        // Sets.
        let protect = protect_of(p);
        let sets = self.sets(p, protect.is_some());

        // Defaults from the chain policies.
        let pol = |chain: &str| -> Option<Verdict> {
            let mut v = None;
            for &f in &fams {
                let c = p.table(f, TableKind::Filter).and_then(|t| t.chain(chain));
                let this = match c.and_then(|c| c.policy) {
                    Some(ChainPolicy::Drop) => Verdict::Drop,
                    _ => Verdict::Accept,
                };
                if v.is_some_and(|x| x != this) {
                    return None;
                }
                v = Some(this);
            }
            Some(v.unwrap_or(Verdict::Accept))
        };
        let mut verdicts = [Verdict::Accept; 3];
        for (i, chain) in ["INPUT", "FORWARD", "OUTPUT"].into_iter().enumerate() {
            match pol(chain) {
                Some(v) => verdicts[i] = v,
                None => self.no(
                    format!("the policies of filter {chain}"),
                    "IPv4 and IPv6 differ; the native format sets one policy per direction for both",
                    None,
                ),
            }
        }
        let origin0 = Origin {
            file: String::new(),
            line: 1,
            column: 1,
        };
        let ip_forward = {
            let has = |k: &str| p.sysctls.iter().any(|s| s.key == k && s.value == "1");
            for s in &p.sysctls {
                let known = (s.key == "net.ipv4.ip_forward"
                    || s.key == "net.ipv6.conf.all.forwarding")
                    && s.value == "1";
                if !known {
                    self.no(
                        format!("sysctl {} = {}", s.key, s.value),
                        "the native format sets only the forwarding switches",
                        s.origin.clone(),
                    );
                }
            }
            match (
                has("net.ipv4.ip_forward"),
                has("net.ipv6.conf.all.forwarding"),
            ) {
                (true, true) => Some(true),
                (false, false) => Some(false),
                // One family only: what NAT implies (checked at the end).
                _ => None,
            }
        };
        let mut defaults = check::Defaults {
            input: verdicts[0],
            forward: verdicts[1],
            output: verdicts[2],
            established: Chains::ALL,
            loopback: Chains::ALL,
            drop_invalid: Chains::ALL,
            ip_forward,
            log: None,
            family: match fams.as_slice() {
                [one] => Some(*one),
                _ => None,
            },
            origin: origin0.clone(),
        };
        let mut icmp = IcmpPolicy {
            ping: Ping::Allow,
            rate: check::DEFAULT_PING_RATE,
            burst: check::DEFAULT_PING_BURST,
            essentials: true,
            origin: origin0.clone(),
        };

        // The prelude and the trailing LOG: find the settings whose lowering
        // matches the start (and end) of every chain.
        let mut pings: Vec<(Ping, Rate, u32)> = vec![
            (
                Ping::Allow,
                check::DEFAULT_PING_RATE,
                check::DEFAULT_PING_BURST,
            ),
            (
                Ping::Deny,
                check::DEFAULT_PING_RATE,
                check::DEFAULT_PING_BURST,
            ),
            (
                Ping::None,
                check::DEFAULT_PING_RATE,
                check::DEFAULT_PING_BURST,
            ),
        ];
        for &f in &fams {
            for r in chain_rules(p, f, TableKind::Filter, "INPUT") {
                if let (Some(Match::Limit(l)), Some(Target::Accept)) = (r.matches.get(1), &r.target)
                {
                    if matches!(r.matches.first(), Some(Match::Icmp(_) | Match::Icmp6(_))) {
                        if let Some(rate) = native_rate(l.rate) {
                            pings.push((Ping::RateLimited, rate, l.burst));
                        }
                    }
                }
            }
        }
        let mut logs: Vec<Option<LogSpec>> = vec![None];
        for &f in &fams {
            for chain in ["INPUT", "FORWARD", "OUTPUT"] {
                if let Some(r) = chain_rules(p, f, TableKind::Filter, chain).last() {
                    if let (Some(Target::Log(l)), [Match::Limit(lim)]) =
                        (&r.target, r.matches.as_slice())
                    {
                        if let Some(rate) = native_rate(lim.rate) {
                            let default_prefix =
                                format!("rampart-{}-drop: ", chain.to_ascii_lowercase());
                            let prefix = l.prefix.clone().filter(|x| *x != default_prefix);
                            logs.push(Some(LogSpec {
                                prefix,
                                rate,
                                burst: lim.burst,
                            }));
                        }
                    }
                }
            }
        }
        let mut best: Option<(usize, check::Defaults, IcmpPolicy)> = None;
        // Loopback rules exist only in INPUT and OUTPUT: FORWARD follows.
        let los: Vec<Chains> = Chains::subsets()
            .filter(|c| c.forward == (c.input && c.output))
            .collect();
        for est in Chains::subsets() {
            for &lo in &los {
                for inv in Chains::subsets() {
                    for essentials in [true, false] {
                        for &(ping, rate, burst) in &pings {
                            for log in &logs {
                                let mut d = defaults.clone();
                                d.established = est;
                                d.loopback = lo;
                                d.drop_invalid = inv;
                                d.log = log.clone();
                                let ic = IcmpPolicy {
                                    ping,
                                    rate,
                                    burst,
                                    essentials,
                                    origin: origin0.clone(),
                                };
                                let sk = skeleton(&d, &ic, &sets, &protect);
                                if let Some(s) = prelude_score(&sk, &d, p, &fams) {
                                    if best.as_ref().is_none_or(|(b, _, _)| s > *b) {
                                        best = Some((s, d, ic));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        match best {
            Some((_, d, ic)) => {
                defaults = d;
                icmp = ic;
            }
            None => self.no(
                "the start of the filter chains",
                "no combination of established/loopback/drop_invalid/ICMP settings produces these first rules; the native format always starts each chain with them",
                None,
            ),
        }
        let sk = skeleton(&defaults, &icmp, &sets, &protect);

        // Port forwards from nat PREROUTING, masquerade and SNAT from
        // POSTROUTING.
        let mut forwards: Vec<(PortForward, bool)> = Vec::new();
        let mut masquerade = Vec::new();
        let mut snat = Vec::new();
        for &f in &fams {
            for r in chain_rules(p, f, TableKind::Nat, "PREROUTING") {
                match port_forward_of(r) {
                    Some(pf) => forwards.push((pf, false)),
                    None => self.no(
                        format!("nat PREROUTING rule ({})", f.tool()),
                        "only port forwards (-i IF -p tcp|udp --dport P -j DNAT --to-destination ADDR[:PORT]) are expressible",
                        r.origin.clone(),
                    ),
                }
            }
            for r in chain_rules(p, f, TableKind::Nat, "POSTROUTING") {
                match nat_out_of(r) {
                    Some(NatOut::Masq(m)) => masquerade.push(m),
                    Some(NatOut::Snat(s)) => snat.push(s),
                    None => self.no(
                        format!("nat POSTROUTING rule ({})", f.tool()),
                        "only masquerade and SNAT to one address, by output interface and source, are expressible",
                        r.origin.clone(),
                    ),
                }
            }
        }

        // Items, chain by chain and family by family.
        let mut per_family: Vec<Vec<(Item, Option<Origin>)>> = Vec::new();
        for &f in &fams {
            let mut list = Vec::new();
            for (chain, dir) in [
                ("INPUT", Direction::Input),
                ("OUTPUT", Direction::Output),
                ("FORWARD", Direction::Forward),
            ] {
                let rules = chain_rules(p, f, TableKind::Filter, chain);
                let (pre, post) = sk.parts(f, chain, verdict_of(&defaults, chain));
                let body = if rules.len() >= pre.len() + post.len()
                    && same(&rules[..pre.len()], pre)
                    && same(&rules[rules.len() - post.len()..], post)
                {
                    &rules[pre.len()..rules.len() - post.len()]
                } else {
                    rules
                };
                let mut i = 0;
                while i < body.len() {
                    if dir == Direction::Forward {
                        if let Some(k) = forwards.iter().position(|(pf, used)| {
                            !used && {
                                let fw = lower_items(
                                    &[Item::PortForward(pf.clone())],
                                    &defaults,
                                    &sets,
                                    f,
                                    chain,
                                );
                                body.len() >= i + fw.len()
                                    && !fw.is_empty()
                                    && same(&body[i..i + fw.len()], &fw)
                            }
                        }) {
                            let pf = forwards[k].0.clone();
                            forwards[k].1 = true;
                            i += 1;
                            list.push((Item::PortForward(pf), body[i - 1].origin.clone()));
                            continue;
                        }
                    }
                    match find_item(&body[i..], f, dir, &defaults, &sets) {
                        Some((item, k)) => {
                            list.push((Item::Rule(item), body[i].origin.clone()));
                            i += k;
                        }
                        None => {
                            self.no(
                                format!("rule in filter {chain} ({})", f.tool()),
                                describe_unexpressible(&body[i]),
                                body[i].origin.clone(),
                            );
                            i += 1;
                        }
                    }
                }
            }
            per_family.push(list);
        }
        for (pf, used) in &forwards {
            if !used {
                // A DNAT without the FORWARD accept the format would write:
                // the FORWARD rules (if any) are items of their own.
                let mut pf = pf.clone();
                pf.accept = false;
                let origin = Some(pf.origin.clone());
                per_family.push(vec![(Item::PortForward(pf), origin)]);
            }
        }

        // Merge the IPv4 and IPv6 twins.
        let items = merge_twins(per_family, &fams, &sets, &defaults);
        Ir {
            defaults,
            icmp,
            sets,
            items,
            masquerade,
            snat,
            protect,
        }
    }

    fn sets(&mut self, p: &Policy, protect: bool) -> Vec<SetDef> {
        let mut out: Vec<SetDef> = Vec::new();
        for s in &p.sets {
            // `[protect]`'s ban sets come with it (checked with the prelude).
            if protect && (s.name == check::PROTECT_BAN || s.name == "protect-ban-v6") {
                continue;
            }
            let Some(kind) = sets::native_kind(s.kind) else {
                self.no(
                    format!("set `{}` of type {}", s.name, s.kind.name()),
                    "the native format has sets of addresses, networks, ports, address/network+port pairs and interfaces only (hash:ip, hash:net, hash:ip,port, hash:net,port)",
                    s.origin.clone(),
                );
                continue;
            };
            let mut opts = s.options.clone();
            opts.comment = false;
            if opts != Default::default() {
                self.no(
                    format!("options of set `{}`", s.name),
                    "the native format sets only `timeout` and element comments on sets",
                    s.origin.clone(),
                );
            }
            let elements = match native_elements(kind, s) {
                Ok(e) => e,
                Err(why) => {
                    self.no(
                        format!("an element of set `{}`", s.name),
                        why,
                        s.origin.clone(),
                    );
                    continue;
                }
            };
            if kind.has_addresses() != s.family.is_some() {
                self.no(
                    format!("set `{}`", s.name),
                    "a set of addresses without a family (or ports/interfaces with one)",
                    s.origin.clone(),
                );
                continue;
            }
            // `NAME-v6` beside an IPv4 `NAME` is the IPv6 half of one set.
            if s.family == Some(Family::Ipv6) {
                if let Some(base) = s.name.strip_suffix("-v6") {
                    if let Some(prev) = out
                        .iter_mut()
                        .find(|d| d.name == base && d.families == [Family::Ipv4])
                    {
                        if prev.kind == kind && prev.timeout == s.timeout {
                            prev.families.push(Family::Ipv6);
                            prev.elements.extend(elements);
                            continue;
                        }
                    }
                }
            }
            if s.name.len() > 28
                || !s
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                self.no(
                    format!("set `{}`", s.name),
                    "native set names are 1 to 28 letters, digits, `_` or `-`",
                    s.origin.clone(),
                );
                continue;
            }
            out.push(SetDef {
                name: s.name.clone(),
                kind,
                families: match s.family {
                    Some(f) => vec![f],
                    None => vec![Family::Ipv4, Family::Ipv6],
                },
                timeout: s.timeout,
                elements,
                origin: s.origin.clone().unwrap_or(Origin {
                    file: String::new(),
                    line: 1,
                    column: 1,
                }),
            });
        }
        out
    }
}

/// The elements of a model set as the native format would hold them:
/// aggregated the same way a policy's sets are.
fn native_elements(kind: SetType, s: &IpSet) -> Result<Vec<check::Elem>, String> {
    let mut content = Content::empty(kind);
    let mut plain = MembersBuilder::new(kind);
    for e in &s.elements {
        if e.nomatch {
            return Err("`nomatch` elements are not expressible".into());
        }
        if e.timeout.is_some() && s.timeout.is_none() {
            return Err("an element timeout in a set without a default timeout".into());
        }
        if e.timeout == Some(0) {
            return Err("an element that never expires in a set with timeouts".into());
        }
        let key = sets::key_of_parts(kind, &e.parts).ok_or_else(|| {
            format!(
                "element {:?} does not fit a native \"{}\" set",
                e.parts,
                kind.name()
            )
        })?;
        let k = sets::key_of_elem(&key).ok_or_else(|| format!("element {key:?}"))?;
        if e.timeout.is_none() && e.comment.is_none() {
            plain.push(k);
        } else {
            let mut one = MembersBuilder::new(kind);
            one.push(k);
            content.annotate(one.build(), e.timeout, e.comment.clone(), &key.text());
        }
    }
    content.plain = plain.build();
    let (elements, errors) = content.elements(kind);
    match errors.first() {
        Some(e) => Err(e.clone()),
        None => Ok(elements),
    }
}

/// A model set in the form the native lowering gives it (aggregated), so
/// that sets of the same meaning compare equal.
fn canonical_set(s: &mut IpSet) {
    let Some(kind) = sets::native_kind(s.kind) else {
        return;
    };
    let Ok(elements) = native_elements(kind, s) else {
        return;
    };
    s.elements = elements
        .iter()
        .map(|e| SetElement {
            parts: lower::elem_parts(&e.key),
            timeout: e.timeout,
            comment: e.comment.clone(),
            nomatch: false,
        })
        .collect();
    s.options.comment = s.elements.iter().any(|e| e.comment.is_some());
}

/// The prelude of every filter chain and the trailing LOG of the drop
/// chains that these defaults produce.
struct Skeleton {
    /// Lowered with every chain's policy set to DROP and no LOG.
    prelude: Policy,
    /// Lowered as given.
    real: Policy,
}

fn skeleton(
    d: &check::Defaults,
    icmp: &IcmpPolicy,
    sets: &[SetDef],
    protect: &Option<check::Protect>,
) -> Skeleton {
    let ir = |d: check::Defaults| Ir {
        defaults: d,
        icmp: icmp.clone(),
        sets: sets.to_vec(),
        items: Vec::new(),
        masquerade: Vec::new(),
        snat: Vec::new(),
        protect: protect.clone(),
    };
    let mut all_drop = d.clone();
    all_drop.input = Verdict::Drop;
    all_drop.forward = Verdict::Drop;
    all_drop.output = Verdict::Drop;
    all_drop.log = None;
    Skeleton {
        prelude: lower::lower(&ir(all_drop)),
        real: lower::lower(&ir(d.clone())),
    }
}

impl Skeleton {
    /// (prelude, trailing log) of a chain.
    fn parts(&self, f: Family, chain: &str, verdict: Verdict) -> (&[Rule], &[Rule]) {
        let pre = chain_rules(&self.prelude, f, TableKind::Filter, chain);
        let real = chain_rules(&self.real, f, TableKind::Filter, chain);
        let post = if verdict == Verdict::Drop && real.len() > pre.len() {
            &real[pre.len()..]
        } else {
            &[]
        };
        (pre, post)
    }
}

fn verdict_of(d: &check::Defaults, chain: &str) -> Verdict {
    match chain {
        "INPUT" => d.input,
        "FORWARD" => d.forward,
        _ => d.output,
    }
}

/// How many prelude and LOG rules these defaults explain, or `None` when
/// they contradict the model.
fn prelude_score(sk: &Skeleton, d: &check::Defaults, p: &Policy, fams: &[Family]) -> Option<usize> {
    let mut score = 0usize;
    for &f in fams {
        for chain in ["INPUT", "FORWARD", "OUTPUT"] {
            let verdict = verdict_of(d, chain);
            let rules = chain_rules(p, f, TableKind::Filter, chain);
            if verdict == Verdict::Accept && rules.is_empty() {
                continue;
            }
            let (pre, post) = sk.parts(f, chain, verdict);
            if rules.len() < pre.len() + post.len()
                || !same(&rules[..pre.len()], pre)
                || !same(&rules[rules.len() - post.len()..], post)
            {
                return None;
            }
            score += pre.len() + post.len();
        }
    }
    Some(score)
}

fn same(a: &[Rule], b: &[Rule]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_spec(y))
}

/// Lowers items alone (no prelude) and returns the body rules of `chain`.
fn lower_items(
    items: &[Item],
    d: &check::Defaults,
    sets: &[SetDef],
    f: Family,
    chain: &str,
) -> Vec<Rule> {
    let mut d = d.clone();
    d.established = Chains::NONE;
    d.loopback = Chains::NONE;
    d.drop_invalid = Chains::NONE;
    d.log = None;
    let ir = Ir {
        defaults: d,
        icmp: IcmpPolicy {
            ping: Ping::None,
            rate: check::DEFAULT_PING_RATE,
            burst: check::DEFAULT_PING_BURST,
            essentials: false,
            origin: Origin {
                file: String::new(),
                line: 1,
                column: 1,
            },
        },
        sets: sets.to_vec(),
        items: items.to_vec(),
        masquerade: Vec::new(),
        snat: Vec::new(),
        protect: None,
    };
    let lowered = lower::lower(&ir);
    chain_rules(&lowered, f, TableKind::Filter, chain).to_vec()
}

/// The item whose lowering reproduces the first rules of `body`.
fn find_item(
    body: &[Rule],
    f: Family,
    dir: Direction,
    d: &check::Defaults,
    sets: &[SetDef],
) -> Option<(RuleItem, usize)> {
    let chain = match dir {
        Direction::Input => "INPUT",
        Direction::Output => "OUTPUT",
        Direction::Forward => "FORWARD",
    };
    // Longest first: a rate's accept alone would pass as `excess = "continue"`.
    for k in (1..=body.len().min(6)).rev() {
        let Some(item) = infer(&body[..k], f, dir, sets) else {
            continue;
        };
        let lowered = lower_items(&[Item::Rule(item.clone())], d, sets, f, chain);
        if same(&lowered, &body[..k]) {
            return Some((item, k));
        }
    }
    None
}

/// A guess at the item behind a run of rules (checked by the caller).
fn infer(rules: &[Rule], f: Family, dir: Direction, sets: &[SetDef]) -> Option<RuleItem> {
    let last = rules.last()?;
    let mut item = base_item(last, f, dir, sets)?;
    for r in rules {
        for m in &r.matches {
            match m {
                Match::Connlimit(c) if c.above => item.max_connections = Some(c.limit),
                Match::Hashlimit(h) if !h.above => {
                    if let rampart_model::matches::hashlimit::HashlimitRate::Packets {
                        rate,
                        burst,
                    } = h.rate
                    {
                        item.rate = Some(RateLimit {
                            per_source: true,
                            rate: native_rate(rate)?,
                            burst: u32::try_from(burst).ok()?,
                            drop_excess: true,
                        });
                    }
                }
                Match::Limit(l) if matches!(r.target, Some(Target::Accept)) => {
                    item.rate = Some(RateLimit {
                        per_source: false,
                        rate: native_rate(l.rate)?,
                        burst: l.burst,
                        drop_excess: true,
                    });
                }
                Match::Limit(l) if matches!(r.target, Some(Target::Log(_))) => {
                    let prefix = match &r.target {
                        Some(Target::Log(log)) => log.prefix.clone(),
                        _ => None,
                    };
                    item.log = Some(LogSpec {
                        prefix,
                        rate: native_rate(l.rate)?,
                        burst: l.burst,
                    });
                }
                _ => {}
            }
        }
        if matches!(r.target, Some(Target::Accept)) {
            item.allow = true;
        }
    }
    if let (Some(rl), Some(Target::Accept)) = (&mut item.rate, &last.target) {
        rl.drop_excess = false;
    }
    if !item.allow {
        match &last.target {
            Some(Target::Drop) => item.action = DenyAction::Drop,
            Some(Target::Reject(r)) => {
                item.action = DenyAction::Reject;
                if r.with != RejectWith::default_for(f) {
                    item.reject_with = Some(r.with);
                }
            }
            _ => return None,
        }
    }
    Some(item)
}

/// The item of one rule without its rate, log or connection-limit parts.
fn base_item(r: &Rule, f: Family, dir: Direction, sets: &[SetDef]) -> Option<RuleItem> {
    let neg = |inv: bool| (!inv).then_some(());
    let mut item = RuleItem {
        allow: false,
        action: DenyAction::Drop,
        direction: dir,
        family: Some(f),
        from: Vec::new(),
        to: Vec::new(),
        ins: Vec::new(),
        outs: Vec::new(),
        protocol: None,
        ports: Vec::new(),
        port_sets: Vec::new(),
        rate: None,
        max_connections: None,
        log: None,
        reject_with: None,
        state: None,
        icmp: None,
        hop_limit: None,
        source_port: None,
        comment: None,
        lint_allow: r.lint_allow.clone(),
        origin: Origin {
            file: String::new(),
            line: 1,
            column: 1,
        },
    };
    if r.fragment.is_some() {
        return None;
    }
    if let Some(s) = &r.source {
        neg(s.invert)?;
        item.from.push(Addr::Net(s.value));
    }
    if let Some(s) = &r.destination {
        neg(s.invert)?;
        item.to.push(Addr::Net(s.value));
    }
    if let Some(i) = &r.in_iface {
        neg(i.invert)?;
        item.ins.push(i.value.0.clone());
    }
    if let Some(o) = &r.out_iface {
        neg(o.invert)?;
        item.outs.push(o.value.0.clone());
    }
    let proto = match &r.protocol {
        Some(p) => {
            neg(p.invert)?;
            Some(p.value)
        }
        None => None,
    };
    for m in &r.matches {
        match m {
            Match::Tcp(t)
                if proto == Some(Protocol::TCP) && t.flags.is_none() && t.option.is_none() =>
            {
                if let Some(s) = &t.sport {
                    neg(s.invert)?;
                    item.source_port = Some(s.value);
                }
                if let Some(d) = &t.dport {
                    neg(d.invert)?;
                    item.ports.push((Protocol::TCP, vec![d.value]));
                }
            }
            Match::Udp(u) if proto == Some(Protocol::UDP) => {
                if let Some(s) = &u.sport {
                    neg(s.invert)?;
                    item.source_port = Some(s.value);
                }
                if let Some(d) = &u.dport {
                    neg(d.invert)?;
                    item.ports.push((Protocol::UDP, vec![d.value]));
                }
            }
            Match::Icmp(i) if proto == Some(Protocol::ICMP) && !i.icmp_type.invert => {
                check::icmp_type_str(&i.icmp_type.value, Family::Ipv4)?;
                item.icmp = Some((Family::Ipv4, vec![i.icmp_type.value]));
            }
            Match::Icmp6(i) if proto == Some(Protocol::ICMPV6) && !i.icmp_type.invert => {
                check::icmp_type_str(&i.icmp_type.value, Family::Ipv6)?;
                item.icmp = Some((Family::Ipv6, vec![i.icmp_type.value]));
            }
            Match::Hl(h) if h.op == CmpOp::Eq => item.hop_limit = Some(h.value),
            Match::Conntrack(c) => {
                let st = c.state.filter(|s| !s.invert)?;
                let only_state = Conntrack {
                    state: Some(st),
                    ..Default::default()
                };
                if *c != only_state {
                    return None;
                }
                item.state = Some((st.value, StateMatch::Conntrack));
            }
            Match::State(st) if !st.states.invert => {
                item.state = Some((st.states.value, StateMatch::State));
            }
            Match::Multiport(mp) if mp.dir == MultiportDir::Destination && !mp.ports.invert => {
                let p = proto.filter(|p| *p == Protocol::TCP || *p == Protocol::UDP)?;
                item.ports.push((p, mp.ports.value.clone()));
            }
            Match::SetMatch(s) if !s.invert => {
                // Find the native set behind the ipset name.
                let def = sets
                    .iter()
                    .find(|d| d.ipset_name(f) == s.set && d.families.contains(&f))?;
                let a = Addr::Set(def.name.clone());
                let at = format!("@{}", def.name);
                match (def.kind, s.dirs.as_slice()) {
                    (SetType::Ip | SetType::Net, [SetDir::Src])
                    | (SetType::IpPort | SetType::NetPort, [SetDir::Src, SetDir::Dst]) => {
                        item.from.push(a);
                    }
                    (SetType::Ip | SetType::Net, [SetDir::Dst])
                    | (SetType::IpPort | SetType::NetPort, [SetDir::Dst, SetDir::Dst]) => {
                        item.to.push(a);
                    }
                    (SetType::Port, [SetDir::Dst]) => item.port_sets.push(def.name.clone()),
                    (SetType::Iface, [SetDir::Src]) if dir != Direction::Output => {
                        item.ins.push(at);
                    }
                    (SetType::Iface, [SetDir::Dst]) if dir != Direction::Input => {
                        item.outs.push(at);
                    }
                    _ => return None,
                }
            }
            Match::Comment(c) => item.comment = Some(c.comment.clone()),
            Match::Limit(_) | Match::Hashlimit(_) | Match::Connlimit(_) => {}
            _ => return None,
        }
    }
    if item.ports.is_empty() && item.icmp.is_none() {
        item.protocol = proto;
    }
    Some(item)
}

fn describe_unexpressible(r: &Rule) -> String {
    let names: Vec<&str> = r
        .matches
        .iter()
        .map(Match::name)
        .filter(|n| {
            !matches!(
                *n,
                "tcp"
                    | "udp"
                    | "multiport"
                    | "set"
                    | "comment"
                    | "limit"
                    | "hashlimit"
                    | "connlimit"
                    | "conntrack"
                    | "state"
                    | "icmp"
                    | "icmp6"
                    | "hl"
            )
        })
        .collect();
    let target = r.target.as_ref().map_or("(none)", Target::name);
    if !names.is_empty() {
        format!(
            "the match(es) `{}` have no native equivalent",
            names.join("`, `")
        )
    } else if !matches!(
        r.target,
        Some(Target::Accept | Target::Drop | Target::Reject(_) | Target::Log(_))
    ) {
        format!("the target `{target}` has no native equivalent (allow = ACCEPT, deny = DROP or REJECT)")
    } else {
        format!("the rule (target `{target}`) is not in a shape the native format produces: negations, TCP flags, conntrack options other than --ctstate, ICMP code ranges, a hop-limit test other than equality, hashlimit tables not named rampart-N, or a LOG/limit sequence that differs")
    }
}

fn port_forward_of(r: &Rule) -> Option<PortForward> {
    let Some(Target::Dnat(d)) = &r.target else {
        return None;
    };
    if d.random
        || d.persistent
        || d.to.base_port.is_some()
        || r.destination.is_some()
        || r.out_iface.is_some()
        || r.fragment.is_some()
    {
        return None;
    }
    let addrs = d.to.addrs?;
    if !addrs.is_single() {
        return None;
    }
    let to_port = match d.to.ports {
        Some(p) if p.is_single() => Some(p.first),
        Some(_) => return None,
        None => None,
    };
    let iface = r.in_iface.as_ref().filter(|i| !i.invert)?;
    let proto = r.protocol.filter(|p| !p.invert)?.value;
    let ports = match r.matches.as_slice() {
        [Match::Tcp(t)]
            if proto == Protocol::TCP
                && t.sport.is_none()
                && t.flags.is_none()
                && t.option.is_none() =>
        {
            t.dport.filter(|p| !p.invert)?.value
        }
        [Match::Udp(u)] if proto == Protocol::UDP && u.sport.is_none() => {
            u.dport.filter(|p| !p.invert)?.value
        }
        _ => return None,
    };
    let from = match &r.source {
        Some(s) if !s.invert => vec![s.value],
        Some(_) => return None,
        None => vec![],
    };
    Some(PortForward {
        in_iface: iface.value.0.clone(),
        protocol: proto,
        ports,
        to: addrs.first,
        to_port,
        from,
        accept: true,
        origin: r.origin.clone().unwrap_or(Origin {
            file: String::new(),
            line: 1,
            column: 1,
        }),
    })
}

enum NatOut {
    Masq(Masq),
    Snat(Snat),
}

fn nat_out_of(r: &Rule) -> Option<NatOut> {
    if r.destination.is_some()
        || r.in_iface.is_some()
        || r.protocol.is_some()
        || !r.matches.is_empty()
        || r.fragment.is_some()
    {
        return None;
    }
    let out = r.out_iface.as_ref().filter(|o| !o.invert)?.value.0.clone();
    let from: Vec<IpNet> = match &r.source {
        Some(s) if !s.invert => vec![s.value],
        Some(_) => return None,
        None => vec![],
    };
    let origin = r.origin.clone().unwrap_or(Origin {
        file: String::new(),
        line: 1,
        column: 1,
    });
    match &r.target {
        Some(Target::Masquerade(m)) if *m == Default::default() => {
            Some(NatOut::Masq(Masq { out, from, origin }))
        }
        Some(Target::Snat(s))
            if !s.random
                && !s.random_fully
                && !s.persistent
                && s.to.ports.is_none()
                && s.to.base_port.is_none() =>
        {
            let a = s.to.addrs.filter(|a| a.is_single())?;
            Some(NatOut::Snat(Snat {
                out,
                from,
                to: a.first,
                origin,
            }))
        }
        _ => None,
    }
}

/// The `[protect]` whose lowering the model's `protect: ...` rules look
/// like (its rules carry those comments); the prelude comparison proves it.
fn protect_of(p: &Policy) -> Option<check::Protect> {
    let origin = Origin {
        file: String::new(),
        line: 1,
        column: 1,
    };
    let mut out = check::Protect {
        syn: None,
        new: None,
        conn: None,
        input: false,
        forward: false,
        origin: origin.clone(),
    };
    let mut found = false;
    for f in p.families() {
        for chain in ["INPUT", "FORWARD"] {
            for r in chain_rules(p, f, TableKind::Filter, chain) {
                let note = r.matches.iter().find_map(|m| match m {
                    Match::Comment(c) => c.comment.strip_prefix("protect: "),
                    _ => None,
                });
                let Some(note) = note else {
                    continue;
                };
                found = true;
                if chain == "INPUT" {
                    out.input = true;
                } else {
                    out.forward = true;
                }
                let ban = match &r.target {
                    Some(Target::SetTarget(st)) => st.timeout,
                    _ => None,
                };
                for m in &r.matches {
                    match (note, m) {
                        ("syn_rate" | "new_rate", Match::Hashlimit(h)) => {
                            let rampart_model::matches::hashlimit::HashlimitRate::Packets {
                                rate,
                                burst,
                            } = h.rate
                            else {
                                continue;
                            };
                            let (Some(rate), Ok(burst)) = (native_rate(rate), u32::try_from(burst))
                            else {
                                continue;
                            };
                            let meter = check::Meter {
                                rate,
                                burst,
                                ban,
                                origin: origin.clone(),
                            };
                            if note == "syn_rate" {
                                out.syn = Some(meter);
                            } else {
                                out.new = Some(meter);
                            }
                        }
                        ("connlimit", Match::Connlimit(c)) => {
                            out.conn = Some(check::ConnCap {
                                limit: c.limit,
                                ban,
                                origin: origin.clone(),
                            });
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    found.then_some(out)
}

fn native_rate(r: rampart_model::matches::limit::Rate) -> Option<Rate> {
    let unit = match r.unit {
        RateUnit::Second => Unit::Second,
        RateUnit::Minute => Unit::Minute,
        RateUnit::Hour => Unit::Hour,
        RateUnit::Day => Unit::Day,
    };
    let count = u32::try_from(r.count)
        .ok()
        .filter(|c| (1..=10_000).contains(c))?;
    Some(Rate { count, unit })
}

/// Would this item (family left open) produce rules in `f`?
fn applies(item: &RuleItem, f: Family, sets: &[SetDef]) -> bool {
    if item.only_family().is_some_and(|g| g != f) {
        return false;
    }
    let ok = |l: &[Addr]| {
        l.is_empty()
            || l.iter().any(|a| match a {
                Addr::Net(n) => check::fam(n) == f,
                Addr::Set(s) => sets.iter().any(|d| &d.name == s && d.families.contains(&f)),
            })
    };
    ok(&item.from) && ok(&item.to)
}

/// One item for both families when `a` (IPv4) and `b` (IPv6) are the two
/// halves of it.
fn twin(a: &Item, b: &Item, d: &check::Defaults, sets: &[SetDef]) -> Option<Item> {
    let (Item::Rule(a), Item::Rule(b)) = (a, b) else {
        return None;
    };
    let strip = |r: &RuleItem| {
        let mut r = r.clone();
        r.family = None;
        r.from.clear();
        r.to.clear();
        r
    };
    if strip(a) != strip(b) {
        return None;
    }
    let union = |x: &[Addr], y: &[Addr]| -> Vec<Addr> {
        let mut v = x.to_vec();
        v.extend(y.iter().filter(|e| !x.contains(e)).cloned());
        v
    };
    let mut cand = strip(a);
    cand.from = union(&a.from, &b.from);
    cand.to = union(&a.to, &b.to);
    let chain = match a.direction {
        Direction::Input => "INPUT",
        Direction::Output => "OUTPUT",
        Direction::Forward => "FORWARD",
    };
    let cand = Item::Rule(cand);
    for (f, half) in [(Family::Ipv4, a), (Family::Ipv6, b)] {
        let want = lower_items(&[Item::Rule(half.clone())], d, sets, f, chain);
        let got = lower_items(std::slice::from_ref(&cand), d, sets, f, chain);
        if want.is_empty() || !same(&got, &want) {
            return None;
        }
    }
    Some(cand)
}

/// Joins neighbouring items that one native item would have produced:
/// first port groups of different protocols, then sources.
fn coalesce(list: Vec<(Item, Option<Origin>)>) -> Vec<(Item, Option<Origin>)> {
    let mut out: Vec<(Item, Option<Origin>)> = Vec::new();
    for (item, origin) in list {
        if let (Some((Item::Rule(prev), _)), Item::Rule(cur)) = (out.last_mut(), &item) {
            let mut a = prev.clone();
            let mut b = cur.clone();
            let (pa, pb) = (std::mem::take(&mut a.ports), std::mem::take(&mut b.ports));
            if a == b && !pb.is_empty() && pb.iter().all(|(p, _)| pa.iter().all(|(q, _)| q != p)) {
                prev.ports.extend(pb);
                continue;
            }
        }
        out.push((item, origin));
    }
    let mut merged: Vec<(Item, Option<Origin>)> = Vec::new();
    for (item, origin) in out {
        if let (Some((Item::Rule(prev), _)), Item::Rule(cur)) = (merged.last_mut(), &item) {
            let mut a = prev.clone();
            let mut b = cur.clone();
            let (fa, fb) = (std::mem::take(&mut a.from), std::mem::take(&mut b.from));
            // Keep each item well below the checker's expansion limit
            // (MAX_RULES_PER_ITEM), whatever its ports multiply it by.
            if a == b
                && fb.len() == 1
                && !fa.is_empty()
                && fa.len() < MAX_FROM_PER_ITEM
                && !fa.contains(&fb[0])
            {
                prev.from.extend(fb);
                continue;
            }
        }
        merged.push((item, origin));
    }
    // ICMP types of neighbouring rules that differ in nothing else.
    let mut out: Vec<(Item, Option<Origin>)> = Vec::new();
    for (item, origin) in merged {
        if let (Some((Item::Rule(prev), _)), Item::Rule(cur)) = (out.last_mut(), &item) {
            let single = |r: &RuleItem| {
                r.from.len() <= 1 && r.to.len() <= 1 && r.ins.len() <= 1 && r.outs.len() <= 1
            };
            let mut a = prev.clone();
            let mut b = cur.clone();
            if let (Some((fa, ta)), Some((fb, tb))) = (a.icmp.take(), b.icmp.take()) {
                if a == b && fa == fb && single(&a) && tb.iter().all(|t| !ta.contains(t)) {
                    if let Some((_, types)) = &mut prev.icmp {
                        types.extend(tb);
                    }
                    continue;
                }
            }
        }
        out.push((item, origin));
    }
    out
}

/// How many addresses one converted item lists at most.
const MAX_FROM_PER_ITEM: usize = 256;

fn merge_twins(
    per_family: Vec<Vec<(Item, Option<Origin>)>>,
    fams: &[Family],
    sets: &[SetDef],
    d: &check::Defaults,
) -> Vec<Item> {
    let mut lists = per_family.into_iter().map(coalesce);
    let first = lists.next().unwrap_or_default();
    let second = lists.next().unwrap_or_default();
    let rest: Vec<(Item, Option<Origin>)> = lists.flatten().collect();
    let both = fams.len() == 2;
    // Narrow `family` to what the addresses already say.
    let tidy = |item: Item| -> Item {
        match item {
            Item::Rule(mut r) => {
                if let Some(f) = r.family {
                    let other = if f == Family::Ipv4 {
                        Family::Ipv6
                    } else {
                        Family::Ipv4
                    };
                    r.family = None;
                    if both && applies(&r, other, sets) {
                        r.family = Some(f);
                    }
                }
                Item::Rule(r)
            }
            pf => pf,
        }
    };
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < first.len() || j < second.len() {
        match (first.get(i), second.get(j)) {
            (Some((a, _)), Some((b, _))) if both && twin(a, b, d, sets).is_some() => {
                out.extend(twin(a, b, d, sets));
                i += 1;
                j += 1;
            }
            (Some((a, _)), _) => {
                out.push(tidy(a.clone()));
                i += 1;
            }
            (None, Some((b, _))) => {
                out.push(tidy(b.clone()));
                j += 1;
            }
            (None, None) => break,
        }
    }
    out.extend(rest.into_iter().map(|(i, _)| i));
    out
}

// ---------------------------------------------------------------- printing

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn list(v: &[String]) -> String {
    if v.len() == 1 {
        return q(&v[0]);
    }
    let parts: Vec<String> = v.iter().map(|s| q(s)).collect();
    format!("[{}]", parts.join(", "))
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Accept => "accept",
        Verdict::Drop => "drop",
    }
}

fn log_inline(l: &LogSpec) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &l.prefix {
        parts.push(format!("prefix = {}", q(p)));
    }
    parts.push(format!("rate = {}", q(&l.rate.to_string())));
    parts.push(format!("burst = {}", l.burst));
    format!("{{ {} }}", parts.join(", "))
}

fn addr_str(a: &Addr) -> String {
    match a {
        Addr::Net(n) if n.is_host() => n.addr().to_string(),
        Addr::Net(n) => n.to_string(),
        Addr::Set(s) => format!("@{s}"),
    }
}

fn elem_str(e: &check::Elem) -> String {
    let v = q(&e.key.text());
    if e.timeout.is_none() && e.comment.is_none() {
        return v;
    }
    let mut parts = vec![format!("value = {v}")];
    if let Some(t) = e.timeout {
        parts.push(format!("timeout = {t}"));
    }
    if let Some(c) = &e.comment {
        parts.push(format!("comment = {}", q(c)));
    }
    format!("{{ {} }}", parts.join(", "))
}

fn net_str(n: &IpNet) -> String {
    if n.is_host() {
        n.addr().to_string()
    } else {
        n.to_string()
    }
}

fn ports_str(r: &RuleItem) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (p, ranges) in &r.ports {
        let proto = if *p == Protocol::TCP { "tcp" } else { "udp" };
        for range in ranges {
            if range.is_single() {
                out.push(format!("{}/{proto}", range.first));
            } else {
                out.push(format!("{}-{}/{proto}", range.first, range.last));
            }
        }
    }
    out.extend(r.port_sets.iter().map(|n| format!("@{n}")));
    out
}

fn icmp_str(t: &IcmpType, f: Family) -> String {
    // `base_item` accepts only types `icmp_type_str` can spell.
    check::icmp_type_str(t, f).unwrap_or_else(|| t.icmp_type.to_string())
}

fn print(ir: &Ir) -> String {
    let mut s = String::new();
    let d = &ir.defaults;
    let _ = writeln!(s, "# Converted by rampart from the policy model.\n");
    let _ = writeln!(s, "[defaults]");
    let _ = writeln!(s, "input = {}", q(verdict(d.input)));
    let _ = writeln!(s, "forward = {}", q(verdict(d.forward)));
    let _ = writeln!(s, "output = {}", q(verdict(d.output)));
    let _ = writeln!(s, "loopback = {}", d.loopback.to_toml());
    let _ = writeln!(s, "established = {}", d.established.to_toml());
    let _ = writeln!(s, "drop_invalid = {}", d.drop_invalid.to_toml());
    if let Some(f) = d.ip_forward {
        let _ = writeln!(s, "ip_forward = {f}");
    }
    if let Some(f) = d.family {
        let _ = writeln!(
            s,
            "family = {}",
            q(if f == Family::Ipv4 { "ipv4" } else { "ipv6" })
        );
    }
    if let Some(l) = &d.log {
        let _ = writeln!(s, "log = {}", log_inline(l));
    }
    let _ = writeln!(s, "\n[icmp]");
    match ir.icmp.ping {
        Ping::Allow => {
            let _ = writeln!(s, "ping = \"allow\"");
        }
        Ping::Deny => {
            let _ = writeln!(s, "ping = \"deny\"");
        }
        Ping::RateLimited => {
            let _ = writeln!(s, "ping = \"rate-limited\"");
            let _ = writeln!(s, "ping_rate = {}", q(&ir.icmp.rate.to_string()));
            let _ = writeln!(s, "ping_burst = {}", ir.icmp.burst);
        }
        Ping::None => {
            let _ = writeln!(s, "ping = \"none\"");
        }
    }
    if !ir.icmp.essentials {
        let _ = writeln!(s, "essentials = false");
    }
    if let Some(p) = &ir.protect {
        let _ = writeln!(s, "\n[protect]");
        let ban = |b: Option<u32>| b.map_or(String::new(), |t| format!(", ban = {t}"));
        for (key, m) in [("syn_rate", &p.syn), ("new_rate", &p.new)] {
            if let Some(m) = m {
                let _ = writeln!(
                    s,
                    "{key} = {{ per_source = {}, burst = {}{} }}",
                    q(&m.rate.to_string()),
                    m.burst,
                    ban(m.ban)
                );
            }
        }
        if let Some(c) = &p.conn {
            let _ = writeln!(
                s,
                "connlimit = {{ per_source = {}{} }}",
                c.limit,
                ban(c.ban)
            );
        }
        let chains: Vec<&str> = [(p.input, "\"input\""), (p.forward, "\"forward\"")]
            .into_iter()
            .filter_map(|(on, n)| on.then_some(n))
            .collect();
        let _ = writeln!(s, "chains = [{}]", chains.join(", "));
    }
    for set in &ir.sets {
        let _ = writeln!(s, "\n[sets.{}]", set.name);
        if set.kind != SetType::Net {
            let _ = writeln!(s, "type = {}", q(set.kind.name()));
        }
        if let Some(t) = set.timeout {
            let _ = writeln!(s, "timeout = {t}");
        }
        if set.kind.has_addresses() && set.families.len() == 1 {
            // Pin the family: the elements alone may not say it.
            let fam = if set.families == [Family::Ipv4] {
                "ipv4"
            } else {
                "ipv6"
            };
            let _ = writeln!(s, "family = {}", q(fam));
        }
        let els: Vec<String> = set.elements.iter().map(elem_str).collect();
        if els.len() <= 4 {
            let _ = writeln!(s, "elements = [{}]", els.join(", "));
        } else {
            let _ = writeln!(s, "elements = [");
            for e in &els {
                let _ = writeln!(s, "  {e},");
            }
            let _ = writeln!(s, "]");
        }
    }
    for item in &ir.items {
        match item {
            Item::Rule(r) => {
                let _ = writeln!(s, "\n[[{}]]", if r.allow { "allow" } else { "deny" });
                if r.direction != Direction::Input {
                    let dir = if r.direction == Direction::Output {
                        "output"
                    } else {
                        "forward"
                    };
                    let _ = writeln!(s, "direction = {}", q(dir));
                }
                if let Some(f) = r.family {
                    let _ = writeln!(
                        s,
                        "family = {}",
                        q(if f == Family::Ipv4 { "ipv4" } else { "ipv6" })
                    );
                }
                let ports = ports_str(r);
                if !ports.is_empty() {
                    let _ = writeln!(s, "port = {}", list(&ports));
                }
                if let Some(p) = r.protocol {
                    let name = p.name().map_or_else(|| p.0.to_string(), str::to_string);
                    let _ = writeln!(s, "protocol = {}", q(&name));
                }
                if let Some(sp) = r.source_port {
                    let v = if sp.is_single() {
                        sp.first.to_string()
                    } else {
                        format!("{}-{}", sp.first, sp.last)
                    };
                    let _ = writeln!(s, "source_port = {}", q(&v));
                }
                if let Some((f, types)) = &r.icmp {
                    let key = if *f == Family::Ipv4 { "icmp" } else { "icmpv6" };
                    let v: Vec<String> = types.iter().map(|t| icmp_str(t, *f)).collect();
                    let _ = writeln!(s, "{key} = {}", list(&v));
                }
                if let Some(h) = r.hop_limit {
                    let _ = writeln!(s, "hop_limit = {h}");
                }
                if !r.from.is_empty() {
                    let v: Vec<String> = r.from.iter().map(addr_str).collect();
                    let _ = writeln!(s, "from = {}", list(&v));
                }
                if !r.to.is_empty() {
                    let v: Vec<String> = r.to.iter().map(addr_str).collect();
                    let _ = writeln!(s, "to = {}", list(&v));
                }
                if !r.ins.is_empty() {
                    let _ = writeln!(s, "in = {}", list(&r.ins));
                }
                if !r.outs.is_empty() {
                    let _ = writeln!(s, "out = {}", list(&r.outs));
                }
                if let Some(rl) = &r.rate {
                    let key = if rl.per_source {
                        "per_source"
                    } else {
                        "global"
                    };
                    let excess = if rl.drop_excess {
                        ""
                    } else {
                        ", excess = \"continue\""
                    };
                    let _ = writeln!(
                        s,
                        "rate = {{ {key} = {}, burst = {}{excess} }}",
                        q(&rl.rate.to_string()),
                        rl.burst
                    );
                }
                if let Some(m) = r.max_connections {
                    let _ = writeln!(s, "max_connections = {m}");
                }
                if let Some(l) = &r.log {
                    let _ = writeln!(s, "log = {}", log_inline(l));
                }
                if let Some((states, how)) = &r.state {
                    let v: Vec<String> = states
                        .names()
                        .iter()
                        .map(|n| n.to_ascii_lowercase())
                        .collect();
                    let _ = writeln!(s, "state = {}", list(&v));
                    if *how == StateMatch::State {
                        let _ = writeln!(s, "state_match = \"state\"");
                    }
                }
                if !r.allow && r.action == DenyAction::Reject {
                    let _ = writeln!(s, "action = \"reject\"");
                    if let Some(w) = r.reject_with {
                        let _ = writeln!(s, "reject_with = {}", q(w.name()));
                    }
                }
                if let Some(c) = &r.comment {
                    let _ = writeln!(s, "comment = {}", q(c));
                }
                if !r.lint_allow.is_empty() {
                    let codes: Vec<String> = r.lint_allow.iter().map(|c| q(c)).collect();
                    let _ = writeln!(s, "lint = {{ allow = [{}] }}", codes.join(", "));
                }
            }
            Item::PortForward(pf) => {
                let _ = writeln!(s, "\n[[nat.forward]]");
                let _ = writeln!(s, "in = {}", q(&pf.in_iface));
                let proto = if pf.protocol == Protocol::TCP {
                    "tcp"
                } else {
                    "udp"
                };
                let range = if pf.ports.is_single() {
                    pf.ports.first.to_string()
                } else {
                    format!("{}-{}", pf.ports.first, pf.ports.last)
                };
                let _ = writeln!(s, "port = {}", q(&format!("{range}/{proto}")));
                let to = match (pf.to, pf.to_port) {
                    (std::net::IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
                    (a, Some(p)) => format!("{a}:{p}"),
                    (a, None) => a.to_string(),
                };
                let _ = writeln!(s, "to = {}", q(&to));
                if !pf.from.is_empty() {
                    let v: Vec<String> = pf.from.iter().map(net_str).collect();
                    let _ = writeln!(s, "from = {}", list(&v));
                }
                if !pf.accept {
                    let _ = writeln!(s, "accept = false");
                }
            }
        }
    }
    for m in &ir.masquerade {
        let _ = writeln!(s, "\n[[nat.masquerade]]");
        let _ = writeln!(s, "out = {}", q(&m.out));
        if !m.from.is_empty() {
            let v: Vec<String> = m.from.iter().map(net_str).collect();
            let _ = writeln!(s, "from = {}", list(&v));
        }
    }
    for n in &ir.snat {
        let _ = writeln!(s, "\n[[nat.snat]]");
        let _ = writeln!(s, "out = {}", q(&n.out));
        if !n.from.is_empty() {
            let v: Vec<String> = n.from.iter().map(net_str).collect();
            let _ = writeln!(s, "from = {}", list(&v));
        }
        let _ = writeln!(s, "to = {}", q(&n.to.to_string()));
    }
    s
}
