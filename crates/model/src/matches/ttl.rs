//! `-m ttl`: compare the IPv4 time-to-live field (IPv4 only).

use serde::{Deserialize, Serialize};

/// How the header field is compared with the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CmpOp {
    /// `--ttl-eq N` / `--hl-eq N`.
    #[default]
    Eq,
    /// `! --ttl-eq N` / `! --hl-eq N`.
    Ne,
    /// `--ttl-lt N` / `--hl-lt N`.
    Lt,
    /// `--ttl-gt N` / `--hl-gt N`.
    Gt,
}

impl CmpOp {
    /// Does `field OP value` hold?
    pub fn holds(self, field: u8, value: u8) -> bool {
        match self {
            CmpOp::Eq => field == value,
            CmpOp::Ne => field != value,
            CmpOp::Lt => field < value,
            CmpOp::Gt => field > value,
        }
    }
}

/// `-m ttl --ttl-eq|--ttl-lt|--ttl-gt N`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ttl {
    pub op: CmpOp,
    pub value: u8,
}
