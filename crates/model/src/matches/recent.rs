//! `-m recent`: a named list of recently seen addresses.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What the match does with the list (exactly one per match).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecentCommand {
    /// `--set`: add the address (always true).
    Set,
    /// `--rcheck`: is the address in the list?
    Rcheck,
    /// `--update`: like rcheck, and refresh its last-seen time.
    Update,
    /// `--remove`: remove the address when present.
    Remove,
}

impl RecentCommand {
    pub fn name(self) -> &'static str {
        match self {
            RecentCommand::Set => "set",
            RecentCommand::Rcheck => "rcheck",
            RecentCommand::Update => "update",
            RecentCommand::Remove => "remove",
        }
    }
}

/// Which address of the packet goes to the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecentSide {
    /// `--rsource` (the default).
    #[default]
    Source,
    /// `--rdest`.
    Dest,
}

/// `-m recent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recent {
    /// `[!] --set|--rcheck|--update|--remove`.
    pub command: crate::Neg<RecentCommand>,
    /// `--seconds N`: only entries seen within the last N seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u32>,
    /// `--reap` (with `--seconds`): purge older entries.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reap: bool,
    /// `--hitcount N`: at least N hits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hitcount: Option<u32>,
    /// `--rttl`: the TTL must also match the one recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rttl: bool,
    /// `--name` (default `DEFAULT`).
    pub name: String,
    /// `--mask`: applied to the address before lookup; all ones by default.
    pub mask: IpAddr,
    pub side: RecentSide,
}
