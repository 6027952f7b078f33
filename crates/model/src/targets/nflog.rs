//! `-j NFLOG`: pass the packet to a userspace logger over nfnetlink_log.

use serde::{Deserialize, Serialize};

/// `-j NFLOG`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Nflog {
    /// `--nflog-group` (0 when not given).
    #[serde(default)]
    pub group: u16,
    /// `--nflog-prefix` (at most 127 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// How many bytes of the packet to copy (`--nflog-size`, or the
    /// legacy `--nflog-range`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<NflogCopy>,
    /// `--nflog-threshold`: packets to queue in the kernel before sending
    /// them to userspace (0 when not given; the kernel treats 0 as 1).
    #[serde(default)]
    pub threshold: u16,
}

impl Nflog {
    /// The threshold of a rule without `--nflog-threshold` (not printed).
    pub const DEFAULT_THRESHOLD: u16 = 0;
    /// Longest `--nflog-prefix` iptables-nft keeps (the nftables log
    /// prefix limit, 128 bytes with NUL; iptables-legacy keeps 63).
    pub const MAX_PREFIX: usize = 127;
}

/// The copy length of NFLOG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NflogCopy {
    /// `--nflog-size N`: copy N bytes (0 is a valid size).
    Size(u32),
    /// `--nflog-range N` (deprecated, ignored by the kernel; non-zero).
    Range(u32),
}
