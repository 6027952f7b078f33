//! `-m multiport`: up to 15 ports or port ranges of TCP, UDP, UDP-Lite,
//! SCTP or DCCP packets (revision 1 of the match).

use crate::{Neg, PortRange};
use serde::{Deserialize, Serialize};

/// Which port of the packet is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MultiportDir {
    /// `--sports` (alias `--source-ports`).
    Source,
    /// `--dports` (alias `--destination-ports`).
    #[default]
    Destination,
    /// `--ports`: the source or the destination port.
    Either,
}

/// `-m multiport [!] --sports|--dports|--ports P[:P][,...]`.
///
/// A range counts as two of the 15 slots the kernel has, as in iptables.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Multiport {
    pub dir: MultiportDir,
    /// The ports in the order given; `invert` matches packets whose port is
    /// in none of them.
    pub ports: Neg<Vec<PortRange>>,
}

impl Multiport {
    /// Kernel limit on ports (a range takes two).
    pub const MAX_PORTS: usize = 15;
}
