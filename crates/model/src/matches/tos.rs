//! `-m tos`: model of the iptables tos match.
//!
//! PLACEHOLDER (M3): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m tos`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tos {}
