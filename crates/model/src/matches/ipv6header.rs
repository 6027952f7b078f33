//! `-m ipv6header` (IPv6): which extension headers a packet carries.

use crate::Neg;
use serde::{Deserialize, Serialize};

/// The extension headers `--header` can name (a set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Ipv6Headers {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hop_by_hop: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dst: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub route: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub frag: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auth: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub esp: bool,
    /// No next header (`ipv6-nonxt`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub none: bool,
    /// Any upper-layer protocol header (`protocol`/`prot`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub proto: bool,
}

/// `-m ipv6header [!] --header NAME[,...] [--soft]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ipv6Header {
    pub headers: Neg<Ipv6Headers>,
    /// `--soft`: match when any of the headers is present, instead of
    /// exactly these.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub soft: bool,
}
