//! `-j NFLOG`: pass the packet to a userspace logger over nfnetlink_log.

use serde::{Deserialize, Serialize};

/// `-j NFLOG`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nflog {
    /// `--nflog-group` (0 when not given).
    #[serde(default)]
    pub group: u16,
    /// `--nflog-prefix` (at most 63 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// How many bytes of the packet to copy (`--nflog-size`, or the
    /// legacy `--nflog-range`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<NflogCopy>,
    /// `--nflog-threshold`: packets to queue in the kernel before sending
    /// them to userspace (1 when not given).
    #[serde(default = "default_threshold")]
    pub threshold: u16,
}

fn default_threshold() -> u16 {
    Nflog::DEFAULT_THRESHOLD
}

impl Nflog {
    pub const DEFAULT_THRESHOLD: u16 = 1;
    /// Longest `--nflog-prefix` the kernel accepts (64-byte buffer with NUL).
    pub const MAX_PREFIX: usize = 63;
}

impl Default for Nflog {
    fn default() -> Self {
        Nflog {
            group: 0,
            prefix: None,
            copy: None,
            threshold: Nflog::DEFAULT_THRESHOLD,
        }
    }
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
