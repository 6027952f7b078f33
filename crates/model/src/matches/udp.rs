//! `-m udp`: source and destination ports of UDP datagrams.

use crate::{Neg, PortRange};
use serde::{Deserialize, Serialize};

/// `-m udp [!] --sport P[:P] [!] --dport P[:P]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Udp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sport: Option<Neg<PortRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport: Option<Neg<PortRange>>,
}
