//! `-m mh`: model of the iptables mh match.
//!
//! PLACEHOLDER (M1): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m mh`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Mh {}
