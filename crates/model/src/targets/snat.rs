//! `-j SNAT`: rewrite the source address (and port) of a connection, plus
//! the NAT range types shared by SNAT, DNAT, MASQUERADE and REDIRECT.

use crate::PortRange;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// `-j SNAT --to-source RANGE [--random] [--random-fully] [--persistent]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snat {
    /// `--to-source`.
    pub to: NatRange,
    /// `--random`: randomize the source port mapping.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub random: bool,
    /// `--random-fully`: fully randomize the port mapping (PRNG).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub random_fully: bool,
    /// `--persistent`: give a client the same address for every connection.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub persistent: bool,
}

/// An inclusive range of addresses of one family; `first == last` is a
/// single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AddrRange {
    pub first: IpAddr,
    pub last: IpAddr,
}

impl AddrRange {
    pub fn single(addr: IpAddr) -> Self {
        AddrRange {
            first: addr,
            last: addr,
        }
    }

    pub fn is_single(&self) -> bool {
        self.first == self.last
    }
}

/// What a NAT target maps to: `[ADDR[-ADDR]][:PORT[-PORT[/BASE]]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct NatRange {
    /// The addresses to map to; `None` keeps the address (ports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addrs: Option<AddrRange>,
    /// The ports to map to; `None` keeps the port (needs `-p` with ports
    /// when given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortRange>,
    /// DNAT only: `/BASE` shifts the original destination port range that
    /// starts at `BASE` onto `ports` (shifted port mapping, 1-65535).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_port: Option<u16>,
}
