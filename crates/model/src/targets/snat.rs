//! `-j SNAT`: model of the iptables SNAT target.
//!
//! PLACEHOLDER (T1): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-j SNAT`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snat {}
