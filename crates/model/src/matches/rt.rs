//! `-m rt` (IPv6): the Routing extension header.

use crate::matches::esp::U32Range;
use crate::Neg;
use serde::{Deserialize, Serialize};
use std::net::Ipv6Addr;

/// `-m rt [!] --rt-type T [!] --rt-segsleft N[:N] [!] --rt-len N
/// [--rt-0-res] [--rt-0-addrs A,...] [--rt-0-not-strict]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rt {
    /// `--rt-type`: the routing type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rt_type: Option<Neg<u8>>,
    /// `--rt-segsleft`: segments left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segsleft: Option<Neg<U32Range>>,
    /// `--rt-len`: the header length field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<Neg<u32>>,
    /// `--rt-0-res`: the reserved field of a type 0 header must be zero.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub res: bool,
    /// `--rt-0-addrs`: addresses of a type 0 header (at most 16).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addrs: Vec<Ipv6Addr>,
    /// `--rt-0-not-strict`: `addrs` need not be the whole list.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_strict: bool,
}
