//! `-m connlimit`: limits the number of connections per address group.

use serde::{Deserialize, Serialize};

/// Which address the connections are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnlimitKey {
    /// `--connlimit-saddr` (the default).
    #[default]
    Saddr,
    /// `--connlimit-daddr`.
    Daddr,
}

/// `-m connlimit`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Connlimit {
    /// The connection count limit.
    pub limit: u32,
    /// `--connlimit-above N` (match when more than N connections); false
    /// for `--connlimit-upto N`. `! --connlimit-upto` is `--connlimit-above`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub above: bool,
    /// `--connlimit-mask`: prefix length addresses are grouped by, resolved
    /// to the family's full length (32 or 128) when not given.
    pub mask: u8,
    pub key: ConnlimitKey,
}
