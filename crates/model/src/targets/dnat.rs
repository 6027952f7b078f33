//! `-j DNAT`: rewrite the destination address (and port) of a connection.

pub use super::snat::{AddrRange, NatRange};
use serde::{Deserialize, Serialize};

/// `-j DNAT --to-destination RANGE [--random] [--persistent]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dnat {
    /// `--to-destination`.
    pub to: NatRange,
    /// `--random`: randomize the port mapping.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub random: bool,
    /// `--persistent`: give a client the same address for every connection.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub persistent: bool,
}
