//! `-j NFQUEUE`: hand the packet to a userspace program over nfnetlink_queue.

use serde::{Deserialize, Serialize};

/// `-j NFQUEUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Nfqueue {
    /// The queue (or queues) to send to.
    #[serde(default)]
    pub queue: QueueSpec,
    /// `--queue-bypass`: accept the packet when no program listens.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bypass: bool,
    /// `--queue-cpu-fanout`: with a balance range, pick the queue by CPU.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cpu_fanout: bool,
}

/// One queue or a range to balance over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueSpec {
    /// `--queue-num N` (0 when nothing is given).
    Num(u16),
    /// `--queue-balance FIRST:LAST`, `first < last`.
    Balance { first: u16, last: u16 },
}

impl Default for QueueSpec {
    fn default() -> Self {
        QueueSpec::Num(0)
    }
}
