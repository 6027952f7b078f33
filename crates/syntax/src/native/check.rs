//! From the serde shape ([`ast`]) to the checked intermediate form
//! ([`Ir`]): loads includes and set files, resolves services, ports,
//! addresses, sets, rates and durations, and reports every semantic error of
//! every file as a located diagnostic.

use super::ast::{self, StrList, StrOrInt};
use super::catalogue;
use super::load::{self, Loader};
use crate::diag::{Diagnostics, SourceFile, Span};
use rampart_model::matches::icmp::IcmpType;
use rampart_model::matches::state::CtStates;
use rampart_model::targets::reject::RejectWith;
use rampart_model::{Family, IpNet, Origin, PortRange, Protocol};
use std::net::IpAddr;
use toml::Spanned;

pub(crate) use super::sets::{Elem, ElemKey};

use super::sets::{self as setx, Content, MembersBuilder, Op};
pub(crate) use ast::{DenyAction, Direction, Ping, SetType, StateMatch, Verdict};

/// Limits that keep hostile input from exhausting memory.
const MAX_INCLUDE_DEPTH: usize = 16;
const MAX_FILES: usize = 256;
/// Rules one `[[allow]]`/`[[deny]]` item may expand to (lists multiply).
pub(crate) const MAX_RULES_PER_ITEM: usize = 4096;
/// The kernel's limit on a LOG prefix.
const MAX_LOG_PREFIX: usize = 29;
/// ipset names are at most 31 bytes; `-v6` is appended for IPv6 twins.
const MAX_SET_NAME: usize = 28;
/// nft's limit on an element comment.
const MAX_ELEMENT_COMMENT: usize = 128;

/// The checked policy, ready to lower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ir {
    pub defaults: Defaults,
    pub icmp: IcmpPolicy,
    pub sets: Vec<SetDef>,
    pub items: Vec<Item>,
    pub masquerade: Vec<Masq>,
    pub snat: Vec<Snat>,
    /// `[protect]` (main file only).
    pub protect: Option<Protect>,
}

/// `[protect]`: per-source meters and a connection limit the kernel
/// enforces by itself, banning offenders into [`PROTECT_BAN`] sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Protect {
    pub syn: Option<Meter>,
    pub new: Option<Meter>,
    pub conn: Option<ConnCap>,
    pub input: bool,
    pub forward: bool,
    pub origin: Origin,
}

/// A per-source rate over which packets are dropped (and the source
/// banned for `ban` seconds when set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meter {
    pub rate: Rate,
    pub burst: u32,
    pub ban: Option<u32>,
    pub origin: Origin,
}

/// TCP connections per source over which new ones are refused (and the
/// source banned for `ban` seconds when set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnCap {
    pub limit: u32,
    pub ban: Option<u32>,
    pub origin: Origin,
}

/// The ban set of `[protect]` (IPv4; IPv6 is `protect-ban-v6`).
pub(crate) const PROTECT_BAN: &str = "protect-ban";
/// hashlimit names of the `[protect]` meters.
pub(crate) const PROTECT_SYN: &str = "protect-syn";
pub(crate) const PROTECT_NEW: &str = "protect-new";
/// Entries of each ban set (the kernel's `size`): past it new offenders
/// are still dropped by their meter but not banned.
pub(crate) const PROTECT_BAN_SIZE: u32 = 1 << 20;

impl Protect {
    /// The longest ban (the ban sets' default timeout), `None` when no
    /// limit bans.
    pub fn max_ban(&self) -> Option<u32> {
        [
            self.syn.as_ref().and_then(|m| m.ban),
            self.new.as_ref().and_then(|m| m.ban),
            self.conn.as_ref().and_then(|c| c.ban),
        ]
        .into_iter()
        .flatten()
        .max()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Defaults {
    pub input: Verdict,
    pub forward: Verdict,
    pub output: Verdict,
    pub established: Chains,
    pub loopback: Chains,
    pub drop_invalid: Chains,
    /// `Some(true)`: always set the forwarding sysctls; `Some(false)`: never;
    /// `None`: when NAT or port forwards need them.
    pub ip_forward: Option<bool>,
    pub log: Option<LogSpec>,
    /// `Some(f)`: the policy is for one family only (no tables of the other).
    pub family: Option<Family>,
    pub origin: Origin,
}

/// The filter chains a prelude rule goes to (`true` = all three).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chains {
    pub input: bool,
    pub forward: bool,
    pub output: bool,
}

impl Chains {
    pub const ALL: Chains = Chains {
        input: true,
        forward: true,
        output: true,
    };
    pub const NONE: Chains = Chains {
        input: false,
        forward: false,
        output: false,
    };

    /// Whether the chain (`INPUT`, `FORWARD`, `OUTPUT`) is in the set.
    pub fn has(self, chain: &str) -> bool {
        match chain {
            "INPUT" => self.input,
            "FORWARD" => self.forward,
            "OUTPUT" => self.output,
            _ => false,
        }
    }

    /// Every subset: `ALL`, `NONE`, then one chain, then two.
    pub fn subsets() -> impl Iterator<Item = Chains> {
        [7u8, 0, 4, 2, 1, 6, 5, 3].into_iter().map(|b| Chains {
            input: b & 4 != 0,
            forward: b & 2 != 0,
            output: b & 1 != 0,
        })
    }

    /// The native spelling: `true`, `false` or `["input", ..]`.
    pub fn to_toml(self) -> String {
        if self == Chains::ALL {
            return "true".into();
        }
        if self == Chains::NONE {
            return "false".into();
        }
        let names: Vec<&str> = [
            (self.input, "\"input\""),
            (self.forward, "\"forward\""),
            (self.output, "\"output\""),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| n)
        .collect();
        format!("[{}]", names.join(", "))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IcmpPolicy {
    pub ping: Ping,
    pub rate: Rate,
    pub burst: u32,
    /// Accept the ICMP error and neighbour-discovery types (default true).
    pub essentials: bool,
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Unit {
    Second,
    Minute,
    Hour,
    Day,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Second => "second",
            Unit::Minute => "minute",
            Unit::Hour => "hour",
            Unit::Day => "day",
        }
    }
}

/// `N/unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    pub count: u32,
    pub unit: Unit,
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.count, self.unit.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogSpec {
    pub prefix: Option<String>,
    pub rate: Rate,
    pub burst: u32,
}

impl LogSpec {
    pub const DEFAULT_RATE: Rate = Rate {
        count: 5,
        unit: Unit::Minute,
    };
    pub const DEFAULT_BURST: u32 = 5;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetDef {
    pub name: String,
    pub kind: SetType,
    /// The families it holds (one or both), in order v4, v6; both for sets
    /// without addresses (ports, interfaces), which serve both families.
    pub families: Vec<Family>,
    pub timeout: Option<u32>,
    /// Aggregated: the fewest elements with the same meaning.
    pub elements: Vec<Elem>,
    pub origin: Origin,
}

impl SetDef {
    /// The ipset name for a family: `NAME`, or `NAME-v6` for the IPv6 half
    /// of a set holding both families.
    pub fn ipset_name(&self, family: Family) -> String {
        ipset_name(
            &self.name,
            family,
            self.kind.has_addresses() && self.families.len() > 1,
        )
    }
}

/// A set between its own part and the algebra.
struct PendingSet {
    name: String,
    file: usize,
    /// `None`: no `type`, no elements of its own: the first named set's.
    kind: Option<SetType>,
    family: Option<(Family, Span)>,
    timeout: Option<u32>,
    content: Content,
    refs: Vec<(Op, String, Span)>,
    elements_span: Option<Span>,
    def_span: Span,
    origin: Origin,
}

pub(crate) fn ipset_name(name: &str, family: Family, both: bool) -> String {
    if both && family == Family::Ipv6 {
        format!("{name}-v6")
    } else {
        name.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Addr {
    Net(IpNet),
    Set(String),
}

// A policy has a few hundred items at most: boxing the rule would buy
// nothing but churn in every match on `Item`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    Rule(RuleItem),
    PortForward(PortForward),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleItem {
    pub allow: bool,
    pub action: DenyAction,
    pub direction: Direction,
    pub family: Option<Family>,
    pub from: Vec<Addr>,
    pub to: Vec<Addr>,
    pub ins: Vec<String>,
    pub outs: Vec<String>,
    /// A protocol without ports (`protocol = "gre"`).
    pub protocol: Option<Protocol>,
    /// Destination ports, grouped by protocol in first-seen order.
    pub ports: Vec<(Protocol, Vec<PortRange>)>,
    /// Sets of ports (`port = "@web"`), looked up with the destination port.
    pub port_sets: Vec<String>,
    pub rate: Option<RateLimit>,
    pub max_connections: Option<u32>,
    pub log: Option<LogSpec>,
    /// `reject_with` of a reject rule (`None`: the family's default).
    pub reject_with: Option<RejectWith>,
    /// Conntrack states (`state = ["new"]`) and the match that carries them.
    pub state: Option<(CtStates, StateMatch)>,
    /// ICMP (IPv4) or ICMPv6 types; the rule is of that family only.
    pub icmp: Option<(Family, Vec<IcmpType>)>,
    /// `-m hl --hl-eq N` (IPv6 only).
    pub hop_limit: Option<u8>,
    /// One source port or range, for every protocol of the rule.
    pub source_port: Option<PortRange>,
    pub comment: Option<String>,
    /// Lint codes silenced for this item's rules (`lint = { allow = [..] }`).
    pub lint_allow: Vec<String>,
    pub origin: Origin,
}

/// The codes of `rampart lint` (rampart-analyze's `Code`, which checks
/// that the two lists agree), for `lint = { allow = [...] }`.
pub const LINT_CODES: [(&str, &str); 9] = [
    ("R001", "shadowed"),
    ("R002", "redundant"),
    ("R003", "unreachable-chain"),
    ("R004", "after-terminal"),
    ("R005", "unused-set"),
    ("R006", "ipv6-open"),
    ("R007", "exposed-admin-port"),
    ("R008", "no-established"),
    ("R009", "ssh-unreachable"),
];

impl RuleItem {
    /// The only family the rule's own keys allow (ICMP types, hop limit,
    /// an ICMP reject type, `family`), if any.
    pub fn only_family(&self) -> Option<Family> {
        self.family
            .or(self.icmp.as_ref().map(|(f, _)| *f))
            .or(self.hop_limit.map(|_| Family::Ipv6))
            .or(self.reject_with.and_then(RejectWith::family))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateLimit {
    pub per_source: bool,
    pub rate: Rate,
    pub burst: u32,
    /// Drop what exceeds the rate (`excess = "drop"`, the default); `false`
    /// leaves it to the following rules.
    pub drop_excess: bool,
}

impl RateLimit {
    pub const DEFAULT_BURST: u32 = 5;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortForward {
    pub in_iface: String,
    pub protocol: Protocol,
    pub ports: PortRange,
    pub to: IpAddr,
    pub to_port: Option<u16>,
    pub from: Vec<IpNet>,
    /// Add the FORWARD accept (default true).
    pub accept: bool,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Masq {
    pub out: String,
    pub from: Vec<IpNet>,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snat {
    pub out: String,
    pub from: Vec<IpNet>,
    pub to: IpAddr,
    pub origin: Origin,
}

/// One loaded file with its parsed content.
struct Loaded {
    file: SourceFile,
    ast: ast::File,
}

/// Loads, parses and checks a policy and everything it includes.
pub(crate) fn check(main: &SourceFile, loader: &mut dyn Loader) -> (Ir, Diagnostics) {
    let mut cx = Cx {
        loader,
        files: Vec::new(),
        diags: Diagnostics::default(),
    };
    let mut stack = vec![main.path.clone()];
    cx.load(main.clone(), &mut stack);
    let ir = cx.build();
    (ir, cx.diags)
}

struct Cx<'l> {
    loader: &'l mut dyn Loader,
    /// Post-order: included files before the file that includes them.
    files: Vec<Loaded>,
    diags: Diagnostics,
}

fn span<T>(s: &Spanned<T>) -> Span {
    let r = s.span();
    Span::new(r.start, r.end)
}

impl Cx<'_> {
    fn load(&mut self, file: SourceFile, stack: &mut Vec<String>) {
        let ast = match toml::from_str::<ast::File>(&file.text) {
            Ok(a) => a,
            Err(e) => {
                let sp = e
                    .span()
                    .map_or(Span::new(0, 0), |r| Span::new(r.start, r.end));
                let msg = e.message().trim_end().replace('\n', ": ");
                let d = file.error(sp, msg);
                let d = match unknown_key_help(e.message()) {
                    Some(h) => d.with_help(h),
                    None => d,
                };
                self.diags.push(d);
                return;
            }
        };
        if let Some(inc) = &ast.include {
            for (pat, sp) in items(inc) {
                if stack.len() > MAX_INCLUDE_DEPTH {
                    self.diags.push(file.error(
                        sp,
                        format!("includes nest deeper than {MAX_INCLUDE_DEPTH} files"),
                    ));
                    break;
                }
                let resolved = load::resolve(&file.path, pat);
                let paths = match load::expand(self.loader, &resolved) {
                    Ok(p) => p,
                    Err(e) => {
                        self.diags
                            .push(file.error(sp, format!("cannot include `{pat}`: {e}")));
                        continue;
                    }
                };
                for path in paths {
                    if stack.contains(&path) {
                        let mut chain = stack.clone();
                        chain.push(path.clone());
                        self.diags
                            .push(file.error(sp, format!("include cycle: {}", chain.join(" -> "))));
                        continue;
                    }
                    if self.files.len() >= MAX_FILES {
                        self.diags
                            .push(file.error(sp, format!("more than {MAX_FILES} included files")));
                        return;
                    }
                    match self.loader.read(&path) {
                        Ok(text) => {
                            stack.push(path.clone());
                            self.load(SourceFile::new(path, text), stack);
                            stack.pop();
                        }
                        Err(e) => self
                            .diags
                            .push(file.error(sp, format!("cannot read `{path}`: {e}"))),
                    }
                }
            }
        }
        self.files.push(Loaded { file, ast });
    }

    fn err(&mut self, file: &SourceFile, sp: Span, msg: impl Into<String>) {
        self.diags.push(file.error(sp, msg));
    }

    fn err_help(&mut self, file: &SourceFile, sp: Span, msg: impl Into<String>, help: &str) {
        self.diags.push(file.error(sp, msg).with_help(help));
    }

    fn build(&mut self) -> Ir {
        let files = std::mem::take(&mut self.files);
        let main_idx = files.len().saturating_sub(1);
        let mut defaults = None;
        let mut icmp = None;
        let mut protect = None;
        // Defaults, ICMP policy and protection: main file only.
        for (i, l) in files.iter().enumerate() {
            if let Some(p) = &l.ast.protect {
                if i == main_idx {
                    protect = self.protect(&l.file, p);
                } else {
                    self.err_help(
                        &l.file,
                        span(p),
                        "`[protect]` in an included file",
                        "only the main policy file may set the flood protection",
                    );
                }
            }
            if let Some(d) = &l.ast.defaults {
                if i == main_idx {
                    defaults = Some(self.defaults(&l.file, d));
                } else {
                    self.err_help(
                        &l.file,
                        span(d),
                        "`[defaults]` in an included file",
                        "only the main policy file may set the defaults",
                    );
                }
            }
            if let Some(c) = &l.ast.icmp {
                if i == main_idx {
                    icmp = Some(self.icmp(&l.file, c));
                } else {
                    self.err_help(
                        &l.file,
                        span(c),
                        "`[icmp]` in an included file",
                        "only the main policy file may set the ICMP policy",
                    );
                }
            }
        }
        let start = files.get(main_idx).map_or_else(
            || Origin {
                file: String::new(),
                line: 1,
                column: 1,
            },
            |l| l.file.origin(Span::new(0, 0)),
        );
        let defaults = defaults.unwrap_or_else(|| Defaults {
            input: Verdict::Drop,
            forward: Verdict::Drop,
            output: Verdict::Accept,
            established: Chains::ALL,
            loopback: Chains::ALL,
            drop_invalid: Chains::ALL,
            ip_forward: None,
            log: None,
            family: None,
            origin: start.clone(),
        });
        let icmp = icmp.unwrap_or(IcmpPolicy {
            ping: Ping::Allow,
            rate: DEFAULT_PING_RATE,
            burst: DEFAULT_PING_BURST,
            essentials: true,
            origin: start,
        });

        // Sets from every file, one namespace: each set's own elements
        // first, then the algebra between sets.
        let mut pending: Vec<PendingSet> = Vec::new();
        for (fi, l) in files.iter().enumerate() {
            let mut defs: Vec<_> = l.ast.sets.iter().collect();
            defs.sort_by_key(|(k, _)| k.span().start);
            for (name, def) in defs {
                if name.get_ref() == PROTECT_BAN || name.get_ref() == "protect-ban-v6" {
                    self.err_help(
                        &l.file,
                        span(name),
                        format!("set name `{}` is reserved", name.get_ref()),
                        "`[protect]` keeps its bans in sets of this name; pick another",
                    );
                    continue;
                }
                if let Some(prev) = pending.iter().find(|s| &s.name == name.get_ref()) {
                    let msg = format!(
                        "set `{}` is already defined at {}",
                        name.get_ref(),
                        prev.origin
                    );
                    self.err(&l.file, span(name), msg);
                    continue;
                }
                if let Some(s) = self.set(fi, &l.file, name, def) {
                    pending.push(s);
                }
            }
        }
        let sets = self.resolve_sets(&files, pending);

        // Rule items and port forwards, file by file in file order.
        let mut items = Vec::new();
        let mut masquerade = Vec::new();
        let mut snat = Vec::new();
        for l in &files {
            let mut order: Vec<(usize, Entry<'_>)> = Vec::new();
            for r in &l.ast.allow {
                order.push((r.span().start, Entry::Allow(r)));
            }
            for r in &l.ast.deny {
                order.push((r.span().start, Entry::Deny(r)));
            }
            if let Some(nat) = &l.ast.nat {
                for f in &nat.forward {
                    order.push((f.span().start, Entry::Forward(f)));
                }
                for m in &nat.masquerade {
                    if let Some(m) = self.masq(&l.file, m) {
                        masquerade.push(m);
                    }
                }
                for s in &nat.snat {
                    if let Some(s) = self.snat(&l.file, s) {
                        snat.push(s);
                    }
                }
            }
            order.sort_by_key(|(pos, _)| *pos);
            for (_, e) in order {
                let item = match e {
                    Entry::Allow(r) => self.rule(&l.file, r, true, &sets).map(Item::Rule),
                    Entry::Deny(r) => self.rule(&l.file, r, false, &sets).map(Item::Rule),
                    Entry::Forward(f) => self.forward(&l.file, f).map(Item::PortForward),
                };
                items.extend(item);
            }
        }
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

    fn protect(&mut self, file: &SourceFile, p: &Spanned<ast::Protect>) -> Option<Protect> {
        let v = p.get_ref();
        let mut ok = true;
        let mut meter = |this: &mut Self, m: &Option<Spanned<ast::MeterSpec>>| {
            let m = m.as_ref()?;
            let spec = m.get_ref();
            let rate = this.rate(file, &spec.per_source);
            let burst = spec.burst.as_ref().map_or(Some(5), |b| {
                let n = *b.get_ref();
                if n == 0 || n > 10_000 {
                    this.err(
                        file,
                        span(b),
                        format!("burst {n} is out of range 1..=10000"),
                    );
                    None
                } else {
                    Some(n)
                }
            });
            let ban = match &spec.ban {
                Some(b) => match this.duration(file, b) {
                    Some(0) => {
                        this.err_help(
                            file,
                            span(b),
                            "a ban of 0 seconds",
                            "give a duration such as \"10m\", or remove `ban` to only drop the excess",
                        );
                        None
                    }
                    Some(s) => Some(Some(s)),
                    None => None,
                },
                None => Some(None),
            };
            match (rate, burst, ban) {
                (Some(rate), Some(burst), Some(ban)) => Some(Meter {
                    rate,
                    burst,
                    ban,
                    origin: file.origin(span(m)),
                }),
                _ => {
                    ok = false;
                    None
                }
            }
        };
        let syn = meter(self, &v.syn_rate);
        let new = meter(self, &v.new_rate);
        let conn = v.connlimit.as_ref().map(|c| {
            let spec = c.get_ref();
            let limit = *spec.per_source.get_ref();
            if limit == 0 {
                self.err(
                    file,
                    span(&spec.per_source),
                    "a limit of 0 connections refuses every connection",
                );
                ok = false;
            }
            let ban = match &spec.ban {
                Some(b) => match self.duration(file, b) {
                    Some(s) if s > 0 => Some(s),
                    _ => {
                        ok = false;
                        None
                    }
                },
                None => None,
            };
            ConnCap {
                limit,
                ban,
                origin: file.origin(span(c)),
            }
        });
        let (mut input, mut forward) = (true, false);
        if let Some(c) = &v.chains {
            input = false;
            for name in c.get_ref() {
                match name.get_ref().as_str() {
                    "input" => input = true,
                    "forward" => forward = true,
                    other => {
                        ok = false;
                        self.err_help(
                            file,
                            span(name),
                            format!("`{other}` is not a chain [protect] can guard"),
                            "the chains are \"input\" and \"forward\"",
                        );
                    }
                }
            }
            if c.get_ref().is_empty() {
                ok = false;
                self.err(
                    file,
                    span(c),
                    "`chains` is empty: name \"input\" and/or \"forward\"",
                );
            }
        }
        if syn.is_none() && new.is_none() && conn.is_none() && ok {
            self.err_help(
                file,
                span(p),
                "`[protect]` without a limit",
                "set `syn_rate`, `new_rate` or `connlimit`",
            );
            return None;
        }
        ok.then(|| Protect {
            syn,
            new,
            conn,
            input,
            forward,
            origin: file.origin(span(p)),
        })
    }

    fn defaults(&mut self, file: &SourceFile, d: &Spanned<ast::Defaults>) -> Defaults {
        let v = d.get_ref();
        let log = v.log.as_ref().and_then(|l| self.log(file, l));
        Defaults {
            input: v.input.as_ref().map_or(Verdict::Drop, |x| *x.get_ref()),
            forward: v.forward.as_ref().map_or(Verdict::Drop, |x| *x.get_ref()),
            output: v.output.as_ref().map_or(Verdict::Accept, |x| *x.get_ref()),
            established: self.chains(file, &v.established),
            loopback: self.chains(file, &v.loopback),
            drop_invalid: self.chains(file, &v.drop_invalid),
            ip_forward: v.ip_forward.as_ref().map(|x| *x.get_ref()),
            log,
            family: v.family.as_ref().map(|f| family_of(*f.get_ref())),
            origin: file.origin(span(d)),
        }
    }

    fn chains(&mut self, file: &SourceFile, c: &Option<Spanned<ast::Chains>>) -> Chains {
        match c.as_ref().map(Spanned::get_ref) {
            None | Some(ast::Chains::Bool(true)) => Chains::ALL,
            Some(ast::Chains::Bool(false)) => Chains::NONE,
            Some(ast::Chains::List(l)) => {
                let mut out = Chains::NONE;
                for name in l {
                    match name.get_ref().as_str() {
                        "input" => out.input = true,
                        "forward" => out.forward = true,
                        "output" => out.output = true,
                        other => self.err_help(
                            file,
                            span(name),
                            format!("unknown chain `{other}`"),
                            "the chains are \"input\", \"forward\" and \"output\"",
                        ),
                    }
                }
                out
            }
        }
    }

    fn icmp(&mut self, file: &SourceFile, c: &Spanned<ast::Icmp>) -> IcmpPolicy {
        let v = c.get_ref();
        let ping = v.ping.as_ref().map_or(Ping::Allow, |p| *p.get_ref());
        let rate = match &v.ping_rate {
            Some(r) => {
                if ping != Ping::RateLimited {
                    self.err_help(
                        file,
                        span(r),
                        "`ping_rate` without `ping = \"rate-limited\"`",
                        "set `ping = \"rate-limited\"` or remove `ping_rate`",
                    );
                }
                self.rate(file, r).unwrap_or(DEFAULT_PING_RATE)
            }
            None => DEFAULT_PING_RATE,
        };
        let burst = match &v.ping_burst {
            Some(b) => self.burst(file, b),
            None => DEFAULT_PING_BURST,
        };
        IcmpPolicy {
            ping,
            rate,
            burst,
            essentials: v.essentials.as_ref().is_none_or(|e| *e.get_ref()),
            origin: file.origin(span(c)),
        }
    }

    fn log(&mut self, file: &SourceFile, l: &Spanned<ast::LogSpec>) -> Option<LogSpec> {
        let v = l.get_ref();
        let mut ok = true;
        let prefix = match &v.prefix {
            Some(p) => {
                let s = p.get_ref();
                if s.len() > MAX_LOG_PREFIX {
                    ok = false;
                    self.err(
                        file,
                        span(p),
                        format!(
                            "log prefix is {} bytes long; the kernel allows at most {MAX_LOG_PREFIX}",
                            s.len()
                        ),
                    );
                } else if s.chars().any(char::is_control) {
                    ok = false;
                    self.err(file, span(p), "log prefix holds a control character");
                }
                Some(s.clone())
            }
            None => None,
        };
        let rate = match &v.rate {
            Some(r) => self.rate(file, r),
            None => Some(LogSpec::DEFAULT_RATE),
        };
        let burst = v
            .burst
            .as_ref()
            .map_or(LogSpec::DEFAULT_BURST, |b| self.burst(file, b));
        Some(LogSpec {
            prefix,
            rate: rate?,
            burst,
        })
        .filter(|_| ok)
    }

    fn burst(&mut self, file: &SourceFile, b: &Spanned<u32>) -> u32 {
        let n = *b.get_ref();
        if n == 0 || n > 10_000 {
            self.err(
                file,
                span(b),
                format!("burst {n} is out of range 1..=10000"),
            );
            return 1;
        }
        n
    }

    fn rate(&mut self, file: &SourceFile, r: &Spanned<String>) -> Option<Rate> {
        match parse_rate(r.get_ref()) {
            Ok(rate) => Some(rate),
            Err(e) => {
                self.err_help(
                    file,
                    span(r),
                    e,
                    "write a rate as COUNT/UNIT, e.g. \"4/minute\" (units: second, minute, hour, day)",
                );
                None
            }
        }
    }

    /// A set's own part: name, kind, family, timeout, its elements and
    /// file, and the sets its algebra names (resolved later).
    fn set(
        &mut self,
        file_idx: usize,
        file: &SourceFile,
        name: &Spanned<String>,
        def: &Spanned<ast::SetDef>,
    ) -> Option<PendingSet> {
        let n = name.get_ref();
        if n.is_empty()
            || n.len() > MAX_SET_NAME
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            self.err_help(
                file,
                span(name),
                format!("invalid set name `{n}`"),
                "set names are 1 to 28 letters, digits, `_` or `-`",
            );
            return None;
        }
        let v = def.get_ref();
        let imported = match &v.ipset {
            Some(f) => self.ipset_source(file, f, v.ipset_set.as_ref()),
            None => {
                if let Some(s) = &v.ipset_set {
                    self.err(file, span(s), "`ipset_set` without `ipset`");
                }
                None
            }
        };
        let timeout = match &v.timeout {
            Some(t) => self.duration(file, t),
            // An imported set brings its default timeout.
            None => imported.as_ref().and_then(|s| s.timeout),
        };
        let has_own = v.elements.is_some() || v.file.is_some() || v.ipset.is_some();
        let mut refs = Vec::new();
        for (op, list) in [
            (Op::Union, &v.union),
            (Op::Intersect, &v.intersect),
            (Op::Except, &v.except),
        ] {
            if let Some(list) = list {
                for (r, sp) in items(list) {
                    refs.push((op, r.strip_prefix('@').unwrap_or(r).to_string(), sp));
                }
            }
        }
        let explicit = v.kind.as_ref().map(|k| *k.get_ref());
        // Without `type`: "net", or the kind of the first set named when
        // the set has no elements of its own.
        let kind = explicit
            .or(imported.as_ref().and_then(|s| setx::native_kind(s.kind)))
            .or((has_own || refs.is_empty()).then_some(SetType::Net));
        let parse_kind = kind.unwrap_or(SetType::Net);
        if let Some(f) = &v.family {
            if !parse_kind.has_addresses() {
                self.err(
                    file,
                    span(f),
                    format!(
                        "`family` on a set of type \"{}\": it holds no addresses and serves both families",
                        parse_kind.name()
                    ),
                );
            }
        }
        let mut content = Content::empty(parse_kind);
        let mut plain = MembersBuilder::new(parse_kind);
        if let Some(els) = &v.elements {
            for e in els {
                match e.get_ref() {
                    ast::ElemSpec::Plain(text) => match setx::parse_key(parse_kind, text, true) {
                        Ok(k) => plain.push(k),
                        Err(msg) => {
                            self.elem_err(file, span(e), msg, parse_kind, explicit.is_none())
                        }
                    },
                    ast::ElemSpec::Table(t) => {
                        let text = t.value.get_ref();
                        let key = match setx::parse_key(parse_kind, text, true) {
                            Ok(k) => k,
                            Err(msg) => {
                                self.elem_err(
                                    file,
                                    span(&t.value),
                                    msg,
                                    parse_kind,
                                    explicit.is_none(),
                                );
                                continue;
                            }
                        };
                        let et = match &t.timeout {
                            Some(ts) => {
                                let d = self.duration(file, ts);
                                if d.is_some() && timeout.is_none() {
                                    self.err_help(
                                        file,
                                        span(ts),
                                        format!("element `{text}` has a timeout but set `{n}` has none"),
                                        "elements can expire only in a set with timeouts: give the set a `timeout` (the default for its other elements), e.g. `timeout = \"1d\"`",
                                    );
                                }
                                d
                            }
                            None => None,
                        };
                        let comment = match &t.comment {
                            Some(c) => {
                                let cs = c.get_ref();
                                if cs.len() > MAX_ELEMENT_COMMENT
                                    || cs.contains('"')
                                    || cs.chars().any(char::is_control)
                                {
                                    self.err(
                                        file,
                                        span(c),
                                        format!("an element comment is at most {MAX_ELEMENT_COMMENT} bytes of printable text without `\"`"),
                                    );
                                    None
                                } else {
                                    Some(cs.clone())
                                }
                            }
                            None => None,
                        };
                        if et.is_none() && comment.is_none() {
                            plain.push(key);
                        } else {
                            let mut one = MembersBuilder::new(parse_kind);
                            one.push(key);
                            content.annotate(one.build(), et, comment, text);
                        }
                    }
                }
            }
        }
        if v.file.is_none() {
            for (key, present) in [
                ("format", v.format.as_ref().map(span)),
                ("column", v.column.as_ref().map(span)),
                ("delimiter", v.delimiter.as_ref().map(span)),
                ("header", v.header.as_ref().map(span)),
            ] {
                if let Some(sp) = present {
                    self.err_help(
                        file,
                        sp,
                        format!("`{key}` without `file`"),
                        "`format`, `column`, `delimiter` and `header` say how a set `file` is read",
                    );
                }
            }
        }
        if let Some(f) = &v.file {
            if let Some(spec) = self.file_spec(file, v) {
                let path = load::resolve(&file.path, f.get_ref());
                match self.loader.read(&path) {
                    Ok(text) => {
                        let sf = SourceFile::new(path.clone(), text);
                        let mut diags = Vec::new();
                        let r = setx::read_file(parse_kind, &sf, &spec, &mut plain, &mut diags);
                        self.diags.extend(diags);
                        if let Err(msg) = r {
                            let sp = v.column.as_ref().map_or(span(f), span);
                            self.err(file, sp, msg);
                        }
                    }
                    Err(e) => {
                        self.err(file, span(f), format!("cannot read set file `{path}`: {e}"));
                    }
                }
            }
        }
        if let (Some(set), Some(f)) = (&imported, &v.ipset) {
            let mut bad = 0usize;
            for e in &set.elements {
                let key = setx::key_of_parts(parse_kind, &e.parts)
                    .filter(|_| !e.nomatch)
                    .and_then(|k| Some((setx::key_of_elem(&k)?, k)));
                let Some((key, text)) = key else {
                    bad += 1;
                    if bad <= 5 {
                        self.err_help(
                            file,
                            span(f),
                            format!(
                                "element `{}` of ipset `{}` ({}) does not fit a set of type \"{}\"",
                                crate::script::element_text(e, set.kind),
                                set.name,
                                set.kind.name(),
                                parse_kind.name()
                            ),
                            "the native kinds are hash:ip (\"ip\"), hash:net (\"net\"), hash:ip,port and hash:net,port; `nomatch` elements have no equivalent",
                        );
                    }
                    continue;
                };
                if e.timeout.is_none() && e.comment.is_none() {
                    plain.push(key);
                } else {
                    if e.timeout.is_some() && timeout.is_none() {
                        self.err(
                            file,
                            span(f),
                            format!(
                                "element `{}` of ipset `{}` has a timeout but set `{n}` has none",
                                text.text(),
                                set.name
                            ),
                        );
                    }
                    let mut one = MembersBuilder::new(parse_kind);
                    one.push(key);
                    content.annotate(one.build(), e.timeout, e.comment.clone(), &text.text());
                }
            }
            if bad > 5 {
                self.err(
                    file,
                    span(f),
                    format!(
                        "{} more element(s) of ipset `{}` do not fit",
                        bad - 5,
                        set.name
                    ),
                );
            }
        }
        content.plain = plain.build();
        Some(PendingSet {
            name: n.clone(),
            file: file_idx,
            kind,
            family: v
                .family
                .as_ref()
                .map(|f| (family_of(*f.get_ref()), span(f))),
            timeout,
            content,
            refs,
            elements_span: v.elements.as_ref().and_then(|e| e.first()).map(span),
            def_span: span(def),
            origin: file.origin(span(def)),
        })
    }

    /// The set an ipset script or `ipset save` file builds (`ipset = ..`),
    /// chosen by `ipset_set` when the file builds more than one.
    fn ipset_source(
        &mut self,
        file: &SourceFile,
        f: &Spanned<String>,
        which: Option<&Spanned<String>>,
    ) -> Option<rampart_model::IpSet> {
        let path = load::resolve(&file.path, f.get_ref());
        let text = match self.loader.read(&path) {
            Ok(t) => t,
            Err(e) => {
                self.err(
                    file,
                    span(f),
                    format!("cannot read ipset file `{path}`: {e}"),
                );
                return None;
            }
        };
        let sf = SourceFile::new(path.clone(), text);
        let parsed = if crate::script::looks_like_script(&sf.text) {
            crate::script::parse_script(&sf)
        } else {
            crate::script::parse_ipset_save(&sf)
        };
        let failed = parsed.diagnostics.has_errors();
        self.diags.extend(parsed.diagnostics.0);
        if failed {
            return None;
        }
        let mut sets = parsed.value.sets;
        let names: Vec<String> = sets.iter().map(|s| s.name.clone()).collect();
        let pick = match which {
            Some(w) => sets.iter().position(|s| &s.name == w.get_ref()),
            None if sets.len() == 1 => Some(0),
            None => None,
        };
        match pick {
            Some(i) => Some(sets.swap_remove(i)),
            None => {
                let sp = which.map_or(span(f), span);
                let msg = match which {
                    Some(w) => format!("`{path}` builds no ipset `{}`", w.get_ref()),
                    None if names.is_empty() => format!("`{path}` builds no ipset"),
                    None => format!(
                        "`{path}` builds {} ipsets; say which with `ipset_set`",
                        names.len()
                    ),
                };
                self.err_help(file, sp, msg, &format!("its sets: {}", names.join(", ")));
                None
            }
        }
    }

    fn elem_err(&mut self, file: &SourceFile, sp: Span, msg: String, kind: SetType, default: bool) {
        let help = match kind {
            SetType::Net | SetType::Ip if default && msg.contains("not an IP address") => {
                "a set holds networks unless it says otherwise: `type = \"ip\"`, \"port\" (\"22/tcp\"), \"ip,port\" / \"net,port\" (\"192.0.2.7,22/tcp\") or \"iface\" (\"eth0\")"
            }
            SetType::Net => "write an address, a network (10.0.0.0/8, 2001:db8::/32) or a range (10.0.0.1-10.0.0.9)",
            SetType::Ip => "write one address (192.0.2.7, 2001:db8::7)",
            SetType::Port => "write PORT/PROTOCOL or FIRST-LAST/PROTOCOL, e.g. \"22/tcp\", \"5000-5100/udp\"",
            SetType::IpPort => "write ADDRESS,PORT/PROTOCOL, e.g. \"192.0.2.7,22/tcp\"",
            SetType::NetPort => "write NETWORK,PORT/PROTOCOL, e.g. \"10.0.0.0/8,22/tcp\"",
            SetType::Iface => "write an interface name, e.g. \"eth0\"",
        };
        self.err_help(file, sp, msg, help);
    }

    fn duration(&mut self, file: &SourceFile, t: &Spanned<StrOrInt>) -> Option<u32> {
        match parse_duration(t.get_ref()) {
            Ok(s) => Some(s),
            Err(e) => {
                self.err_help(
                    file,
                    span(t),
                    e,
                    "write a duration as a number of seconds or with a unit: \"30m\", \"12h\", \"1d\", \"1w\"",
                );
                None
            }
        }
    }

    /// How the set's `file` is read (`format`, `column`, `delimiter`, `header`).
    fn file_spec(&mut self, file: &SourceFile, v: &ast::SetDef) -> Option<setx::FileSpec> {
        let csv = v
            .format
            .as_ref()
            .is_some_and(|f| *f.get_ref() == ast::FileFormat::Csv);
        let mut ok = true;
        if !csv {
            for (key, present) in [
                ("column", v.column.as_ref().map(span)),
                ("delimiter", v.delimiter.as_ref().map(span)),
                ("header", v.header.as_ref().map(span)),
            ] {
                if let Some(sp) = present {
                    ok = false;
                    self.err_help(
                        file,
                        sp,
                        format!("`{key}` without `format = \"csv\"`"),
                        "a set file is one element per line unless `format = \"csv\"`",
                    );
                }
            }
        }
        let column = match &v.column {
            None => setx::ColumnSel::Index(0),
            Some(c) => match c.get_ref() {
                ast::Column::Number(n) if (1..=4096).contains(n) => {
                    setx::ColumnSel::Index(usize::try_from(*n - 1).unwrap_or(0))
                }
                ast::Column::Number(n) => {
                    ok = false;
                    self.err_help(
                        file,
                        span(c),
                        format!("column {n} is out of range"),
                        "columns count from 1",
                    );
                    setx::ColumnSel::Index(0)
                }
                ast::Column::Name(name) => setx::ColumnSel::Name(name.clone()),
            },
        };
        let delimiter = match &v.delimiter {
            None => b',',
            Some(d) => match d.get_ref().as_bytes() {
                [b] if *b != b'"' && *b != b'\n' => *b,
                _ => {
                    ok = false;
                    self.err_help(
                        file,
                        span(d),
                        "the delimiter must be one ASCII character",
                        "e.g. `delimiter = \";\"` or `delimiter = \"\\t\"`",
                    );
                    b','
                }
            },
        };
        let named = matches!(column, setx::ColumnSel::Name(_));
        let header = match &v.header {
            Some(h) => {
                if named && !*h.get_ref() {
                    ok = false;
                    self.err(
                        file,
                        span(h),
                        "`header = false` with a column named by its header",
                    );
                }
                *h.get_ref()
            }
            None => named,
        };
        ok.then_some(setx::FileSpec {
            csv,
            column,
            delimiter,
            header,
        })
    }

    /// The algebra between sets (in dependency order, cycles reported), the
    /// family checks, and the final aggregated elements.
    fn resolve_sets(&mut self, files: &[Loaded], mut pending: Vec<PendingSet>) -> Vec<SetDef> {
        let n = pending.len();
        // 0: not visited, 1: on the stack, 2: done.
        let mut state = vec![0u8; n];
        let mut order = Vec::with_capacity(n);
        for root in 0..n {
            if state[root] != 0 {
                continue;
            }
            // Iterative DFS: (set, next ref to look at).
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            state[root] = 1;
            while let Some(&(cur, next)) = stack.last() {
                let Some((_, rname, rsp)) = pending[cur].refs.get(next).cloned() else {
                    state[cur] = 2;
                    order.push(cur);
                    stack.pop();
                    continue;
                };
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                let Some(j) = pending.iter().position(|p| p.name == rname) else {
                    continue; // reported below
                };
                match state[j] {
                    0 => {
                        state[j] = 1;
                        stack.push((j, 0));
                    }
                    1 => {
                        let from = stack.iter().position(|(s, _)| *s == j).unwrap_or(0);
                        let mut names: Vec<&str> = stack[from..]
                            .iter()
                            .map(|(s, _)| pending[*s].name.as_str())
                            .collect();
                        names.push(&pending[j].name);
                        let msg = format!("set cycle: {}", names.join(" -> "));
                        let f = &files[pending[cur].file].file;
                        self.err_help(
                            f,
                            rsp,
                            msg,
                            "a set cannot be built from itself; remove one of the references",
                        );
                        // Break it: the reference is dropped.
                        if let Some(r) = pending[cur].refs.get_mut(next) {
                            r.1.clear();
                        }
                    }
                    _ => {}
                }
            }
        }
        let names: Vec<String> = pending.iter().map(|p| p.name.clone()).collect();
        let mut done: Vec<Option<(SetType, Option<u32>, Content)>> = vec![None; n];
        for &i in &order {
            let f = &files[pending[i].file].file;
            let refs = std::mem::take(&mut pending[i].refs);
            // The kind: declared, else the first named set's.
            let kind = pending[i].kind.unwrap_or_else(|| {
                refs.iter()
                    .find_map(|(_, r, _)| {
                        let j = names.iter().position(|x| x == r)?;
                        done[j].as_ref().map(|d| d.0)
                    })
                    .unwrap_or(SetType::Net)
            });
            let mut content = std::mem::replace(&mut pending[i].content, Content::empty(kind));
            if pending[i].kind.is_none() {
                content = Content::empty(kind);
            }
            // Unions first, then intersections, then differences.
            for op in [Op::Union, Op::Intersect, Op::Except] {
                for (o, r, sp) in refs.iter().filter(|(o, _, _)| *o == op) {
                    if r.is_empty() {
                        continue; // a broken cycle
                    }
                    let Some(j) = names.iter().position(|x| x == r) else {
                        let known: Vec<&str> = names.iter().map(String::as_str).collect();
                        self.err_help(
                            f,
                            *sp,
                            format!("unknown set `{r}` in `{}`", o.key()),
                            &format!("defined sets: {}", known.join(", ")),
                        );
                        continue;
                    };
                    let Some((okind, otimeout, other)) = done[j].clone() else {
                        continue;
                    };
                    if !setx::compatible(kind, *o, okind) {
                        self.err_help(
                            f,
                            *sp,
                            format!(
                                "set `{}` has type \"{}\" and cannot be used in `{}` of set `{}` (type \"{}\")",
                                r,
                                okind.name(),
                                o.key(),
                                pending[i].name,
                                kind.name()
                            ),
                            "a union takes sets of the same type (an \"ip\" set may join a \"net\" set, an \"ip,port\" set a \"net,port\" one); `intersect` and `except` also take address sets for pair sets",
                        );
                        continue;
                    }
                    if *o == Op::Union && otimeout != pending[i].timeout {
                        self.err_help(
                            f,
                            *sp,
                            format!(
                                "set `{r}` has another default timeout than set `{}`",
                                pending[i].name
                            ),
                            "the elements of a union would change when they expire; give both sets the same `timeout`",
                        );
                        continue;
                    }
                    content = content.apply(*o, &other);
                }
            }
            done[i] = Some((kind, pending[i].timeout, content));
        }
        let mut out = Vec::with_capacity(n);
        for (i, p) in pending.iter().enumerate() {
            let Some((kind, timeout, content)) = done[i].take() else {
                continue;
            };
            let f = &files[p.file].file;
            if let (None, Some((_, fsp)), false) = (p.kind, p.family, kind.has_addresses()) {
                // The kind came from the first named set.
                self.err(
                    f,
                    fsp,
                    format!(
                        "`family` on a set of type \"{}\": it holds no addresses and serves both families",
                        kind.name()
                    ),
                );
            }
            let (has4, has6) = content.families();
            let mut families = match p.family {
                Some((want, fsp)) => {
                    if (want == Family::Ipv4 && has6) || (want == Family::Ipv6 && has4) {
                        self.err(
                            f,
                            fsp,
                            format!(
                                "set `{}` is declared {} but holds addresses of the other family",
                                p.name,
                                family_name(want)
                            ),
                        );
                    }
                    vec![want]
                }
                None => {
                    let mut v = Vec::new();
                    if has4 {
                        v.push(Family::Ipv4);
                    }
                    if has6 {
                        v.push(Family::Ipv6);
                    }
                    v
                }
            };
            if families.is_empty() || !kind.has_addresses() {
                families = vec![Family::Ipv4, Family::Ipv6];
            }
            let (elements, errors) = content.elements(kind);
            for e in errors {
                let sp = p.elements_span.unwrap_or(p.def_span);
                self.err_help(
                    f,
                    sp,
                    format!("set `{}`: {e}", p.name),
                    "the kernel cannot hold overlapping elements, and merging them would change when they expire or what they say; remove one, or keep them in separate sets",
                );
            }
            out.push(SetDef {
                name: p.name.clone(),
                kind,
                families,
                timeout,
                elements: elements
                    .into_iter()
                    .filter(|e| match (e.key.is_ipv4(), p.family) {
                        (Some(v4), Some((want, _))) => v4 == (want == Family::Ipv4),
                        _ => true,
                    })
                    .collect(),
                origin: p.origin.clone(),
            });
        }
        out
    }

    fn addrs(
        &mut self,
        file: &SourceFile,
        list: &Option<Spanned<StrList>>,
        sets: &[SetDef],
        ok: &mut bool,
    ) -> Vec<Addr> {
        let mut out = Vec::new();
        let Some(list) = list else { return out };
        for (s, sp) in items(list) {
            if let Some(name) = s.strip_prefix('@') {
                if !sets.iter().any(|d| d.name == name) {
                    *ok = false;
                    let known: Vec<&str> = sets.iter().map(|d| d.name.as_str()).collect();
                    let help = if known.is_empty() {
                        "define it with a `[sets.NAME]` table".to_string()
                    } else {
                        format!("defined sets: {}", known.join(", "))
                    };
                    self.err_help(file, sp, format!("unknown set `@{name}`"), &help);
                } else if self.set_ref(
                    file,
                    sp,
                    name,
                    sets,
                    &[SetType::Ip, SetType::Net, SetType::IpPort, SetType::NetPort],
                    "from`/`to",
                ) {
                    out.push(Addr::Set(name.to_string()));
                } else {
                    *ok = false;
                }
            } else {
                match parse_net(s) {
                    Ok(n) => out.push(Addr::Net(n)),
                    Err(e) => {
                        *ok = false;
                        self.err_help(
                            file,
                            sp,
                            e,
                            "write an address, a network (10.0.0.0/8, 2001:db8::/32) or @set",
                        );
                    }
                }
            }
        }
        out
    }

    fn nets(
        &mut self,
        file: &SourceFile,
        list: &Option<Spanned<StrList>>,
        ok: &mut bool,
    ) -> Vec<IpNet> {
        let mut out = Vec::new();
        let Some(list) = list else { return out };
        for (s, sp) in items(list) {
            match parse_net(s) {
                Ok(n) => out.push(n),
                Err(e) => {
                    *ok = false;
                    self.err(file, sp, e);
                }
            }
        }
        out
    }

    /// Checks a `@name` reference to a set of one of `kinds` used in `key`.
    fn set_ref(
        &mut self,
        file: &SourceFile,
        sp: Span,
        name: &str,
        sets: &[SetDef],
        kinds: &[SetType],
        key: &str,
    ) -> bool {
        let Some(def) = sets.iter().find(|d| d.name == name) else {
            let known: Vec<&str> = sets
                .iter()
                .filter(|d| kinds.contains(&d.kind))
                .map(|d| d.name.as_str())
                .collect();
            let help = if known.is_empty() {
                "define it with a `[sets.NAME]` table".to_string()
            } else {
                format!("defined sets of this kind: {}", known.join(", "))
            };
            self.err_help(file, sp, format!("unknown set `@{name}`"), &help);
            return false;
        };
        if kinds.contains(&def.kind) {
            return true;
        }
        let help = match def.kind {
            SetType::Port => "a set of ports goes in `port`",
            SetType::Iface => "a set of interfaces goes in `in` or `out`",
            SetType::Ip | SetType::Net => "a set of addresses goes in `from` or `to`",
            SetType::IpPort | SetType::NetPort => {
                "a set of address+port pairs goes in `from` (source address, destination port) or `to` (destination address and port)"
            }
        };
        self.err_help(
            file,
            sp,
            format!(
                "set `@{name}` has type \"{}\" and cannot be used in `{key}`",
                def.kind.name()
            ),
            help,
        );
        false
    }

    fn ifaces(
        &mut self,
        file: &SourceFile,
        list: &Option<Spanned<StrList>>,
        sets: &[SetDef],
        ok: &mut bool,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let Some(list) = list else { return out };
        for (s, sp) in items(list) {
            if let Some(name) = s.strip_prefix('@') {
                // Kept as `@name`: a lookup of the interface in the set.
                if self.set_ref(file, sp, name, sets, &[SetType::Iface], "in`/`out") {
                    out.push(s.to_string());
                } else {
                    *ok = false;
                }
                continue;
            }
            match check_iface(s) {
                Ok(()) => out.push(s.to_string()),
                Err(e) => {
                    *ok = false;
                    self.err(file, sp, e);
                }
            }
        }
        out
    }

    fn rule(
        &mut self,
        file: &SourceFile,
        r: &Spanned<ast::RuleItem>,
        allow: bool,
        sets: &[SetDef],
    ) -> Option<RuleItem> {
        let v = r.get_ref();
        let kind = if allow { "allow" } else { "deny" };
        let mut ok = true;
        let direction = v
            .direction
            .as_ref()
            .map_or(Direction::Input, |d| *d.get_ref());
        let family = v.family.as_ref().map(|f| family_of(*f.get_ref()));

        // Services and ports, grouped by protocol.
        let mut ports: Vec<(Protocol, Vec<PortRange>)> = Vec::new();
        let mut add =
            |proto: Protocol, range: PortRange| match ports.iter_mut().find(|(p, _)| *p == proto) {
                Some((_, l)) => {
                    if !l.contains(&range) {
                        l.push(range);
                    }
                }
                None => ports.push((proto, vec![range])),
            };
        if let Some(svcs) = &v.service {
            for (name, sp) in items(svcs) {
                match catalogue::service(name) {
                    Some(s) => {
                        for &(a, b) in s.tcp {
                            add(Protocol::TCP, PortRange { first: a, last: b });
                        }
                        for &(a, b) in s.udp {
                            add(Protocol::UDP, PortRange { first: a, last: b });
                        }
                    }
                    None => {
                        ok = false;
                        let help = match catalogue::refused_service(name) {
                            Some(why) => format!("`{name}` is not in the catalogue: it {why}"),
                            None => match suggest(name) {
                                Some(s) => format!("did you mean `{s}`? (or write `port = [\"N/tcp\"]`)"),
                                None => "write its ports instead, e.g. `port = [\"8443/tcp\"]`; `rampart services` lists the catalogue".to_string(),
                            },
                        };
                        self.diags.push(
                            file.error(sp, format!("unknown service `{name}`"))
                                .with_help(help),
                        );
                    }
                }
            }
        }
        let mut port_sets = Vec::new();
        if let Some(ps) = &v.port {
            for (p, sp) in items(ps) {
                if let Some(name) = p.strip_prefix('@') {
                    match self.set_ref(file, sp, name, sets, &[SetType::Port], "port") {
                        true => port_sets.push(name.to_string()),
                        false => ok = false,
                    }
                    continue;
                }
                match parse_port(p) {
                    Ok((proto, range)) => add(proto, range),
                    Err(e) => {
                        ok = false;
                        self.err_help(
                            file,
                            sp,
                            e,
                            "write a port as PORT/PROTO or FIRST-LAST/PROTO, e.g. \"22/tcp\", \"60000-61000/udp\"",
                        );
                    }
                }
            }
        }
        let protocol = match &v.protocol {
            Some(p) => {
                if !ports.is_empty() || !port_sets.is_empty() {
                    ok = false;
                    self.err_help(
                        file,
                        span(p),
                        "`protocol` together with `service` or `port`",
                        "ports already name their protocol (\"22/tcp\"); use `protocol` for protocols without ports such as gre or esp",
                    );
                }
                match Protocol::parse(p.get_ref()) {
                    Some(Protocol(0)) | None => {
                        ok = false;
                        self.err(file, span(p), format!("unknown protocol `{}`", p.get_ref()));
                        None
                    }
                    Some(proto) => Some(proto),
                }
            }
            None => None,
        };

        let from = self.addrs(file, &v.from, sets, &mut ok);
        let to = self.addrs(file, &v.to, sets, &mut ok);
        let ins = self.ifaces(file, &v.in_, sets, &mut ok);
        let outs = self.ifaces(file, &v.out, sets, &mut ok);
        if direction == Direction::Input && !outs.is_empty() {
            if let Some(o) = &v.out {
                ok = false;
                self.err_help(file, span(o), "`out` on an input rule", "incoming packets have no output interface; use `in`, or `direction = \"forward\"`");
            }
        }
        if direction == Direction::Output && !ins.is_empty() {
            if let Some(i) = &v.in_ {
                ok = false;
                self.err_help(
                    file,
                    span(i),
                    "`in` on an output rule",
                    "outgoing packets have no input interface; use `out`",
                );
            }
        }

        // Family of every address must fit `family` and the sets.
        let set_fams = |a: &Addr| -> Vec<Family> {
            match a {
                Addr::Net(n) => vec![fam(n)],
                Addr::Set(s) => sets
                    .iter()
                    .find(|d| &d.name == s)
                    .map_or_else(Vec::new, |d| d.families.clone()),
            }
        };
        if let Some(f) = family {
            for (list, key) in [(&from, &v.from), (&to, &v.to)] {
                if list.iter().any(|a| !set_fams(a).contains(&f)) {
                    if let Some(k) = key {
                        ok = false;
                        self.err(
                            file,
                            span(k),
                            format!("an address here is not {} as `family` says", family_name(f)),
                        );
                    }
                }
            }
        }
        let fam_ok = |fm: Family| -> bool {
            (from.is_empty() || from.iter().any(|a| set_fams(a).contains(&fm)))
                && (to.is_empty() || to.iter().any(|a| set_fams(a).contains(&fm)))
        };
        if ok && !fam_ok(Family::Ipv4) && !fam_ok(Family::Ipv6) {
            ok = false;
            self.err_help(
                file,
                span(r),
                "`from` and `to` have no address family in common",
                "an IPv4 source cannot talk to an IPv6 destination; split the rule",
            );
        }

        let rate = match &v.rate {
            Some(rs) => {
                let rv = rs.get_ref();
                if !allow {
                    ok = false;
                    self.err_help(
                        file,
                        span(rs),
                        "`rate` on a deny rule",
                        "rate limits belong to allow rules: traffic over the rate is dropped",
                    );
                }
                match (&rv.per_source, &rv.global) {
                    (Some(r), None) | (None, Some(r)) => {
                        let burst = rv
                            .burst
                            .as_ref()
                            .map_or(RateLimit::DEFAULT_BURST, |b| self.burst(file, b));
                        let drop_excess = rv
                            .excess
                            .as_ref()
                            .is_none_or(|e| *e.get_ref() == ast::Excess::Drop);
                        if let (false, Some(l)) = (drop_excess, &v.log) {
                            ok = false;
                            self.err_help(
                                file,
                                span(l),
                                "`log` with `excess = \"continue\"`",
                                "with `continue` nothing is dropped here, so there is nothing to log",
                            );
                        }
                        self.rate(file, r).map(|rate| RateLimit {
                            per_source: rv.per_source.is_some(),
                            rate,
                            burst,
                            drop_excess,
                        })
                    }
                    _ => {
                        ok = false;
                        self.err_help(
                            file,
                            span(rs),
                            "a rate needs exactly one of `per_source` and `global`",
                            "e.g. `rate = { per_source = \"4/minute\", burst = 4 }`",
                        );
                        None
                    }
                }
            }
            None => None,
        };
        let max_connections = match &v.max_connections {
            Some(m) => {
                if !allow {
                    ok = false;
                    self.err(file, span(m), "`max_connections` on a deny rule");
                }
                if *m.get_ref() == 0 {
                    ok = false;
                    self.err_help(
                        file,
                        span(m),
                        "`max_connections = 0` lets nothing through",
                        "write a deny rule instead",
                    );
                }
                Some(*m.get_ref())
            }
            None => None,
        };
        let action = match &v.action {
            Some(a) if allow => {
                ok = false;
                self.err_help(
                    file,
                    span(a),
                    "`action` on an allow rule",
                    "`action` chooses between \"drop\" and \"reject\" in deny rules",
                );
                DenyAction::Drop
            }
            Some(a) => *a.get_ref(),
            None => DenyAction::Drop,
        };
        let log = v.log.as_ref().and_then(|l| self.log(file, l));
        if v.log.is_some() && log.is_none() {
            ok = false;
        }
        let comment = match &v.comment {
            Some(c) => {
                let s = c.get_ref();
                if s.len() > 255 || s.chars().any(char::is_control) {
                    ok = false;
                    self.err(
                        file,
                        span(c),
                        "a comment is at most 255 bytes of printable text",
                    );
                }
                Some(s.clone())
            }
            None => None,
        };
        let mut lint_allow = Vec::new();
        if let Some(l) = &v.lint {
            for code in &l.get_ref().allow {
                let c = code.get_ref().trim();
                let known = LINT_CODES
                    .iter()
                    .any(|(id, name)| id.eq_ignore_ascii_case(c) || name.eq_ignore_ascii_case(c));
                if known {
                    lint_allow.push(c.to_string());
                } else {
                    ok = false;
                    self.err_help(
                        file,
                        span(code),
                        format!("unknown lint code `{c}`"),
                        "codes are R001-R009 or their names, such as \"exposed-admin-port\" (see docs/lint.md)",
                    );
                }
            }
        }
        let reject_with = match &v.reject_with {
            Some(rw) => match reject_type(rw.get_ref()) {
                Some(w) if allow || action == DenyAction::Drop => {
                    ok = false;
                    self.err_help(
                        file,
                        span(rw),
                        "`reject_with` without `action = \"reject\"`",
                        "`reject_with` chooses the reply of a deny rule with `action = \"reject\"`",
                    );
                    Some(w)
                }
                Some(w) => Some(w),
                None => {
                    ok = false;
                    self.err_help(
                        file,
                        span(rw),
                        format!("unknown reject type `{}`", rw.get_ref()),
                        "one of icmp-port-unreachable, icmp-host-prohibited, icmp-admin-prohibited, icmp-net-unreachable, icmp-host-unreachable, icmp-proto-unreachable, icmp-net-prohibited, icmp6-port-unreachable, icmp6-adm-prohibited, icmp6-no-route, icmp6-addr-unreachable, icmp6-policy-fail, icmp6-reject-route, tcp-reset",
                    );
                    None
                }
            },
            None => None,
        };
        if reject_with == Some(RejectWith::TcpReset)
            && (v.protocol.is_some()
                || ports.is_empty()
                || ports.iter().any(|(p, _)| *p != Protocol::TCP))
        {
            if let Some(rw) = &v.reject_with {
                ok = false;
                self.err_help(
                    file,
                    span(rw),
                    "`tcp-reset` on a rule that is not TCP only",
                    "a TCP reset answers TCP only: give the rule TCP ports only",
                );
            }
        }
        let state = match &v.state {
            Some(st) => {
                let mut states = CtStates::default();
                for (name, sp) in items(st) {
                    let flag = states.flag_mut(&name.to_ascii_uppercase());
                    match flag {
                        Some(f) if name.chars().all(|c| c.is_ascii_lowercase()) => *f = true,
                        _ => {
                            ok = false;
                            self.err_help(
                                file,
                                sp,
                                format!("unknown connection state `{name}`"),
                                "one of new, established, related, invalid, untracked, snat, dnat",
                            );
                        }
                    }
                }
                if states.is_empty() && ok {
                    ok = false;
                    self.err(file, span(st), "`state` names no state");
                }
                let m = v
                    .state_match
                    .as_ref()
                    .map_or(StateMatch::Conntrack, |m| *m.get_ref());
                if m == StateMatch::State && (states.snat || states.dnat) {
                    if let Some(sm) = &v.state_match {
                        ok = false;
                        self.err_help(
                            file,
                            span(sm),
                            "`snat` and `dnat` need `state_match = \"conntrack\"`",
                            "the `state` match knows new, established, related, invalid and untracked",
                        );
                    }
                }
                Some((states, m))
            }
            None => {
                if let Some(sm) = &v.state_match {
                    ok = false;
                    self.err_help(
                        file,
                        span(sm),
                        "`state_match` without `state`",
                        "add `state = [\"new\"]` (or other states), or remove `state_match`",
                    );
                }
                None
            }
        };
        let icmp = match (&v.icmp, &v.icmpv6) {
            (Some(a), Some(_)) => {
                ok = false;
                self.err_help(
                    file,
                    span(a),
                    "`icmp` and `icmpv6` in one rule",
                    "write one rule per family",
                );
                None
            }
            (Some(l), None) | (None, Some(l)) => {
                let f = if v.icmp.is_some() {
                    Family::Ipv4
                } else {
                    Family::Ipv6
                };
                let mut types = Vec::new();
                for (name, sp) in items(l) {
                    match parse_icmp_type(name, f) {
                        Some(t) => types.push(t),
                        None => {
                            ok = false;
                            self.err_help(
                                file,
                                sp,
                                format!("unknown ICMP type `{name}`"),
                                "a type name such as \"echo-request\", a number (\"8\") or TYPE/CODE (\"3/4\")",
                            );
                        }
                    }
                }
                if !ports.is_empty() || !port_sets.is_empty() || v.protocol.is_some() {
                    ok = false;
                    self.err_help(
                        file,
                        span(l),
                        "ICMP types together with `service`, `port` or `protocol`",
                        "ICMP types name their protocol; write a separate rule for ports",
                    );
                }
                if types.is_empty() && ok {
                    ok = false;
                    self.err(file, span(l), "the list of ICMP types is empty");
                }
                Some((f, types))
            }
            (None, None) => None,
        };
        let hop_limit = v.hop_limit.as_ref().map(|h| *h.get_ref());
        let source_port = match &v.source_port {
            Some(sp) => {
                let tcp_udp =
                    !ports.is_empty() || matches!(protocol, Some(Protocol::TCP | Protocol::UDP));
                if !port_sets.is_empty() {
                    ok = false;
                    self.err_help(
                        file,
                        span(sp),
                        "`source_port` with a set of ports",
                        "write the ports themselves with `source_port`, or split the rule",
                    );
                }
                if !tcp_udp {
                    ok = false;
                    self.err_help(
                        file,
                        span(sp),
                        "`source_port` on a rule without TCP or UDP",
                        "add `port = [..]` or `protocol = \"tcp\"`/`\"udp\"`",
                    );
                }
                match parse_port_number(sp.get_ref()) {
                    Some(r) => Some(r),
                    None => {
                        ok = false;
                        self.err_help(
                            file,
                            span(sp),
                            format!("bad source port `{}`", sp.get_ref()),
                            "one port or range without protocol, e.g. \"547\" or \"1024-65535\"",
                        );
                        None
                    }
                }
            }
            None => None,
        };
        // The one family the rule's own keys allow.
        let mut only: Option<(Family, &str)> = family.map(|f| (f, "family"));
        let keyed = [
            (icmp.as_ref().map(|(f, _)| *f), "icmp"),
            (hop_limit.map(|_| Family::Ipv6), "hop_limit"),
            (reject_with.and_then(RejectWith::family), "reject_with"),
        ];
        for (f, key) in keyed {
            let Some(f) = f else { continue };
            match only {
                Some((g, other)) if g != f => {
                    ok = false;
                    self.err_help(
                        file,
                        span(r),
                        format!(
                            "`{key}` is {} only but `{other}` is {}",
                            family_name(f),
                            family_name(g)
                        ),
                        "write one rule per family",
                    );
                }
                Some(_) => {}
                None => only = Some((f, key)),
            }
        }
        if let Some((f, key)) = only {
            if ok && !fam_ok(f) {
                ok = false;
                self.err_help(
                    file,
                    span(r),
                    format!(
                        "`{key}` makes this an {} rule but its addresses are not {}",
                        family_name(f),
                        family_name(f)
                    ),
                    "write one rule per family",
                );
            }
        }
        let item = RuleItem {
            allow,
            action,
            direction,
            family,
            from,
            to,
            ins,
            outs,
            protocol,
            ports,
            port_sets,
            rate,
            max_connections,
            log,
            reject_with,
            state,
            icmp,
            hop_limit,
            source_port,
            comment,
            lint_allow,
            origin: file.origin(span(r)),
        };
        if ok && super::lower::rule_count(&item, sets) > MAX_RULES_PER_ITEM {
            ok = false;
            self.err_help(
                file,
                span(r),
                format!("this {kind} rule expands to more than {MAX_RULES_PER_ITEM} rules"),
                "put the addresses in a set and use `@set`",
            );
        }
        ok.then_some(item)
    }

    fn forward(&mut self, file: &SourceFile, f: &Spanned<ast::PortForward>) -> Option<PortForward> {
        let v = f.get_ref();
        let mut ok = true;
        if let Err(e) = check_iface(v.in_.get_ref()) {
            ok = false;
            self.err(file, span(&v.in_), e);
        }
        let port = match parse_port(v.port.get_ref()) {
            Ok(p) => Some(p),
            Err(e) => {
                ok = false;
                self.err_help(file, span(&v.port), e, "e.g. `port = \"8080/tcp\"`");
                None
            }
        };
        let to = match parse_host_port(v.to.get_ref()) {
            Ok(t) => Some(t),
            Err(e) => {
                ok = false;
                self.err_help(file, span(&v.to), e, "e.g. `to = \"10.0.0.5:80\"`, `to = \"10.0.0.5\"` or `to = \"[2001:db8::5]:80\"`");
                None
            }
        };
        if let (Some((_, range)), Some((_, Some(_)))) = (&port, &to) {
            if !range.is_single() {
                ok = false;
                self.err_help(
                    file,
                    span(&v.to),
                    "a port range cannot be forwarded to one port",
                    "leave the port out of `to` to keep the ports",
                );
            }
        }
        let from = self.nets(file, &v.from, &mut ok);
        if let Some((addr, _)) = &to {
            if from.iter().any(|n| n.is_ipv4() != addr.is_ipv4()) {
                ok = false;
                self.err(
                    file,
                    span(&v.to),
                    "`from` and `to` are of different address families",
                );
            }
        }
        let (Some((protocol, ports)), Some((to, to_port))) = (port, to) else {
            return None;
        };
        ok.then(|| PortForward {
            in_iface: v.in_.get_ref().clone(),
            protocol,
            ports,
            to,
            to_port,
            from,
            accept: v.accept.as_ref().is_none_or(|a| *a.get_ref()),
            origin: file.origin(span(f)),
        })
    }

    fn masq(&mut self, file: &SourceFile, m: &Spanned<ast::Masquerade>) -> Option<Masq> {
        let v = m.get_ref();
        let mut ok = true;
        if let Err(e) = check_iface(v.out.get_ref()) {
            ok = false;
            self.err(file, span(&v.out), e);
        }
        let from = self.nets(file, &v.from, &mut ok);
        ok.then(|| Masq {
            out: v.out.get_ref().clone(),
            from,
            origin: file.origin(span(m)),
        })
    }

    fn snat(&mut self, file: &SourceFile, s: &Spanned<ast::SnatItem>) -> Option<Snat> {
        let v = s.get_ref();
        let mut ok = true;
        if let Err(e) = check_iface(v.out.get_ref()) {
            ok = false;
            self.err(file, span(&v.out), e);
        }
        let from = self.nets(file, &v.from, &mut ok);
        let to = match v.to.get_ref().parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                ok = false;
                self.err(
                    file,
                    span(&v.to),
                    format!("`{}` is not an IP address", v.to.get_ref()),
                );
                None
            }
        };
        if let Some(a) = to {
            if from.iter().any(|n| n.is_ipv4() != a.is_ipv4()) {
                ok = false;
                self.err(
                    file,
                    span(&v.to),
                    "`from` and `to` are of different address families",
                );
            }
        }
        let to = to?;
        ok.then(|| Snat {
            out: v.out.get_ref().clone(),
            from,
            to,
            origin: file.origin(span(s)),
        })
    }
}

enum Entry<'a> {
    Allow(&'a Spanned<ast::RuleItem>),
    Deny(&'a Spanned<ast::RuleItem>),
    Forward(&'a Spanned<ast::PortForward>),
}

pub(crate) const DEFAULT_PING_RATE: Rate = Rate {
    count: 5,
    unit: Unit::Second,
};
pub(crate) const DEFAULT_PING_BURST: u32 = 10;

/// The strings of a string-or-list with their spans.
fn items(list: &Spanned<StrList>) -> Vec<(&str, Span)> {
    match list.get_ref() {
        StrList::One(s) => vec![(s.as_str(), span(list))],
        StrList::Many(v) => v.iter().map(|s| (s.get_ref().as_str(), span(s))).collect(),
    }
}

/// Help for serde's "unknown field" message: the closest expected key.
fn unknown_key_help(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (key, tail) = rest.split_once('`')?;
    let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    let best = expected
        .iter()
        .map(|e| (edit_distance(key, e), *e))
        .min()
        .filter(|(d, _)| *d <= 2)?;
    Some(format!("did you mean `{}`?", best.1))
}

fn suggest(name: &str) -> Option<&'static str> {
    catalogue::service_catalogue()
        .iter()
        .map(|s| (edit_distance(name, s.name), s.name))
        .min()
        .filter(|(d, _)| *d <= 2)
        .map(|(_, n)| n)
}

/// Optimal-string-alignment distance (a swap of neighbours costs 1).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

pub(crate) fn fam(n: &IpNet) -> Family {
    if n.is_ipv4() {
        Family::Ipv4
    } else {
        Family::Ipv6
    }
}

fn family_of(f: ast::FamilySel) -> Family {
    match f {
        ast::FamilySel::Ipv4 => Family::Ipv4,
        ast::FamilySel::Ipv6 => Family::Ipv6,
    }
}

fn family_name(f: Family) -> &'static str {
    match f {
        Family::Ipv4 => "IPv4",
        Family::Ipv6 => "IPv6",
    }
}

/// `1.2.3.4`, `10.0.0.0/8`, `2001:db8::/32`. Host bits must be zero.
pub(crate) fn parse_net(s: &str) -> Result<IpNet, String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("`{s}` is not an IP address or network"))?;
    let net = match prefix {
        None => IpNet::host(ip),
        Some(p) => {
            let len: u8 = p
                .parse()
                .map_err(|_| format!("`{p}` is not a prefix length in `{s}`"))?;
            IpNet::new(ip, len).ok_or_else(|| format!("prefix /{len} is too long for `{addr}`"))?
        }
    };
    if net.addr() != ip {
        return Err(format!("`{s}` has host bits set; the network is `{net}`"));
    }
    Ok(net)
}

/// `22/tcp`, `1000-2000/udp` (also `1000:2000/udp`).
pub(crate) fn parse_port(s: &str) -> Result<(Protocol, PortRange), String> {
    let Some((ports, proto)) = s.split_once('/') else {
        return Err(format!("port `{s}` has no protocol"));
    };
    let proto = match proto {
        "tcp" => Protocol::TCP,
        "udp" => Protocol::UDP,
        _ => {
            return Err(format!(
                "unknown port protocol `{proto}` in `{s}` (tcp or udp)"
            ))
        }
    };
    let num = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(0) => Err(format!("port 0 in `{s}`")),
            Ok(n) => Ok(n),
            Err(_) => Err(format!("`{p}` is not a port number (1-65535) in `{s}`")),
        }
    };
    let range = match ports.split_once(['-', ':']) {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            PortRange::new(a, b).ok_or_else(|| format!("port range `{ports}` is backwards"))?
        }
        None => PortRange::single(num(ports)?),
    };
    Ok((proto, range))
}

/// `10.0.0.5`, `10.0.0.5:80`, `[2001:db8::5]:80`, `2001:db8::5`.
pub(crate) fn parse_host_port(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    let bad = || format!("`{s}` is not ADDRESS or ADDRESS:PORT");
    let port = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("`{p}` is not a port number (1-65535)")),
            Ok(n) => Ok(n),
        }
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (a, tail) = rest.split_once(']').ok_or_else(bad)?;
        let ip: std::net::Ipv6Addr = a.parse().map_err(|_| bad())?;
        let p = match tail {
            "" => None,
            t => Some(port(t.strip_prefix(':').ok_or_else(bad)?)?),
        };
        return Ok((IpAddr::V6(ip), p));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    let (a, p) = s.rsplit_once(':').ok_or_else(bad)?;
    let ip: std::net::Ipv4Addr = a.parse().map_err(|_| bad())?;
    Ok((IpAddr::V4(ip), Some(port(p)?)))
}

/// `4/minute`, `10/s`, `1/hour`.
pub(crate) fn parse_rate(s: &str) -> Result<Rate, String> {
    let (n, unit) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not a rate"))?;
    let count: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}` is not a count in rate `{s}`"))?;
    if count == 0 || count > 10_000 {
        return Err(format!("rate count {count} is out of range 1..=10000"));
    }
    let unit = match unit.trim() {
        "s" | "sec" | "second" => Unit::Second,
        "m" | "min" | "minute" => Unit::Minute,
        "h" | "hour" => Unit::Hour,
        "d" | "day" => Unit::Day,
        u => return Err(format!("unknown rate unit `{u}` in `{s}`")),
    };
    Ok(Rate { count, unit })
}

/// `3600`, `45s`, `30m`, `12h`, `1d`, `1w` -> seconds (at most ipset's
/// limit of 2147483 s).
fn parse_duration(v: &StrOrInt) -> Result<u32, String> {
    const MAX: u64 = 2_147_483;
    let secs: u64 = match v {
        StrOrInt::Int(n) => u64::try_from(*n).map_err(|_| format!("negative timeout {n}"))?,
        StrOrInt::Str(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let n: u64 = num
                .parse()
                .map_err(|_| format!("`{s}` is not a duration"))?;
            let mul = match unit {
                "" | "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                "w" => 604_800,
                _ => return Err(format!("unknown duration unit `{unit}` in `{s}`")),
            };
            n.saturating_mul(mul)
        }
    };
    if secs > MAX {
        return Err(format!(
            "timeout {secs}s is longer than ipset's maximum {MAX}s"
        ));
    }
    u32::try_from(secs).map_err(|_| "timeout too long".to_string())
}

fn check_iface(s: &str) -> Result<(), String> {
    let body = s.strip_suffix('+').unwrap_or(s);
    if s.is_empty() || s.len() > 15 {
        return Err(format!("interface name `{s}` must be 1 to 15 characters"));
    }
    if body
        .contains(|c: char| c.is_whitespace() || c == '/' || c == '+' || c == '!' || c.is_control())
    {
        return Err(format!("invalid interface name `{s}`"));
    }
    Ok(())
}

/// `--reject-with` names.
pub(crate) fn reject_type(name: &str) -> Option<RejectWith> {
    use RejectWith::*;
    Some(match name {
        "icmp-net-unreachable" => IcmpNetUnreachable,
        "icmp-host-unreachable" => IcmpHostUnreachable,
        "icmp-port-unreachable" => IcmpPortUnreachable,
        "icmp-proto-unreachable" => IcmpProtoUnreachable,
        "icmp-net-prohibited" => IcmpNetProhibited,
        "icmp-host-prohibited" => IcmpHostProhibited,
        "icmp-admin-prohibited" => IcmpAdminProhibited,
        "icmp6-no-route" => Icmp6NoRoute,
        "icmp6-adm-prohibited" => Icmp6AdmProhibited,
        "icmp6-addr-unreachable" => Icmp6AddrUnreachable,
        "icmp6-port-unreachable" => Icmp6PortUnreachable,
        "icmp6-policy-fail" => Icmp6PolicyFail,
        "icmp6-reject-route" => Icmp6RejectRoute,
        "tcp-reset" => TcpReset,
        _ => return None,
    })
}

/// ICMP type names of the native format (whole types), per family.
pub(crate) const ICMP_TYPE_NAMES: &[(&str, u8)] = &[
    ("echo-reply", 0),
    ("destination-unreachable", 3),
    ("source-quench", 4),
    ("redirect", 5),
    ("echo-request", 8),
    ("router-advertisement", 9),
    ("router-solicitation", 10),
    ("time-exceeded", 11),
    ("parameter-problem", 12),
    ("timestamp-request", 13),
    ("timestamp-reply", 14),
];

/// ICMPv6 type names of the native format (whole types).
pub(crate) const ICMPV6_TYPE_NAMES: &[(&str, u8)] = &[
    ("destination-unreachable", 1),
    ("packet-too-big", 2),
    ("time-exceeded", 3),
    ("parameter-problem", 4),
    ("echo-request", 128),
    ("echo-reply", 129),
    ("mld-listener-query", 130),
    ("mld-listener-report", 131),
    ("mld-listener-done", 132),
    ("router-solicitation", 133),
    ("router-advertisement", 134),
    ("neighbour-solicitation", 135),
    ("neighbour-advertisement", 136),
    ("redirect", 137),
    ("mld2-listener-report", 143),
];

/// `echo-request`, `8` or `3/4` (type/code).
pub(crate) fn parse_icmp_type(s: &str, family: Family) -> Option<IcmpType> {
    let names = match family {
        Family::Ipv4 => ICMP_TYPE_NAMES,
        Family::Ipv6 => ICMPV6_TYPE_NAMES,
    };
    if let Some((_, t)) = names.iter().find(|(n, _)| *n == s) {
        return Some(IcmpType::with_any_code(*t));
    }
    let num = |x: &str| -> Option<u8> {
        (!x.is_empty() && x.len() <= 3 && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse().ok())
            .flatten()
    };
    match s.split_once('/') {
        Some((t, c)) => Some(IcmpType::with_code(num(t)?, num(c)?)),
        None => Some(IcmpType::with_any_code(num(s)?)),
    }
}

/// The native spelling of an ICMP type: its name, `TYPE` or `TYPE/CODE`;
/// `None` for code ranges and `any`, which the format cannot say.
pub(crate) fn icmp_type_str(t: &IcmpType, family: Family) -> Option<String> {
    let names = match family {
        Family::Ipv4 => ICMP_TYPE_NAMES,
        Family::Ipv6 => ICMPV6_TYPE_NAMES,
    };
    if t.code_min == 0 && t.code_max == 0xff {
        if t.icmp_type == 0xff && family == Family::Ipv4 {
            return None;
        }
        return Some(
            names
                .iter()
                .find(|(_, n)| *n == t.icmp_type)
                .map_or_else(|| t.icmp_type.to_string(), |(name, _)| (*name).to_string()),
        );
    }
    (t.code_min == t.code_max).then(|| format!("{}/{}", t.icmp_type, t.code_min))
}

/// `547` or `1024-65535`.
fn parse_port_number(s: &str) -> Option<PortRange> {
    let num = |x: &str| -> Option<u16> {
        (!x.is_empty() && x.len() <= 5 && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse().ok())
            .flatten()
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (first, last) = (num(a)?, num(b)?);
            (first <= last).then_some(PortRange { first, last })
        }
        None => num(s).map(PortRange::single),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values() {
        assert!(parse_net("10.0.0.1/8").is_err());
        assert_eq!(
            parse_net("10.0.0.0/8").map(|n| n.to_string()),
            Ok("10.0.0.0/8".into())
        );
        assert_eq!(
            parse_port("22/tcp"),
            Ok((Protocol::TCP, PortRange::single(22)))
        );
        assert!(parse_port("22").is_err());
        assert!(parse_port("0/tcp").is_err());
        assert_eq!(
            parse_host_port("[2001:db8::5]:80"),
            Ok(("2001:db8::5".parse().expect("literal"), Some(80)))
        );
        assert_eq!(
            parse_host_port("10.0.0.5"),
            Ok(("10.0.0.5".parse().expect("literal"), None))
        );
        assert_eq!(
            parse_rate("4/minute"),
            Ok(Rate {
                count: 4,
                unit: Unit::Minute
            })
        );
        assert_eq!(parse_duration(&StrOrInt::Str("1d".into())), Ok(86_400));
        assert!(parse_duration(&StrOrInt::Int(-1)).is_err());
        assert_eq!(
            unknown_key_help("unknown field `prot`, expected one of `port`, `from`"),
            Some("did you mean `port`?".into())
        );
    }
}
