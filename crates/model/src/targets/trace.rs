//! `-j TRACE`: model of the iptables TRACE target.
//!
//! PLACEHOLDER (T2): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-j TRACE`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Trace {}
