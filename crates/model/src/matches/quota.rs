//! `-m quota`: matches until a byte quota is used up.

use serde::{Deserialize, Serialize};

/// `-m quota [!] --quota BYTES`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Quota {
    pub quota: crate::Neg<u64>,
}
