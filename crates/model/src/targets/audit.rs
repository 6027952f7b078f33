//! `-j AUDIT`: record the packet in the kernel audit log.

use serde::{Deserialize, Serialize};

/// `-j AUDIT --type TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Audit {
    /// `--type` (required by iptables; ignored by newer kernels).
    pub kind: AuditType,
}

/// The audit record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditType {
    Accept,
    Drop,
    Reject,
}

impl AuditType {
    pub fn name(self) -> &'static str {
        match self {
            AuditType::Accept => "accept",
            AuditType::Drop => "drop",
            AuditType::Reject => "reject",
        }
    }
}
