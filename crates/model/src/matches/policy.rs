//! `-m policy`: match the IPsec policy used to decapsulate a packet or to
//! be applied to encapsulate it.

use crate::Neg;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// An address with a mask, kept exactly as written (`1.2.3.4/16` stays
/// `1.2.3.4/16`): the kernel compares `(x ^ addr) & mask == 0`, so the
/// host bits do not change the meaning, but iptables-save prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HostMask {
    pub addr: IpAddr,
    /// Of the same family as `addr`; may be non-contiguous.
    pub mask: IpAddr,
}

impl HostMask {
    /// Does `ip` match under the mask?
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, self.mask, ip) {
            (IpAddr::V4(a), IpAddr::V4(m), IpAddr::V4(x)) => {
                (u32::from(x) ^ u32::from(a)) & u32::from(m) == 0
            }
            (IpAddr::V6(a), IpAddr::V6(m), IpAddr::V6(x)) => {
                (u128::from(x) ^ u128::from(a)) & u128::from(m) == 0
            }
            _ => false,
        }
    }

    /// The prefix length when the mask is contiguous.
    pub fn prefix_len(&self) -> Option<u8> {
        let (bits, width) = match self.mask {
            IpAddr::V4(m) => (u128::from(u32::from(m)) << 96, 32u32),
            IpAddr::V6(m) => (u128::from(m), 128u32),
        };
        let ones = bits.leading_ones();
        let rest = bits.checked_shl(ones).unwrap_or(0);
        (rest == 0).then(|| u8::try_from(ones.min(width)).unwrap_or(128))
    }
}

/// Prints `ADDR` for a host mask, `ADDR/LEN` for a prefix, else
/// `ADDR/MASK`, as iptables-save does.
impl std::fmt::Display for HostMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = if self.addr.is_ipv4() { 32 } else { 128 };
        match self.prefix_len() {
            Some(p) if p == width => write!(f, "{}", crate::IpText(self.addr)),
            Some(p) => write!(f, "{}/{}", crate::IpText(self.addr), p),
            None => write!(
                f,
                "{}/{}",
                crate::IpText(self.addr),
                crate::IpText(self.mask)
            ),
        }
    }
}

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
    pub tunnel_src: Option<Neg<HostMask>>,
    /// `[!] --tunnel-dst ADDR[/MASK]` (tunnel mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel_dst: Option<Neg<HostMask>>,
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
