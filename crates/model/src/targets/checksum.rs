//! `-j CHECKSUM`: model of the iptables CHECKSUM target.
//!
//! PLACEHOLDER (T2): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-j CHECKSUM`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Checksum {}
