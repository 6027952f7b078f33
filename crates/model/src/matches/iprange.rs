//! `-m iprange`: match the source and/or destination address against an
//! inclusive range of addresses (`--src-range A-B`, `--dst-range A-B`).

use crate::Neg;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// An inclusive address range `first-last`. Both ends are of the rule's
/// family; `first <= last` is not required (iptables accepts a reversed
/// range, which then matches nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddrRange {
    pub first: IpAddr,
    pub last: IpAddr,
}

impl AddrRange {
    /// Is `ip` inside the range (same family, `first <= ip <= last`)?
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.first, self.last, ip) {
            (IpAddr::V4(a), IpAddr::V4(b), IpAddr::V4(x)) => a <= x && x <= b,
            (IpAddr::V6(a), IpAddr::V6(b), IpAddr::V6(x)) => a <= x && x <= b,
            _ => false,
        }
    }
}

impl std::fmt::Display for AddrRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{}",
            crate::IpText(self.first),
            crate::IpText(self.last)
        )
    }
}

/// `-m iprange`. At least one of the two ranges is present.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Iprange {
    /// `[!] --src-range A-B`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<Neg<AddrRange>>,
    /// `[!] --dst-range A-B`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<Neg<AddrRange>>,
}
