//! `-m tcpmss`: match the MSS option of TCP SYN segments.

pub use crate::matches::length::U16Range;
use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m tcpmss [!] --mss MIN[:MAX]` (needs `-p tcp`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tcpmss {
    pub mss: Neg<U16Range>,
}
