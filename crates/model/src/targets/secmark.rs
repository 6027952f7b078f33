//! `-j SECMARK`: set the packet's security mark from an SELinux context
//! (mangle or security table).

use serde::{Deserialize, Serialize};

/// `-j SECMARK --selctx CONTEXT`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Secmark {
    /// The SELinux security context (at most 255 bytes).
    pub selctx: String,
}
