//! `-m connbytes`: how much a connection has transferred so far.

use serde::{Deserialize, Serialize};

/// What is counted (`--connbytes-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnbytesMode {
    #[default]
    Packets,
    Bytes,
    /// Average packet size.
    Avgpkt,
}

/// Which direction is counted (`--connbytes-dir`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnbytesDir {
    #[default]
    Original,
    Reply,
    Both,
}

/// An inclusive count range; `to == u64::MAX` is open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct ConnbytesRange {
    pub from: u64,
    pub to: u64,
}

/// `-m connbytes`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Connbytes {
    /// `[!] --connbytes FROM[:TO]`.
    pub range: crate::Neg<ConnbytesRange>,
    pub mode: ConnbytesMode,
    pub dir: ConnbytesDir,
}
