//! `-j AUDIT`: model of the iptables AUDIT target.
//!
//! PLACEHOLDER (T1): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-j AUDIT`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Audit {}
