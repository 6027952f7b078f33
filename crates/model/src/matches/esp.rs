//! `-m esp`: SPI of IPsec ESP packets. Also home of [`U32Range`], the
//! inclusive 32-bit range several header matches use (SPIs, fragment ids,
//! segments left, conntrack expiry).

use crate::Neg;
use serde::{Deserialize, Serialize};

/// An inclusive range of 32-bit values; `first == last` is one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct U32Range {
    pub first: u32,
    pub last: u32,
}

impl U32Range {
    /// Every value (what iptables omits when printing, unless inverted).
    pub const ALL: U32Range = U32Range {
        first: 0,
        last: u32::MAX,
    };

    pub fn single(v: u32) -> Self {
        U32Range { first: v, last: v }
    }

    /// `None` when `first > last`.
    pub fn new(first: u32, last: u32) -> Option<Self> {
        (first <= last).then_some(U32Range { first, last })
    }

    pub fn contains(&self, v: u32) -> bool {
        self.first <= v && v <= self.last
    }
}

/// Prints `N` or `A:B` as iptables-save does.
impl std::fmt::Display for U32Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}:{}", self.first, self.last)
        }
    }
}

/// `-m esp [!] --espspi SPI[:SPI]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Esp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi: Option<Neg<U32Range>>,
}
