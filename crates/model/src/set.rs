//! Named sets (ipset): first-class objects of the policy.

use crate::{Family, IpNet, MacAddr, Origin};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The ipset type (`hash:ip`, `hash:net,port`, `bitmap:port`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SetKind {
    BitmapIp,
    BitmapIpMac,
    BitmapPort,
    HashIp,
    HashMac,
    HashIpMac,
    HashNet,
    HashNetNet,
    HashIpPort,
    HashNetPort,
    HashIpPortIp,
    HashIpPortNet,
    HashIpMark,
    HashNetPortNet,
    HashNetIface,
    ListSet,
    /// Ports with their protocol (`22/tcp`, `5000-5100/udp`): an nftables
    /// set of `inet_proto . inet_service`. Not an ipset type (bitmap:port
    /// ignores the protocol); written by the native format only.
    Port,
    /// Interface names: an nftables set of `ifname`, looked up with the
    /// input (`src`) or output (`dst`) interface. Not an ipset type.
    Iface,
}

impl SetKind {
    /// The ipset types (the kinds `ipset create` knows).
    pub const ALL: [SetKind; 16] = [
        SetKind::BitmapIp,
        SetKind::BitmapIpMac,
        SetKind::BitmapPort,
        SetKind::HashIp,
        SetKind::HashMac,
        SetKind::HashIpMac,
        SetKind::HashNet,
        SetKind::HashNetNet,
        SetKind::HashIpPort,
        SetKind::HashNetPort,
        SetKind::HashIpPortIp,
        SetKind::HashIpPortNet,
        SetKind::HashIpMark,
        SetKind::HashNetPortNet,
        SetKind::HashNetIface,
        SetKind::ListSet,
    ];

    /// The ipset type name, e.g. `hash:net,port`.
    pub fn name(self) -> &'static str {
        match self {
            SetKind::BitmapIp => "bitmap:ip",
            SetKind::BitmapIpMac => "bitmap:ip,mac",
            SetKind::BitmapPort => "bitmap:port",
            SetKind::HashIp => "hash:ip",
            SetKind::HashMac => "hash:mac",
            SetKind::HashIpMac => "hash:ip,mac",
            SetKind::HashNet => "hash:net",
            SetKind::HashNetNet => "hash:net,net",
            SetKind::HashIpPort => "hash:ip,port",
            SetKind::HashNetPort => "hash:net,port",
            SetKind::HashIpPortIp => "hash:ip,port,ip",
            SetKind::HashIpPortNet => "hash:ip,port,net",
            SetKind::HashIpMark => "hash:ip,mark",
            SetKind::HashNetPortNet => "hash:net,port,net",
            SetKind::HashNetIface => "hash:net,iface",
            SetKind::ListSet => "list:set",
            SetKind::Port => "port",
            SetKind::Iface => "iface",
        }
    }

    /// The ipset type of this name (only ipset types: not `port`, `iface`).
    pub fn from_name(name: &str) -> Option<SetKind> {
        SetKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether `ipset` knows this type (`port` and `iface` are nftables
    /// sets that only the native format writes).
    pub fn is_ipset(self) -> bool {
        SetKind::ALL.contains(&self)
    }

    /// Number of dimensions of an element (`hash:ip,port` has 2).
    pub fn dimensions(self) -> usize {
        self.name()
            .split_once(':')
            .map_or(1, |(_, d)| d.split(',').count())
    }
}

/// A named set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpSet {
    pub name: String,
    pub kind: SetKind,
    /// `family inet|inet6`; `None` for sets without addresses (bitmap:port,
    /// hash:mac, list:set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    /// Default timeout in seconds for elements (`timeout N` at create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    #[serde(default)]
    pub options: SetOptions,
    pub elements: Vec<SetElement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// Create-time options of an ipset.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SetOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashsize: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxelem: Option<u32>,
    /// `netmask N` of hash:ip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netmask: Option<u8>,
    /// `range FROM-TO` or `range NET` of bitmap types (kept as text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub counters: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub comment: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skbinfo: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forceadd: bool,
}

/// One element: one part per dimension of the set type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetElement {
    pub parts: Vec<ElemPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `nomatch` flag of hash:net types (an exception inside a larger net).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nomatch: bool,
}

/// One dimension of a set element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ElemPart {
    /// An address or network.
    Net(IpNet),
    /// An address range `a-b` (ipset expands it; kept as given).
    Range(IpAddr, IpAddr),
    /// A port or port range with its protocol (`tcp:80`, `udp:1000-2000`);
    /// protocol `None` means tcp, ipset's default.
    Port {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proto: Option<u8>,
        first: u16,
        last: u16,
    },
    Mac(MacAddr),
    Iface(String),
    Mark(u32),
    /// A member set name in a list:set.
    SetName(String),
}
