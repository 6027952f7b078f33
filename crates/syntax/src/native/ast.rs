//! The serde shape of a native policy file, exactly as written: strings are
//! kept as strings (with their spans) and checked later, in `check`, so that
//! one run reports every semantic error of a file.
//!
//! Every struct denies unknown keys: a typo such as `prot = "22/tcp"` is an
//! error at the key, never silently ignored.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// A whole file (the main policy or an included fragment).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct File {
    #[serde(default)]
    pub include: Option<Spanned<StrList>>,
    #[serde(default)]
    pub defaults: Option<Spanned<Defaults>>,
    #[serde(default)]
    pub icmp: Option<Spanned<Icmp>>,
    #[serde(default)]
    pub allow: Vec<Spanned<RuleItem>>,
    #[serde(default)]
    pub deny: Vec<Spanned<RuleItem>>,
    #[serde(default)]
    pub sets: BTreeMap<Spanned<String>, Spanned<SetDef>>,
    #[serde(default)]
    pub nat: Option<Nat>,
    #[serde(default)]
    pub protect: Option<Spanned<Protect>>,
}

/// `[protect]`: flood protection the kernel enforces by itself (per-source
/// meters and connection limits that ban offenders into a dynamic set).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Protect {
    /// TCP SYNs per source.
    pub syn_rate: Option<Spanned<MeterSpec>>,
    /// New connections (conntrack NEW, any protocol) per source.
    pub new_rate: Option<Spanned<MeterSpec>>,
    /// TCP connections held per source.
    pub connlimit: Option<Spanned<ConnCapSpec>>,
    /// `"input"` and/or `"forward"` (default `["input"]`).
    pub chains: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `{ per_source = "50/second", burst = 100, ban = "10m" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MeterSpec {
    pub per_source: Spanned<String>,
    pub burst: Option<Spanned<u32>>,
    pub ban: Option<Spanned<StrOrInt>>,
}

/// `{ per_source = 200, ban = "1h" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConnCapSpec {
    pub per_source: Spanned<u32>,
    pub ban: Option<Spanned<StrOrInt>>,
}

/// `[defaults]`: what happens to packets no rule decides.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    pub input: Option<Spanned<Verdict>>,
    pub forward: Option<Spanned<Verdict>>,
    pub output: Option<Spanned<Verdict>>,
    pub established: Option<Spanned<Chains>>,
    pub loopback: Option<Spanned<Chains>>,
    pub drop_invalid: Option<Spanned<Chains>>,
    pub ip_forward: Option<Spanned<bool>>,
    pub log: Option<Spanned<LogSpec>>,
    pub family: Option<Spanned<FamilySel>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Verdict {
    Accept,
    Drop,
}

/// `[icmp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Icmp {
    pub ping: Option<Spanned<Ping>>,
    pub ping_rate: Option<Spanned<String>>,
    pub ping_burst: Option<Spanned<u32>>,
    pub essentials: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Ping {
    Allow,
    Deny,
    RateLimited,
    None,
}

/// One `[[allow]]` or `[[deny]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleItem {
    pub service: Option<Spanned<StrList>>,
    pub port: Option<Spanned<StrList>>,
    pub protocol: Option<Spanned<String>>,
    pub from: Option<Spanned<StrList>>,
    pub to: Option<Spanned<StrList>>,
    #[serde(rename = "in")]
    pub in_: Option<Spanned<StrList>>,
    pub out: Option<Spanned<StrList>>,
    pub direction: Option<Spanned<Direction>>,
    pub family: Option<Spanned<FamilySel>>,
    pub rate: Option<Spanned<RateSpec>>,
    pub max_connections: Option<Spanned<u32>>,
    pub log: Option<Spanned<LogSpec>>,
    pub action: Option<Spanned<DenyAction>>,
    pub reject_with: Option<Spanned<String>>,
    pub state: Option<Spanned<StrList>>,
    pub state_match: Option<Spanned<StateMatch>>,
    pub icmp: Option<Spanned<StrList>>,
    pub icmpv6: Option<Spanned<StrList>>,
    pub hop_limit: Option<Spanned<u8>>,
    pub source_port: Option<Spanned<String>>,
    pub comment: Option<Spanned<String>>,
    pub lint: Option<Spanned<LintSpec>>,
}

/// `lint = { allow = ["R007", "shadowed"] }`: lint findings silenced for
/// the rules of one item (`rampart lint`, docs/lint.md).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LintSpec {
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
}

/// `state_match = "conntrack"` (default) or `"state"`: which iptables match
/// carries `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StateMatch {
    Conntrack,
    State,
}

/// `excess = "drop"` (default) or `"continue"`: what happens to packets
/// over a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Excess {
    Drop,
    Continue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Direction {
    Input,
    Output,
    Forward,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FamilySel {
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DenyAction {
    Drop,
    Reject,
}

/// `rate = { per_source = "4/minute", burst = 4 }` or `{ global = ".." }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateSpec {
    pub per_source: Option<Spanned<String>>,
    pub global: Option<Spanned<String>>,
    pub burst: Option<Spanned<u32>>,
    pub excess: Option<Spanned<Excess>>,
}

/// `log = { prefix = "ssh: ", rate = "5/minute", burst = 5 }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogSpec {
    pub prefix: Option<Spanned<String>>,
    pub rate: Option<Spanned<String>>,
    pub burst: Option<Spanned<u32>>,
}

/// `[sets.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetDef {
    pub elements: Option<Vec<Spanned<ElemSpec>>>,
    pub file: Option<Spanned<String>>,
    /// `"lines"` (default) or `"csv"`.
    pub format: Option<Spanned<FileFormat>>,
    /// The CSV column: 1-based number or a header name.
    pub column: Option<Spanned<Column>>,
    /// The CSV field separator (one character; default `,`).
    pub delimiter: Option<Spanned<String>>,
    /// Whether the first CSV row is a header (default: when `column` is a
    /// name).
    pub header: Option<Spanned<bool>>,
    /// An ipset script or `ipset save` file whose set supplies elements.
    pub ipset: Option<Spanned<String>>,
    /// Which set of that file (needed when it builds more than one).
    pub ipset_set: Option<Spanned<String>>,
    pub union: Option<Spanned<StrList>>,
    pub intersect: Option<Spanned<StrList>>,
    pub except: Option<Spanned<StrList>>,
    pub timeout: Option<Spanned<StrOrInt>>,
    pub family: Option<Spanned<FamilySel>>,
    #[serde(rename = "type")]
    pub kind: Option<Spanned<SetType>>,
}

/// What a set holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub(crate) enum SetType {
    /// Networks and ranges (interval set); the default.
    #[serde(rename = "net")]
    Net,
    /// Single addresses (hash set).
    #[serde(rename = "ip")]
    Ip,
    /// Ports with their protocol: `22/tcp`, `5000-5100/udp`.
    #[serde(rename = "port")]
    Port,
    /// An address and a port: `198.51.100.7,22/tcp`.
    #[serde(rename = "ip,port")]
    IpPort,
    /// A network and a port: `10.0.0.0/8,22/tcp`.
    #[serde(rename = "net,port")]
    NetPort,
    /// Interface names: `eth0`.
    #[serde(rename = "iface")]
    Iface,
}

impl SetType {
    /// The spelling in a policy file.
    pub fn name(self) -> &'static str {
        match self {
            SetType::Net => "net",
            SetType::Ip => "ip",
            SetType::Port => "port",
            SetType::IpPort => "ip,port",
            SetType::NetPort => "net,port",
            SetType::Iface => "iface",
        }
    }

    /// Whether the elements hold addresses (and so have a family).
    pub fn has_addresses(self) -> bool {
        !matches!(self, SetType::Port | SetType::Iface)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FileFormat {
    Lines,
    Csv,
}

/// `column = 2` or `column = "network"`.
#[derive(Debug)]
pub(crate) enum Column {
    Number(i64),
    Name(String),
}

impl<'de> Deserialize<'de> for Column {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Column;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a column number (1 is the first) or a header name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Column, E> {
                Ok(Column::Name(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Column, E> {
                Ok(Column::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Column, E> {
                Ok(Column::Number(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }
        d.deserialize_any(V)
    }
}

/// One entry of `elements`: a string, or a table with a timeout or comment
/// of its own (`{ value = "192.0.2.7", timeout = "1h", comment = "..." }`).
#[derive(Debug)]
pub(crate) enum ElemSpec {
    Plain(String),
    Table(ElemTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ElemTable {
    pub value: Spanned<String>,
    pub timeout: Option<Spanned<StrOrInt>>,
    pub comment: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for ElemSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ElemSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an element string or a table { value = \"..\", timeout = \"..\", comment = \"..\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ElemSpec, E> {
                Ok(ElemSpec::Plain(v.to_string()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<ElemSpec, A::Error> {
                ElemTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ElemSpec::Table)
            }
        }
        d.deserialize_any(V)
    }
}

/// `[nat]` with its three lists.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Nat {
    #[serde(default)]
    pub masquerade: Vec<Spanned<Masquerade>>,
    #[serde(default)]
    pub snat: Vec<Spanned<SnatItem>>,
    #[serde(default)]
    pub forward: Vec<Spanned<PortForward>>,
}

/// `[[nat.masquerade]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Masquerade {
    pub out: Spanned<String>,
    pub from: Option<Spanned<StrList>>,
}

/// `[[nat.snat]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnatItem {
    pub out: Spanned<String>,
    pub from: Option<Spanned<StrList>>,
    pub to: Spanned<String>,
}

/// `[[nat.forward]]`: a port forward (DNAT plus the FORWARD accept).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PortForward {
    #[serde(rename = "in")]
    pub in_: Spanned<String>,
    pub port: Spanned<String>,
    pub to: Spanned<String>,
    pub from: Option<Spanned<StrList>>,
    pub accept: Option<Spanned<bool>>,
}

/// A string or a list of strings (`from = "10.0.0.0/8"` or `from = [..]`).
#[derive(Debug)]
pub(crate) enum StrList {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrList, E> {
                Ok(StrList::One(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    out.push(item);
                }
                Ok(StrList::Many(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// `true`, `false` or a list of chains (`["input", "forward"]`).
#[derive(Debug)]
pub(crate) enum Chains {
    Bool(bool),
    List(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for Chains {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Chains;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or a list of chains such as [\"input\", \"forward\"]")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Chains, E> {
                Ok(Chains::Bool(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Chains, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    out.push(item);
                }
                Ok(Chains::List(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string or an integer (`timeout = "1d"` or `timeout = 86400`).
#[derive(Debug)]
pub(crate) enum StrOrInt {
    Str(String),
    Int(i64),
}

impl<'de> Deserialize<'de> for StrOrInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StrOrInt;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"1d\" or a number of seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrOrInt, E> {
                Ok(StrOrInt::Str(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StrOrInt, E> {
                Ok(StrOrInt::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StrOrInt, E> {
                Ok(StrOrInt::Int(i64::try_from(v).unwrap_or(i64::MAX)))
            }
        }
        d.deserialize_any(V)
    }
}
