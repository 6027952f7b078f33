//! `-m statistic`: random sampling or every n-th packet.

use serde::{Deserialize, Serialize};

/// The sampling mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatisticMode {
    /// `--mode random --probability P`; `probability` is the kernel's fixed
    /// point value, `P * 2^31` rounded (0 ..= 2^31).
    Random { probability: u32 },
    /// `--mode nth --every N [--packet P]`: matches packet P (0-based) of
    /// every N.
    Nth { every: u32, packet: u32 },
}

/// `-m statistic`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statistic {
    /// `!` before `--probability` or `--every`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invert: bool,
    pub mode: StatisticMode,
}

impl Statistic {
    /// The fixed-point value of probability 1.0.
    pub const PROBABILITY_ONE: u32 = 0x8000_0000;
}
