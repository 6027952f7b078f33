//! `-j CONNSECMARK`: copy the security mark between packet and connection.

use serde::{Deserialize, Serialize};

/// `-j CONNSECMARK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Connsecmark {
    /// `--save`: packet secmark to the connection (if unset there).
    #[default]
    Save,
    /// `--restore`: connection secmark to the packet (if unset there).
    Restore,
}
