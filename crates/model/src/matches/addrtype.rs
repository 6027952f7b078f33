//! `-m addrtype`: model of the iptables addrtype match.
//!
//! PLACEHOLDER (M3): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m addrtype`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Addrtype {}
