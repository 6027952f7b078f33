//! `-j CT`: model of the iptables CT target.
//!
//! PLACEHOLDER (T2): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-j CT`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ct {}
