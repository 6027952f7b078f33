//! `-j MARK`: set the packet's netfilter mark (`skb->mark`).
//!
//! Every MARK option is reduced, as the kernel does, to one XOR-and-mask
//! operation: `mark = (mark & !mask) ^ value`. `--set-mark V/M` is
//! `value V, mask V|M`, `--and-mark B` is `value 0, mask !B`, `--or-mark B`
//! is `value B, mask B`, `--xor-mark B` is `value B, mask 0`.

use serde::{Deserialize, Serialize};

/// `-j MARK`: `mark = (mark & !mask) ^ value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mark {
    /// Bits XORed into the mark after clearing `mask`.
    pub value: u32,
    /// Bits of the old mark that are cleared first.
    pub mask: u32,
}

impl Default for Mark {
    /// `--set-mark 0`: clear the whole mark.
    fn default() -> Self {
        Mark {
            value: 0,
            mask: u32::MAX,
        }
    }
}

impl Mark {
    /// The new mark of a packet whose mark was `old`.
    pub fn apply(&self, old: u32) -> u32 {
        (old & !self.mask) ^ self.value
    }
}
