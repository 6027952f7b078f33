//! `-j TOS`: rewrite the IPv4 TOS field / IPv6 traffic class (its upper
//! 8 bits). All options reduce to `tos = (tos & !mask) ^ value`.

use serde::{Deserialize, Serialize};

/// `-j TOS`: `tos = (tos & !mask) ^ value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Tos {
    pub value: u8,
    pub mask: u8,
}
