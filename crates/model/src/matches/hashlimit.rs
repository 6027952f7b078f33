//! `-m hashlimit`: a token bucket per group of packets (per source address,
//! destination port, ...), kept in a named hash table.

use super::limit::Rate;
use serde::{Deserialize, Serialize};

/// Which packet fields form the bucket key (`--hashlimit-mode`). All false:
/// one bucket for every packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct HashlimitMode {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub srcip: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub srcport: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dstip: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dstport: bool,
}

impl HashlimitMode {
    pub fn is_empty(&self) -> bool {
        !(self.srcip || self.srcport || self.dstip || self.dstport)
    }
}

/// The rate of a hashlimit bucket: packets or bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashlimitRate {
    /// `--hashlimit-upto 10/sec --hashlimit-burst 5`.
    Packets { rate: Rate, burst: u64 },
    /// `--hashlimit-upto 4kb/s [--hashlimit-burst 400kb]`.
    Bytes {
        /// Bytes per second, as the kernel rounds it (a multiple of 16).
        per_second: u64,
        /// Burst in bytes as the kernel keeps it (a whole number of
        /// `per_second` chunks); 0 when no burst was given.
        #[serde(default, skip_serializing_if = "is_zero")]
        burst: u64,
    },
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// `-m hashlimit` (revision 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hashlimit {
    /// `--hashlimit-name`: the table name (`/proc/net/ipt_hashlimit/NAME`).
    pub name: String,
    /// `--hashlimit-above` (match above the rate) rather than
    /// `--hashlimit-upto` (match up to the rate).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub above: bool,
    pub rate: HashlimitRate,
    #[serde(default, skip_serializing_if = "HashlimitMode::is_empty")]
    pub mode: HashlimitMode,
    /// `--hashlimit-srcmask`: prefix length source addresses are grouped by
    /// (32 or 128 when not given).
    pub srcmask: u8,
    /// `--hashlimit-dstmask`.
    pub dstmask: u8,
    /// `--hashlimit-htable-size` (buckets); `None`: kernel default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub htable_size: Option<u32>,
    /// `--hashlimit-htable-max` (entries); `None`: kernel default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub htable_max: Option<u32>,
    /// `--hashlimit-htable-gcinterval` in milliseconds (default 1000).
    pub gc_interval: u32,
    /// `--hashlimit-htable-expire` in milliseconds. When not given iptables
    /// derives it from the rate's unit; the value here is always resolved.
    pub expire: u32,
    /// `--hashlimit-rate-match [--hashlimit-rate-interval N]`: match flows
    /// by their rate over `N` seconds without limiting them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_match: Option<u32>,
}
