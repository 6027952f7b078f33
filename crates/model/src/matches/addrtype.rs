//! `-m addrtype`: match the routing type of the source and/or destination
//! address (`LOCAL`, `UNICAST`, `BROADCAST`, ...), as the kernel's routing
//! table classifies it.

use crate::Neg;
use serde::{Deserialize, Serialize};

/// A route type (`RTN_*`). The order is the kernel's, which is also the
/// order iptables-save prints a list of types in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AddrType {
    Unspec,
    Unicast,
    Local,
    Broadcast,
    Anycast,
    Multicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
    Nat,
    Xresolve,
}

impl AddrType {
    /// Every type, in kernel (and print) order.
    pub const ALL: [AddrType; 12] = [
        AddrType::Unspec,
        AddrType::Unicast,
        AddrType::Local,
        AddrType::Broadcast,
        AddrType::Anycast,
        AddrType::Multicast,
        AddrType::Blackhole,
        AddrType::Unreachable,
        AddrType::Prohibit,
        AddrType::Throw,
        AddrType::Nat,
        AddrType::Xresolve,
    ];

    /// The name iptables uses (upper case).
    pub fn name(self) -> &'static str {
        match self {
            AddrType::Unspec => "UNSPEC",
            AddrType::Unicast => "UNICAST",
            AddrType::Local => "LOCAL",
            AddrType::Broadcast => "BROADCAST",
            AddrType::Anycast => "ANYCAST",
            AddrType::Multicast => "MULTICAST",
            AddrType::Blackhole => "BLACKHOLE",
            AddrType::Unreachable => "UNREACHABLE",
            AddrType::Prohibit => "PROHIBIT",
            AddrType::Throw => "THROW",
            AddrType::Nat => "NAT",
            AddrType::Xresolve => "XRESOLVE",
        }
    }

    /// Looks a type up by name, case-insensitively (as iptables does).
    pub fn from_name(name: &str) -> Option<AddrType> {
        AddrType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }
}

/// `-m addrtype`. At least one of `src_type` / `dst_type` is present.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Addrtype {
    /// `[!] --src-type T[,T...]`: the source address has one of these types.
    /// Sorted in kernel order, without duplicates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_type: Option<Neg<Vec<AddrType>>>,
    /// `[!] --dst-type T[,T...]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_type: Option<Neg<Vec<AddrType>>>,
    /// `--limit-iface-in`: look the address up only on the incoming
    /// interface (PREROUTING, INPUT, FORWARD).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub limit_iface_in: bool,
    /// `--limit-iface-out`: only on the outgoing interface (OUTPUT,
    /// POSTROUTING, FORWARD).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub limit_iface_out: bool,
}
