//! `-j NETMAP`: map a whole network onto another one, 1:1 (static NAT).

use crate::IpNet;
use serde::{Deserialize, Serialize};

/// `-j NETMAP --to ADDR[/PREFIX]`: the host bits of the address are kept,
/// the network bits replaced by those of `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Netmap {
    pub to: IpNet,
}
