//! `-m time`: model of the iptables time match.
//!
//! PLACEHOLDER (M2): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m time`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Time {}
