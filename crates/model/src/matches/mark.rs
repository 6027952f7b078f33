//! `-m mark`: match the packet's firewall mark (`skb->mark`).

use crate::Neg;
use serde::{Deserialize, Serialize};

/// A 32-bit `VALUE/MASK` pair: matches when `(x & mask) == value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MarkMask {
    pub value: u32,
    /// `0xffffffff` when no mask was given.
    pub mask: u32,
}

impl MarkMask {
    /// A plain value (mask all ones).
    pub fn exact(value: u32) -> Self {
        MarkMask {
            value,
            mask: u32::MAX,
        }
    }

    /// Does `x` match?
    pub fn matches(&self, x: u32) -> bool {
        x & self.mask == self.value
    }
}

impl Default for MarkMask {
    fn default() -> Self {
        MarkMask::exact(0)
    }
}

/// `-m mark [!] --mark VALUE[/MASK]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Mark {
    pub mark: Neg<MarkMask>,
}
