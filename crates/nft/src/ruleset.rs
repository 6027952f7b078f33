//! The typed nftables ruleset: what [`crate::lower`] produces and what the
//! text printer ([`crate::print`]) and the JSON printer ([`crate::json`])
//! walk. Every node maps onto one netlink object or expression
//! (`NFT_MSG_NEWTABLE`, `NEWCHAIN`, `NEWSET`/`NEWSETELEM`, `NEWRULE` with
//! one statement list), so a netlink encoder can walk the same tree.

use rampart_model::{MacAddr, Origin};
use std::net::IpAddr;

/// A whole transaction: tables with their sets and chains.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    pub tables: Vec<Table>,
}

impl Ruleset {
    pub fn table(&self, family: TableFamily, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.family == family && t.name == name)
    }
}

/// The nftables address family of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableFamily {
    Inet,
    Ip,
    Ip6,
}

impl TableFamily {
    pub fn name(self) -> &'static str {
        match self {
            TableFamily::Inet => "inet",
            TableFamily::Ip => "ip",
            TableFamily::Ip6 => "ip6",
        }
    }
}

/// One table owned by rampart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub family: TableFamily,
    pub name: String,
    pub sets: Vec<Set>,
    pub chains: Vec<Chain>,
}

/// The data type of one part of a set key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    Ipv4Addr,
    Ipv6Addr,
    InetProto,
    InetService,
    EtherAddr,
    /// An interface name (`iifname`/`oifname` sets).
    Ifname,
}

impl KeyType {
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ipv4Addr => "ipv4_addr",
            KeyType::Ipv6Addr => "ipv6_addr",
            KeyType::InetProto => "inet_proto",
            KeyType::InetService => "inet_service",
            KeyType::EtherAddr => "ether_addr",
            KeyType::Ifname => "ifname",
        }
    }
}

/// A named set (`set NAME { type ...; flags ...; elements = { ... } }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    pub name: String,
    /// One entry per concatenated part (`ipv4_addr . inet_proto . inet_service`).
    pub key: Vec<KeyType>,
    /// `flags interval`: elements are prefixes or ranges.
    pub interval: bool,
    /// `flags timeout`: elements expire.
    pub timeout_flag: bool,
    /// `auto-merge`: overlapping intervals are merged on load (the union is
    /// what a lookup sees, as with ipset's overlapping hash:net entries).
    pub auto_merge: bool,
    /// Default element timeout in seconds.
    pub timeout: Option<u32>,
    /// `flags dynamic`: rules add, update or delete elements from the
    /// packet path ([`Stmt::SetUpdate`]).
    pub dynamic: bool,
    /// Maximum number of elements.
    pub size: Option<u32>,
    pub elements: Vec<Element>,
}

/// One set element: one expression per key part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub key: Vec<Expr>,
    pub timeout: Option<u32>,
    pub comment: Option<String>,
}

/// A chain; base chains have a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub name: String,
    pub base: Option<BaseChain>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainType {
    Filter,
    Nat,
    Route,
}

impl ChainType {
    pub fn name(self) -> &'static str {
        match self {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
            ChainType::Route => "route",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
        }
    }
}

/// A chain priority: its number and, when it has one, nft's name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    pub value: i32,
    pub name: Option<&'static str>,
}

impl Priority {
    pub const RAW: Priority = Priority::named(-300, "raw");
    pub const MANGLE: Priority = Priority::named(-150, "mangle");
    pub const DSTNAT: Priority = Priority::named(-100, "dstnat");
    pub const FILTER: Priority = Priority::named(0, "filter");
    pub const SECURITY: Priority = Priority::named(50, "security");
    pub const SRCNAT: Priority = Priority::named(100, "srcnat");

    pub const fn named(value: i32, name: &'static str) -> Self {
        Priority {
            value,
            name: Some(name),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainPolicy {
    Accept,
    Drop,
}

/// Hook, type, priority and policy of a base chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaseChain {
    pub kind: ChainType,
    pub hook: Hook,
    pub priority: Priority,
    pub policy: ChainPolicy,
}

/// One rule: statements evaluated left to right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub stmts: Vec<Stmt>,
    pub comment: Option<String>,
    /// The policy rule this came from (not sent to the kernel); the first
    /// of [`Rule::origins`] when the optimiser merged several rules.
    pub origin: Option<Origin>,
    /// Every policy rule this nft rule stands for, in source order: one for
    /// a lowered rule, several after [`crate::optimize`] merged a run of
    /// rules (which then share one counter). Not sent to the kernel.
    pub origins: Vec<Origin>,
}

/// A statement of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stmt {
    /// `LEFT OP RIGHT`.
    Match(Match),
    Counter,
    Limit(Limit),
    Log(Log),
    Reject(Reject),
    Nat(Nat),
    /// `LEFT set VALUE` (`meta mark set ...`, `ct mark set ...`,
    /// `tcp option maxseg size set ...`, `ct zone set ...`).
    Mangle {
        target: Expr,
        value: Expr,
    },
    Notrack,
    Queue(Queue),
    Verdict(Verdict),
    /// `add|update|delete @set { KEY [timeout T] [STMT ...] }`: changes a
    /// set from the packet path (the kernel's dynset expression); the
    /// statements inside (a [`Stmt::Limit`], a [`Stmt::CtCount`]) keep
    /// their state per element. The rule stops here when the statement
    /// inside does not match.
    SetUpdate(SetUpdate),
    /// `ct count [over] N`: the number of tracked connections (per set
    /// element when inside a [`Stmt::SetUpdate`]) is at most N (`over`: more
    /// than N).
    CtCount {
        count: u32,
        over: bool,
    },
}

/// What a [`Stmt::SetUpdate`] does with the element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// Insert when absent; an element already there is left alone.
    Add,
    /// Insert when absent; refresh the timeout of one already there.
    Update,
    Delete,
}

impl SetOp {
    pub fn name(self) -> &'static str {
        match self {
            SetOp::Add => "add",
            SetOp::Update => "update",
            SetOp::Delete => "delete",
        }
    }
}

/// See [`Stmt::SetUpdate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetUpdate {
    pub op: SetOp,
    /// The set's name (without `@`).
    pub set: String,
    /// The element key taken from the packet (`ip saddr`, `ip saddr & MASK
    /// . tcp dport`).
    pub key: Expr,
    /// Element timeout in seconds; `None`: the set's default.
    pub timeout: Option<u32>,
    /// Per-element statements.
    pub stmts: Vec<Stmt>,
}

impl Stmt {
    /// `LEFT == RIGHT` (printed without the operator).
    pub fn eq(left: Expr, right: Expr) -> Stmt {
        Stmt::Match(Match {
            left,
            op: Op::Eq,
            right,
        })
    }

    pub fn cmp(left: Expr, op: Op, right: Expr) -> Stmt {
        Stmt::Match(Match { left, op, right })
    }

    /// Statements that keep state between packets: a rule must not be
    /// split into alternatives after one of them.
    pub fn is_stateful(&self) -> bool {
        matches!(
            self,
            Stmt::Limit(_) | Stmt::SetUpdate(_) | Stmt::CtCount { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub left: Expr,
    pub op: Op,
    pub right: Expr,
}

/// A relational operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    /// Bit test: `(LEFT & RIGHT) != 0` (`ct status snat,dnat`).
    AnyBit,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::AnyBit => "in",
        }
    }
}

/// Packet header a payload field is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Ether,
    Ip,
    Ip6,
    Tcp,
    Udp,
    Udplite,
    Sctp,
    Dccp,
    Icmp,
    Icmpv6,
    /// The transport header of any protocol (`th`).
    Th,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Ether => "ether",
            Proto::Ip => "ip",
            Proto::Ip6 => "ip6",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Udplite => "udplite",
            Proto::Sctp => "sctp",
            Proto::Dccp => "dccp",
            Proto::Icmp => "icmp",
            Proto::Icmpv6 => "icmpv6",
            Proto::Th => "th",
        }
    }
}

/// `meta` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKey {
    Nfproto,
    L4proto,
    Iifname,
    Oifname,
    Mark,
    Length,
    Pkttype,
    Skuid,
    Skgid,
}

impl MetaKey {
    pub fn name(self) -> &'static str {
        match self {
            MetaKey::Nfproto => "nfproto",
            MetaKey::L4proto => "l4proto",
            MetaKey::Iifname => "iifname",
            MetaKey::Oifname => "oifname",
            MetaKey::Mark => "mark",
            MetaKey::Length => "length",
            MetaKey::Pkttype => "pkttype",
            MetaKey::Skuid => "skuid",
            MetaKey::Skgid => "skgid",
        }
    }

    /// Keys nft prints without the `meta` keyword.
    pub fn unqualified(self) -> bool {
        matches!(self, MetaKey::Iifname | MetaKey::Oifname)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtDir {
    Original,
    Reply,
}

impl CtDir {
    pub fn name(self) -> &'static str {
        match self {
            CtDir::Original => "original",
            CtDir::Reply => "reply",
        }
    }
}

/// `ct` keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtKey {
    State,
    Status,
    Direction,
    Mark,
    Expiration,
    Protocol,
    /// `ip saddr` / `ip6 saddr` of a tuple.
    Saddr(Proto),
    Daddr(Proto),
    ProtoSrc,
    ProtoDst,
    Zone,
}

impl CtKey {
    pub fn name(self) -> String {
        match self {
            CtKey::State => "state".into(),
            CtKey::Status => "status".into(),
            CtKey::Direction => "direction".into(),
            CtKey::Mark => "mark".into(),
            CtKey::Expiration => "expiration".into(),
            CtKey::Protocol => "protocol".into(),
            CtKey::Saddr(p) => format!("{} saddr", p.name()),
            CtKey::Daddr(p) => format!("{} daddr", p.name()),
            CtKey::ProtoSrc => "proto-src".into(),
            CtKey::ProtoDst => "proto-dst".into(),
            CtKey::Zone => "zone".into(),
        }
    }
}

/// An expression: a packet/metadata value, a constant, or a compound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Payload {
        proto: Proto,
        field: &'static str,
    },
    Meta(MetaKey),
    Ct {
        dir: Option<CtDir>,
        key: CtKey,
    },
    /// `fib saddr . iif type`: route type of an address.
    Fib {
        daddr: bool,
        iif: bool,
        oif: bool,
    },
    /// `rt mtu` (TCP MSS of the route: the route MTU minus headers).
    RtMtu,
    /// `tcp option NAME|KIND` (compared with `exists`/`missing`).
    TcpOptionExists {
        kind: u8,
    },
    /// `tcp option maxseg size`.
    TcpMaxseg,
    /// `LEFT & MASK`.
    And(Box<Expr>, Box<Expr>),
    /// `LEFT & !MASK ^ XOR` on a value (mark rewrites).
    AndXor {
        base: Box<Expr>,
        and: u32,
        xor: u32,
    },
    /// `a . b . c`.
    Concat(Vec<Expr>),
    Num(u64),
    /// A 32-bit value printed in hex (marks).
    Hex(u32),
    /// A symbolic constant (`established`, `tcp`, `echo-request`).
    Sym(String),
    /// A quoted string (interface names; `*` is a trailing wildcard).
    Str(String),
    Addr(IpAddr),
    Prefix(IpAddr, u8),
    Mac(MacAddr),
    /// Milliseconds (`10000ms`).
    Millis(u64),
    Range(Box<Expr>, Box<Expr>),
    /// `(a|b)`: a bit mask built from symbolic flags.
    Bits(Vec<String>),
    /// `a,b`: the right side of an [`Op::AnyBit`] test.
    FlagList(Vec<String>),
    /// `{ a, b }`: an anonymous set.
    AnonSet(Vec<Expr>),
    /// `@name`.
    SetRef(String),
    /// `true`/`false` of `exists`.
    Bool(bool),
}

impl Expr {
    pub fn sym(s: impl Into<String>) -> Expr {
        Expr::Sym(s.into())
    }
    pub fn range(a: Expr, b: Expr) -> Expr {
        Expr::Range(Box::new(a), Box::new(b))
    }
    pub fn and(a: Expr, mask: Expr) -> Expr {
        Expr::And(Box::new(a), Box::new(mask))
    }
    pub fn payload(proto: Proto, field: &'static str) -> Expr {
        Expr::Payload { proto, field }
    }
    pub fn ct(key: CtKey) -> Expr {
        Expr::Ct { dir: None, key }
    }
}

/// `limit rate [over] N/UNIT burst B packets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub rate: u64,
    pub unit: &'static str,
    pub burst: u32,
    /// `over`: match when the rate is exceeded (`--hashlimit-above`)
    /// rather than while it is not (`-m limit`, `--hashlimit-upto`).
    pub over: bool,
}

/// `log ...` (LOG: prefix/level/flags; NFLOG: group/prefix/snaplen/threshold).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Log {
    pub prefix: Option<String>,
    pub level: Option<&'static str>,
    /// `tcp sequence`, `tcp options`, `ip options`, `skuid`, `ether`.
    pub flags: Vec<&'static str>,
    pub group: Option<u16>,
    pub snaplen: Option<u32>,
    pub queue_threshold: Option<u16>,
}

/// `reject [with ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    Icmp(&'static str),
    Icmpv6(&'static str),
    TcpReset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatKind {
    Snat,
    Dnat,
    Masquerade,
    Redirect,
}

impl NatKind {
    pub fn name(self) -> &'static str {
        match self {
            NatKind::Snat => "snat",
            NatKind::Dnat => "dnat",
            NatKind::Masquerade => "masquerade",
            NatKind::Redirect => "redirect",
        }
    }
}

/// `snat|dnat [prefix] to ADDR[:PORT] [flags]`, `masquerade|redirect [to :PORT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nat {
    pub kind: NatKind,
    /// `prefix`: map the network part only (NETMAP).
    pub prefix: bool,
    pub addr: Option<Expr>,
    pub port: Option<Expr>,
    /// `random`, `fully-random`, `persistent`.
    pub flags: Vec<&'static str>,
}

/// `queue num N|A-B [bypass,fanout]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub num: Expr,
    pub bypass: bool,
    pub fanout: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
    Return,
    Jump(String),
    Goto(String),
}
