//! `-m comment`: a free text note on a rule (always matches).

use serde::{Deserialize, Serialize};

/// `-m comment --comment TEXT` (at most 255 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Comment {
    pub comment: String,
}
