//! `-j CLASSIFY`: set the packet's tc priority (class `MAJOR:MINOR`).

use serde::{Deserialize, Serialize};

/// `-j CLASSIFY --set-class MAJOR:MINOR` (both hexadecimal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Classify {
    pub major: u16,
    pub minor: u16,
}

impl Classify {
    /// The 32-bit tc handle `major << 16 | minor`.
    pub fn handle(&self) -> u32 {
        (u32::from(self.major) << 16) | u32::from(self.minor)
    }
}
