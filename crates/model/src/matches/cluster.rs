//! `-m cluster`: model of the iptables cluster match.
//!
//! PLACEHOLDER (M2): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cluster {}
