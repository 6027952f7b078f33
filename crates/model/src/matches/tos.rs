//! `-m tos`: match the IPv4 TOS byte / IPv6 traffic class under a mask.

use crate::Neg;
use serde::{Deserialize, Serialize};

/// An 8-bit `VALUE/MASK` pair: matches when `(tos & mask) == value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TosMask {
    pub value: u8,
    pub mask: u8,
}

impl Default for TosMask {
    fn default() -> Self {
        TosMask {
            value: 0,
            mask: 0xff,
        }
    }
}

/// `-m tos [!] --tos VALUE[/MASK]` (revision 1). A symbolic name such as
/// `Minimize-Delay` is stored as its value with mask `0x3f`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tos {
    pub tos: Neg<TosMask>,
}
