//! `-m cpu`: match the CPU handling the packet.

use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m cpu [!] --cpu N`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cpu {
    pub cpu: Neg<u32>,
}
