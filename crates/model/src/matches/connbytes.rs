//! `-m connbytes`: model of the iptables connbytes match.
//!
//! PLACEHOLDER (M2): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m connbytes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Connbytes {}
