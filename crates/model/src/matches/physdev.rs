//! `-m physdev`: model of the iptables physdev match.
//!
//! PLACEHOLDER (M3): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m physdev`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Physdev {}
