//! `-m pkttype`: match the link-layer packet type.

use crate::Neg;
use serde::{Deserialize, Serialize};

/// Link-layer packet class (`PACKET_*` of `<linux/if_packet.h>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PktType {
    /// `unicast` (also spelled `host`): addressed to this host.
    #[default]
    Unicast,
    /// `broadcast`.
    Broadcast,
    /// `multicast`.
    Multicast,
    /// `otherhost`: addressed to another host (promiscuous mode).
    Otherhost,
    /// `outgoing`: sent by this host (loopback).
    Outgoing,
}

impl PktType {
    /// The name iptables-save prints.
    pub fn name(self) -> &'static str {
        match self {
            PktType::Unicast => "unicast",
            PktType::Broadcast => "broadcast",
            PktType::Multicast => "multicast",
            PktType::Otherhost => "otherhost",
            PktType::Outgoing => "outgoing",
        }
    }
}

/// `-m pkttype [!] --pkt-type TYPE`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pkttype {
    pub pkt_type: Neg<PktType>,
}
