//! `-j TEE`: clone the packet and route the clone to a gateway.

use crate::Iface;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// `-j TEE --gateway ADDR [--oif IFACE]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tee {
    /// `--gateway`: the next hop for the clone (same family as the table).
    pub gateway: IpAddr,
    /// `--oif`: send the clone through this interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oif: Option<Iface>,
}
