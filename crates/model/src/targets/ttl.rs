//! `-j TTL`: change the IPv4 TTL (mangle table).

use serde::{Deserialize, Serialize};

/// `-j TTL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", content = "value", rename_all = "lowercase")]
pub enum Ttl {
    /// `--ttl-set N`.
    Set(u8),
    /// `--ttl-inc N` (N >= 1).
    Inc(u8),
    /// `--ttl-dec N` (N >= 1).
    Dec(u8),
}

impl Default for Ttl {
    fn default() -> Self {
        Ttl::Set(64)
    }
}
