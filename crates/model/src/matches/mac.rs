//! `-m mac`: model of the iptables mac match.
//!
//! PLACEHOLDER (M3): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m mac`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Mac {}
