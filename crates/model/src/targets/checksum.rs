//! `-j CHECKSUM --checksum-fill`: compute a missing layer-4 checksum
//! (mangle table). The only operation there is; hence no fields.

use serde::{Deserialize, Serialize};

/// `-j CHECKSUM --checksum-fill`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Checksum {}
