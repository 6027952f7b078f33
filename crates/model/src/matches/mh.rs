//! `-m mh` (IPv6): Mobility Header type.

use crate::Neg;
use serde::{Deserialize, Serialize};

/// An inclusive range of mobility header types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MhTypes {
    pub first: u8,
    pub last: u8,
}

impl MhTypes {
    pub const ALL: MhTypes = MhTypes {
        first: 0,
        last: 255,
    };

    pub fn contains(&self, t: u8) -> bool {
        self.first <= t && t <= self.last
    }
}

/// `-m mh [!] --mh-type TYPE[:TYPE]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Mh {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Neg<MhTypes>>,
}
