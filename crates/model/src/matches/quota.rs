//! `-m quota`: model of the iptables quota match.
//!
//! PLACEHOLDER (M2): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m quota`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Quota {}
