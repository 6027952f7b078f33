//! `-m esp`: model of the iptables esp match.
//!
//! PLACEHOLDER (M1): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m esp`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Esp {}
