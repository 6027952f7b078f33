//! `-m length`: match the length of the layer-3 packet (IPv4: total length;
//! IPv6: payload length plus the 40-byte header).

use crate::Neg;
use serde::{Deserialize, Serialize};

/// An inclusive `min..=max` range of a 16-bit quantity (packet length, MSS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct U16Range {
    pub min: u16,
    pub max: u16,
}

impl U16Range {
    pub fn single(v: u16) -> Self {
        U16Range { min: v, max: v }
    }

    pub fn contains(&self, v: u16) -> bool {
        self.min <= v && v <= self.max
    }
}

impl Default for U16Range {
    fn default() -> Self {
        U16Range {
            min: 0,
            max: u16::MAX,
        }
    }
}

/// Prints `N` for a single value, else `MIN:MAX` (as iptables-save does).
impl std::fmt::Display for U16Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}:{}", self.min, self.max)
        }
    }
}

/// `-m length [!] --length MIN[:MAX]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Length {
    pub length: Neg<U16Range>,
}
