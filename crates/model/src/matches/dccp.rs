//! `-m dccp`: ports, packet types and options of DCCP packets.

use crate::{Neg, PortRange};
use serde::{Deserialize, Serialize};

/// DCCP packet type names, indexed by type number (bit of the mask).
pub const TYPE_NAMES: [&str; 11] = [
    "REQUEST", "RESPONSE", "DATA", "ACK", "DATAACK", "CLOSEREQ", "CLOSE", "RESET", "SYNC",
    "SYNCACK", "INVALID",
];

/// `-m dccp [!] --sport P[:P] [!] --dport P[:P] [!] --dccp-types T[,...]
/// [!] --dccp-option N`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dccp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sport: Option<Neg<PortRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport: Option<Neg<PortRange>>,
    /// `--dccp-types`: bit `1 << n` for packet type `n` of [`TYPE_NAMES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Neg<u16>>,
    /// `--dccp-option`: the DCCP option number must be present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option: Option<Neg<u8>>,
}
