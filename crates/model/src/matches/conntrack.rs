//! `-m conntrack`: model of the iptables conntrack match.
//!
//! PLACEHOLDER (M1): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m conntrack`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Conntrack {}
