//! `-m osf`: passive OS fingerprinting of TCP SYN packets (IPv4 only; the
//! fingerprints are loaded into the kernel by `nfnl_osf`).

use crate::Neg;
use serde::{Deserialize, Serialize};

/// `--ttl LEVEL`: how the IP TTL is compared with the fingerprint's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsfTtl {
    /// `0`: the TTLs must be equal (LAN).
    Exact,
    /// `1`: the IP TTL may be less than the fingerprint's (global).
    Less,
    /// `2`: the TTL is not compared.
    NoCheck,
}

impl OsfTtl {
    pub fn level(self) -> u8 {
        match self {
            OsfTtl::Exact => 0,
            OsfTtl::Less => 1,
            OsfTtl::NoCheck => 2,
        }
    }
}

/// `--log LEVEL`: what the kernel logs about determined genres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsfLog {
    /// `0`: every matched or unknown signature.
    All,
    /// `1`: only the first one.
    First,
    /// `2`: every known matched signature.
    Known,
}

impl OsfLog {
    pub fn level(self) -> u8 {
        match self {
            OsfLog::All => 0,
            OsfLog::First => 1,
            OsfLog::Known => 2,
        }
    }
}

/// `-m osf [!] --genre NAME [--ttl LEVEL] [--log LEVEL]` (needs `-p tcp`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Osf {
    /// OS genre, e.g. `Linux` (at most 31 bytes).
    pub genre: Neg<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<OsfTtl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<OsfLog>,
}
