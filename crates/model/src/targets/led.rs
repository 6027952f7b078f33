//! `-j LED`: blink a LED trigger `netfilter-ID` on matching packets.

use serde::{Deserialize, Serialize};

/// How long the LED stays lit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LedDelay {
    /// Milliseconds.
    Ms(u32),
    /// `inf`: stays on until the rule is removed.
    Infinite,
}

/// `-j LED`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Led {
    /// `--led-trigger-id ID` (without the `netfilter-` prefix; at most 17 bytes).
    pub trigger_id: String,
    /// `--led-delay`; `None` means 0 (just a blink).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<LedDelay>,
    /// `--led-always-blink`: blink even when the LED is already on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub always_blink: bool,
}
