//! `-m connlabel`: model of the iptables connlabel match.
//!
//! PLACEHOLDER (M2): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m connlabel`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Connlabel {}
