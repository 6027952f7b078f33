//! `-m hl`: compare the IPv6 hop limit (IPv6 only).

pub use crate::matches::ttl::CmpOp;
use serde::{Deserialize, Serialize};

/// `-m hl --hl-eq|--hl-lt|--hl-gt N`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Hl {
    pub op: CmpOp,
    pub value: u8,
}
