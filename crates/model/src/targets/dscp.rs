//! `-j DSCP`: set the DSCP field (upper six bits of TOS / traffic class).

use serde::{Deserialize, Serialize};

/// `-j DSCP --set-dscp N` (`--set-dscp-class` is resolved to its number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Dscp {
    /// 0..=63.
    pub dscp: u8,
}
