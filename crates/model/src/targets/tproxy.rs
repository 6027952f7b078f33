//! `-j TPROXY`: deliver the packet to a local socket without changing it
//! (transparent proxying), marking it for policy routing.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// `-j TPROXY --on-port P [--on-ip ADDR] [--tproxy-mark VALUE[/MASK]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Tproxy {
    /// `--on-port`: the local port (0: the packet's destination port).
    pub on_port: u16,
    /// `--on-ip`: the local address; `None` (printed as `0.0.0.0` / `::`)
    /// uses the address of the incoming interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_ip: Option<IpAddr>,
    /// `--tproxy-mark`: `mark = (mark & !mask) ^ value`; 0/0 when not given.
    #[serde(default)]
    pub mark: u32,
    #[serde(default)]
    pub mask: u32,
}
