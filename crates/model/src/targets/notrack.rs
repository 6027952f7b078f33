//! `-j NOTRACK`: do not track the packet's connection (raw table). The
//! same as `-j CT --notrack`, but printed under its own name.

use serde::{Deserialize, Serialize};

/// `-j NOTRACK` (no options).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Notrack {}
