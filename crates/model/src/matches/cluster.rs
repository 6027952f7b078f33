//! `-m cluster`: splits traffic between cluster nodes by a hash of the
//! connection.

use serde::{Deserialize, Serialize};

/// `-m cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cluster {
    /// `--cluster-total-nodes` (1 to 32).
    pub total_nodes: u32,
    /// `[!] --cluster-local-node N` (bit N-1) or
    /// `[!] --cluster-local-nodemask MASK`: the nodes this host serves.
    pub node_mask: u32,
    /// `!` on the node option.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invert: bool,
    /// `--cluster-hash-seed`.
    pub hash_seed: u32,
}
