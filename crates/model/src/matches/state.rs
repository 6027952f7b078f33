//! `-m state`: model of the iptables state match.
//!
//! PLACEHOLDER (M1): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-m state`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct State {}
