//! `-j TCPOPTSTRIP`: remove TCP options from TCP segments.

use serde::{Deserialize, Serialize};

/// `-j TCPOPTSTRIP [--strip-options LIST]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tcpoptstrip {
    /// TCP option kinds to strip (2..=255), sorted, no repeats. Empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<u8>,
}
