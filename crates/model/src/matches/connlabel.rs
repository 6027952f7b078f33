//! `-m connlabel`: conntrack labels (bits 0..127 on the connection).

use serde::{Deserialize, Serialize};

/// `-m connlabel [!] --label N [--set]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Connlabel {
    /// The label bit (0..=127).
    pub label: crate::Neg<u16>,
    /// `--set`: set the label on the connection when it is missing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub set: bool,
}
