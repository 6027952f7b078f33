//! # rampart-model
//!
//! The one policy model every rampart front end lowers to and every back end
//! reads from: tables, chains, rules, matches, targets and named sets, for IPv4
//! and IPv6. It carries the full meaning of an `iptables-save` dump of the
//! filter, nat, mangle, raw and security tables, plus the kernel settings
//! (sysctls) a firewall script touches.
//!
//! The crate does no I/O and no parsing; it is plain data with a few helpers.
//! Every rule may carry an [`Origin`] (file, line, column) so that later stages
//! (compile errors, `rampart why`, `rampart status`) can point back at the
//! source line.
//!
//! ```
//! use rampart_model::*;
//! let mut policy = Policy::default();
//! let table = policy.table_mut(Family::Ipv4, TableKind::Filter);
//! let input = table.chain_mut("INPUT").expect("built-in chain exists");
//! input.policy = Some(ChainPolicy::Drop);
//! input.rules.push(Rule {
//!     protocol: Some(Neg::new(Protocol::TCP)),
//!     matches: vec![Match::Tcp(matches::tcp::Tcp {
//!         dport: Some(Neg::new(PortRange::single(22))),
//!         ..Default::default()
//!     })],
//!     target: Some(Target::Accept),
//!     ..Default::default()
//! });
//! assert_eq!(policy.rule_count(), 1);
//! ```

use serde::{Deserialize, Serialize};

pub mod addr;
pub mod matches;
pub mod set;
pub mod targets;

pub use addr::{IpNet, IpText, MacAddr};
pub use matches::Match;
pub use set::{ElemPart, IpSet, SetElement, SetKind};
pub use targets::Target;

/// Address family of an iptables table (`iptables` vs `ip6tables`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    /// The tool name users know this family by.
    pub fn tool(self) -> &'static str {
        match self {
            Family::Ipv4 => "iptables",
            Family::Ipv6 => "ip6tables",
        }
    }
}

/// The five netfilter tables an iptables dump can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TableKind {
    Filter,
    Nat,
    Mangle,
    Raw,
    Security,
}

impl TableKind {
    pub const ALL: [TableKind; 5] = [
        TableKind::Raw,
        TableKind::Mangle,
        TableKind::Nat,
        TableKind::Filter,
        TableKind::Security,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TableKind::Filter => "filter",
            TableKind::Nat => "nat",
            TableKind::Mangle => "mangle",
            TableKind::Raw => "raw",
            TableKind::Security => "security",
        }
    }

    pub fn from_name(name: &str) -> Option<TableKind> {
        Some(match name {
            "filter" => TableKind::Filter,
            "nat" => TableKind::Nat,
            "mangle" => TableKind::Mangle,
            "raw" => TableKind::Raw,
            "security" => TableKind::Security,
            _ => return None,
        })
    }

    /// Built-in chains of this table, in the order iptables-save prints them.
    pub fn builtin_chains(self) -> &'static [Hook] {
        use Hook::*;
        match self {
            TableKind::Filter | TableKind::Security => &[Input, Forward, Output],
            TableKind::Nat => &[Prerouting, Input, Output, Postrouting],
            TableKind::Mangle => &[Prerouting, Input, Forward, Output, Postrouting],
            TableKind::Raw => &[Prerouting, Output],
        }
    }
}

/// A netfilter hook, i.e. the name of a built-in chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

impl Hook {
    pub fn name(self) -> &'static str {
        match self {
            Hook::Prerouting => "PREROUTING",
            Hook::Input => "INPUT",
            Hook::Forward => "FORWARD",
            Hook::Output => "OUTPUT",
            Hook::Postrouting => "POSTROUTING",
        }
    }

    pub fn from_name(name: &str) -> Option<Hook> {
        Some(match name {
            "PREROUTING" => Hook::Prerouting,
            "INPUT" => Hook::Input,
            "FORWARD" => Hook::Forward,
            "OUTPUT" => Hook::Output,
            "POSTROUTING" => Hook::Postrouting,
            _ => return None,
        })
    }
}

/// Where a model item came from: a file, line and column (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A value with an optional `!` in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Neg<T> {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invert: bool,
    pub value: T,
}

impl<T> Neg<T> {
    pub fn new(value: T) -> Self {
        Neg {
            invert: false,
            value,
        }
    }
    pub fn inverted(value: T, invert: bool) -> Self {
        Neg { invert, value }
    }
}

/// Packet and byte counters, as kept by the kernel per rule and per base chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

/// An IP protocol number (`-p`). `0` is "all" and is represented as no match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Protocol(pub u8);

impl Protocol {
    pub const ICMP: Protocol = Protocol(1);
    pub const IGMP: Protocol = Protocol(2);
    pub const TCP: Protocol = Protocol(6);
    pub const UDP: Protocol = Protocol(17);
    pub const GRE: Protocol = Protocol(47);
    pub const ESP: Protocol = Protocol(50);
    pub const AH: Protocol = Protocol(51);
    pub const ICMPV6: Protocol = Protocol(58);
    pub const SCTP: Protocol = Protocol(132);
    pub const MH: Protocol = Protocol(135);
    pub const UDPLITE: Protocol = Protocol(136);
    pub const DCCP: Protocol = Protocol(33);

    /// Protocol names as `/etc/protocols` on Debian spells them (what
    /// iptables-save prints), plus the aliases iptables accepts on input.
    pub const NAMES: &'static [(&'static str, u8)] = &[
        ("icmp", 1),
        ("igmp", 2),
        ("ipencap", 4),
        ("st", 5),
        ("tcp", 6),
        ("egp", 8),
        ("igp", 9),
        ("pup", 12),
        ("udp", 17),
        ("hmp", 20),
        ("xns-idp", 22),
        ("rdp", 27),
        ("iso-tp4", 29),
        ("dccp", 33),
        ("xtp", 36),
        ("ddp", 37),
        ("idpr-cmtp", 38),
        ("ipv6", 41),
        ("ipv6-route", 43),
        ("ipv6-frag", 44),
        ("idrp", 45),
        ("rsvp", 46),
        ("gre", 47),
        ("esp", 50),
        ("ah", 51),
        ("skip", 57),
        ("ipv6-icmp", 58),
        ("ipv6-nonxt", 59),
        ("ipv6-opts", 60),
        ("rspf", 73),
        ("vmtp", 81),
        ("eigrp", 88),
        ("ospf", 89),
        ("ax.25", 93),
        ("ipip", 94),
        ("etherip", 97),
        ("encap", 98),
        ("pim", 103),
        ("ipcomp", 108),
        ("vrrp", 112),
        ("l2tp", 115),
        ("isis", 124),
        ("sctp", 132),
        ("fc", 133),
        ("mobility-header", 135),
        ("udplite", 136),
        ("mpls-in-ip", 137),
        ("manet", 138),
        ("hip", 139),
        ("shim6", 140),
        ("wesp", 141),
        ("rohc", 142),
        ("ethernet", 143),
    ];

    /// Extra input spellings accepted by iptables.
    pub const ALIASES: &'static [(&'static str, u8)] = &[
        ("icmpv6", 58),
        ("ipv6-mh", 135),
        ("mh", 135),
        ("ip", 0),
        ("all", 0),
    ];

    /// Looks a protocol up by name (case-insensitive) or number.
    pub fn parse(s: &str) -> Option<Protocol> {
        if let Ok(n) = s.parse::<u16>() {
            return u8::try_from(n).ok().map(Protocol);
        }
        let lower = s.to_ascii_lowercase();
        Self::NAMES
            .iter()
            .chain(Self::ALIASES.iter())
            .find(|(n, _)| *n == lower)
            .map(|&(_, p)| Protocol(p))
    }

    /// The name iptables-save prints, or `None` when it prints the number.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|&&(_, p)| p == self.0)
            .map(|&(n, _)| n)
    }

    /// True for the protocols that carry 16-bit source and destination ports.
    pub fn has_ports(self) -> bool {
        matches!(self.0, 6 | 17 | 33 | 132 | 136)
    }
}

/// An interface name as in `-i eth0` or `-o br+` (`+` is a trailing wildcard).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Iface(pub String);

impl Iface {
    /// Linux limits interface names to 15 bytes (IFNAMSIZ - 1).
    pub const MAX_LEN: usize = 15;

    pub fn is_wildcard(&self) -> bool {
        self.0.ends_with('+')
    }

    /// `+` alone matches every interface.
    pub fn matches_all(&self) -> bool {
        self.0 == "+"
    }

    /// Does the pattern match a concrete interface name?
    pub fn matches(&self, name: &str) -> bool {
        match self.0.strip_suffix('+') {
            Some(prefix) => name.starts_with(prefix),
            None => self.0 == name,
        }
    }
}

/// An inclusive port range; `first == last` is a single port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    pub const ALL: PortRange = PortRange {
        first: 0,
        last: 65535,
    };

    pub fn single(port: u16) -> Self {
        PortRange {
            first: port,
            last: port,
        }
    }

    pub fn new(first: u16, last: u16) -> Option<Self> {
        (first <= last).then_some(PortRange { first, last })
    }

    pub fn contains(&self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }

    pub fn is_single(&self) -> bool {
        self.first == self.last
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}:{}", self.first, self.last)
        }
    }
}

/// A whole policy: tables of both families, named sets and kernel settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Policy {
    pub tables: Vec<Table>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sets: Vec<IpSet>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sysctls: Vec<Sysctl>,
}

impl Policy {
    /// The table of this family and kind, if the policy has it.
    pub fn table(&self, family: Family, kind: TableKind) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.family == family && t.kind == kind)
    }

    /// The table of this family and kind, created with its built-in chains
    /// (policy ACCEPT) when missing.
    pub fn table_mut(&mut self, family: Family, kind: TableKind) -> &mut Table {
        let idx = match self
            .tables
            .iter()
            .position(|t| t.family == family && t.kind == kind)
        {
            Some(i) => i,
            None => {
                self.tables.push(Table::new(family, kind));
                self.tables.len() - 1
            }
        };
        &mut self.tables[idx]
    }

    pub fn set(&self, name: &str) -> Option<&IpSet> {
        self.sets.iter().find(|s| s.name == name)
    }

    pub fn set_mut(&mut self, name: &str) -> Option<&mut IpSet> {
        self.sets.iter_mut().find(|s| s.name == name)
    }

    /// Families that have at least one table.
    pub fn families(&self) -> Vec<Family> {
        let mut f: Vec<Family> = self.tables.iter().map(|t| t.family).collect();
        f.sort();
        f.dedup();
        f
    }

    pub fn rule_count(&self) -> usize {
        self.tables
            .iter()
            .flat_map(|t| &t.chains)
            .map(|c| c.rules.len())
            .sum()
    }

    /// Drops every [`Origin`] (useful to compare two imports of the same
    /// ruleset from different files).
    pub fn strip_origins(&mut self) {
        for rule in self
            .tables
            .iter_mut()
            .flat_map(|t| &mut t.chains)
            .flat_map(|c| &mut c.rules)
        {
            rule.origin = None;
        }
        for set in &mut self.sets {
            set.origin = None;
        }
        for s in &mut self.sysctls {
            s.origin = None;
        }
    }
}

/// One iptables table of one family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub family: Family,
    pub kind: TableKind,
    /// Built-in chains first (in iptables order), then user chains in the
    /// order they were created.
    pub chains: Vec<Chain>,
}

impl Table {
    /// A table with its built-in chains, each with policy ACCEPT and no rules.
    pub fn new(family: Family, kind: TableKind) -> Self {
        let chains = kind
            .builtin_chains()
            .iter()
            .map(|h| Chain {
                name: h.name().to_string(),
                policy: Some(ChainPolicy::Accept),
                counters: None,
                rules: Vec::new(),
            })
            .collect();
        Table {
            family,
            kind,
            chains,
        }
    }

    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }

    pub fn chain_mut(&mut self, name: &str) -> Option<&mut Chain> {
        self.chains.iter_mut().find(|c| c.name == name)
    }

    /// Is `name` a built-in chain of this table?
    pub fn is_builtin(&self, name: &str) -> bool {
        Hook::from_name(name).is_some_and(|h| self.kind.builtin_chains().contains(&h))
    }

    /// Adds a user chain (no policy); returns false when it already exists.
    pub fn add_user_chain(&mut self, name: &str) -> bool {
        if self.chain(name).is_some() {
            return false;
        }
        self.chains.push(Chain {
            name: name.to_string(),
            policy: None,
            counters: None,
            rules: Vec::new(),
        });
        true
    }
}

/// Policy of a built-in chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChainPolicy {
    Accept,
    Drop,
}

impl ChainPolicy {
    pub fn name(self) -> &'static str {
        match self {
            ChainPolicy::Accept => "ACCEPT",
            ChainPolicy::Drop => "DROP",
        }
    }
}

/// A chain: built-in (with a policy) or user-defined (policy `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
    pub name: String,
    pub policy: Option<ChainPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<Counters>,
    pub rules: Vec<Rule>,
}

/// One rule: generic matches, match extensions in order, and a target.
///
/// Comma lists in `-s`/`-d` are expanded by the front ends into one rule per
/// address pair, as iptables itself does, so each rule holds one address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Neg<IpNet>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Neg<IpNet>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_iface: Option<Neg<Iface>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_iface: Option<Neg<Iface>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Neg<Protocol>>,
    /// `-f` (true: only non-first fragments) / `! -f` (false). IPv4 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fragment: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<Match>,
    /// `None`: a rule without `-j`, which only counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<Counters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// Lint findings silenced for this rule, by code or name (`R007`,
    /// `exposed-admin-port`); `lint = { allow = [...] }` in the native
    /// format. Not part of the rule's meaning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lint_allow: Vec<String>,
}

impl Rule {
    /// Equality of meaning: ignores counters, origin and `lint_allow`.
    pub fn same_spec(&self, other: &Rule) -> bool {
        self.source == other.source
            && self.destination == other.destination
            && self.in_iface == other.in_iface
            && self.out_iface == other.out_iface
            && self.protocol == other.protocol
            && self.fragment == other.fragment
            && self.matches == other.matches
            && self.target == other.target
    }
}

/// A kernel setting a firewall script sets, e.g. `net.ipv4.ip_forward = 1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sysctl {
    /// Dotted key, e.g. `net.ipv4.conf.all.rp_filter`.
    pub key: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}
