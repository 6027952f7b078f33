//! `-m hbh`: model of the iptables hbh match.
//!
//! PLACEHOLDER (M1): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m hbh`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Hbh {}
