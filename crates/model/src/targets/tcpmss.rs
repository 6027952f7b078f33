//! `-j TCPMSS`: model of the iptables TCPMSS target.
//!
//! PLACEHOLDER (T2): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-j TCPMSS`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tcpmss {}
