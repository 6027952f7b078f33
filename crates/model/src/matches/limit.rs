//! `-m limit`: a token bucket shared by every packet that reaches the rule.
//!
//! Also home of [`Rate`], the packet rate type that `hashlimit` shares.

use serde::{Deserialize, Serialize};

/// The time unit of a packet rate (`/sec`, `/min`, `/hour`, `/day`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateUnit {
    Second,
    Minute,
    Hour,
    Day,
}

impl RateUnit {
    /// Units from the longest to the shortest, the order iptables tries them.
    pub const ALL: [RateUnit; 4] = [
        RateUnit::Day,
        RateUnit::Hour,
        RateUnit::Minute,
        RateUnit::Second,
    ];

    /// Length of the unit in seconds.
    pub fn seconds(self) -> u64 {
        match self {
            RateUnit::Second => 1,
            RateUnit::Minute => 60,
            RateUnit::Hour => 60 * 60,
            RateUnit::Day => 24 * 60 * 60,
        }
    }

    /// The suffix iptables-save prints (`sec`, `min`, `hour`, `day`).
    pub fn name(self) -> &'static str {
        match self {
            RateUnit::Second => "sec",
            RateUnit::Minute => "min",
            RateUnit::Hour => "hour",
            RateUnit::Day => "day",
        }
    }
}

/// A packet rate: `count` packets per `unit`.
///
/// The kernel keeps the average interval between packets (`unit / count`,
/// in fixed point); front ends store the rate in the canonical form
/// iptables-save prints for that interval (`60/min` is stored as `1/sec`),
/// so equal kernel rules compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rate {
    pub count: u64,
    pub unit: RateUnit,
}

impl Rate {
    pub const fn new(count: u64, unit: RateUnit) -> Self {
        Rate { count, unit }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.count, self.unit.name())
    }
}

/// `-m limit`: matches until the bucket is empty; the bucket holds `burst`
/// tokens and refills at `rate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// `--limit`; iptables' default is `3/hour`.
    pub rate: Rate,
    /// `--limit-burst`; iptables' default is 5.
    pub burst: u32,
}

impl Limit {
    pub const DEFAULT_RATE: Rate = Rate::new(3, RateUnit::Hour);
    pub const DEFAULT_BURST: u32 = 5;
}

impl Default for Limit {
    fn default() -> Self {
        Limit {
            rate: Self::DEFAULT_RATE,
            burst: Self::DEFAULT_BURST,
        }
    }
}
