//! `-j SNPT`: model of the iptables SNPT target.
//!
//! PLACEHOLDER (T1): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-j SNPT`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snpt {}
