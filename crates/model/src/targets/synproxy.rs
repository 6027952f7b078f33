//! `-j SYNPROXY`: model of the iptables SYNPROXY target.
//!
//! PLACEHOLDER (T1): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-j SYNPROXY`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Synproxy {}
