//! `-j HL`: change the IPv6 hop limit (mangle table).

use serde::{Deserialize, Serialize};

/// `-j HL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", content = "value", rename_all = "lowercase")]
pub enum Hl {
    /// `--hl-set N`.
    Set(u8),
    /// `--hl-inc N` (N >= 1).
    Inc(u8),
    /// `--hl-dec N` (N >= 1).
    Dec(u8),
}

impl Default for Hl {
    fn default() -> Self {
        Hl::Set(64)
    }
}
