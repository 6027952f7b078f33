//! `-m dst` (IPv6): the Destination Options extension header.

pub use crate::matches::hbh::Ip6Opt;
use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m dst [!] --dst-len N [--dst-opts TYPE[:LEN][,...]]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dst {
    /// `--dst-len`: the header length field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<Neg<u32>>,
    /// `--dst-opts`: options that must appear, in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub opts: Vec<Ip6Opt>,
}
