//! `-m dscp`: match the 6-bit DSCP field of the IPv4 TOS byte / IPv6
//! traffic class.

use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m dscp [!] --dscp N` or `[!] --dscp-class CLASS` (stored as its value).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dscp {
    /// The DSCP value, `0..=63`.
    pub dscp: Neg<u8>,
}
