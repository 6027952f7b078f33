//! `-m mark`: model of the iptables mark match.
//!
//! PLACEHOLDER (M3): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m mark`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Mark {}
