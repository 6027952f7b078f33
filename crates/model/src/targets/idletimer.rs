//! `-j IDLETIMER`: a timer per label, restarted by every matching packet;
//! when it expires the kernel notifies userspace (sysfs, or an alarm).

use serde::{Deserialize, Serialize};

/// `-j IDLETIMER --timeout SECS --label NAME [--alarm]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Idletimer {
    /// Seconds.
    pub timeout: u32,
    /// Timer name (at most 27 bytes).
    pub label: String,
    /// `--alarm`: use an alarm timer (wakes a suspended system).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alarm: bool,
}
