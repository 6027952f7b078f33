//! `-j SECMARK`: model of the iptables SECMARK target.
//!
//! PLACEHOLDER (T2): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-j SECMARK`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Secmark {}
