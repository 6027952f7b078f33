//! `-m policy`: match the IPsec policy used to decapsulate a packet or to
//! be applied to encapsulate it.

use crate::{IpNet, Neg};
use serde::{Deserialize, Serialize};

/// `--dir in|out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyDir {
    /// The policy used for decapsulation (PREROUTING, INPUT, FORWARD).
    #[default]
    In,
    /// The policy to be applied for encapsulation (FORWARD, OUTPUT,
    /// POSTROUTING).
    Out,
}

/// `--pol none|ipsec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    /// Not subject to IPsec processing.
    None,
    /// Subject to IPsec processing.
    #[default]
    Ipsec,
}

/// `--proto ah|esp|ipcomp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpsecProto {
    Ah,
    Esp,
    Ipcomp,
}

impl IpsecProto {
    /// The name iptables-save prints.
    pub fn name(self) -> &'static str {
        match self {
            IpsecProto::Ah => "ah",
            IpsecProto::Esp => "esp",
            IpsecProto::Ipcomp => "ipcomp",
        }
    }

    /// IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            IpsecProto::Ah => 51,
            IpsecProto::Esp => 50,
            IpsecProto::Ipcomp => 108,
        }
    }
}

/// `--mode transport|tunnel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpsecMode {
    Transport,
    Tunnel,
}

impl IpsecMode {
    pub fn name(self) -> &'static str {
        match self {
            IpsecMode::Transport => "transport",
            IpsecMode::Tunnel => "tunnel",
        }
    }
}

/// One policy element (the options between two `--next`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PolicyElem {
    /// `[!] --reqid N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reqid: Option<Neg<u32>>,
    /// `[!] --spi N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi: Option<Neg<u32>>,
    /// `[!] --proto ah|esp|ipcomp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<Neg<IpsecProto>>,
    /// `[!] --mode transport|tunnel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Neg<IpsecMode>>,
    /// `[!] --tunnel-src ADDR[/MASK]` (tunnel mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel_src: Option<Neg<IpNet>>,
    /// `[!] --tunnel-dst ADDR[/MASK]` (tunnel mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel_dst: Option<Neg<IpNet>>,
}

/// `-m policy --dir in|out --pol none|ipsec [--strict] ELEM [--next ELEM]...`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IpsecPolicy {
    pub dir: PolicyDir,
    pub pol: PolicyKind,
    /// `--strict`: the elements must match the whole policy, in order;
    /// without it one element matching at any position suffices.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub strict: bool,
    /// Policy elements, at most 4; empty for `--pol none`. Without
    /// `--strict` there is exactly one (possibly empty) element.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elements: Vec<PolicyElem>,
}
