//! `-j DNPT`: model of the iptables DNPT target.
//!
//! PLACEHOLDER (T1): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-j DNPT`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dnpt {}
