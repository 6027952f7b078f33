//! `-j TRACE`: mark the packet so that every rule it traverses is logged
//! (raw table).

use serde::{Deserialize, Serialize};

/// `-j TRACE` (no options).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Trace {}
