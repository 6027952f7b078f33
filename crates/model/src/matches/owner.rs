//! `-m owner`: match the local socket that sent the packet (OUTPUT and
//! POSTROUTING only).

use crate::Neg;
use serde::{Deserialize, Serialize};

/// An inclusive range of numeric user or group ids; `first == last` for a
/// single id. Names are resolved to numbers by the front end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdRange {
    pub first: u32,
    pub last: u32,
}

impl IdRange {
    pub fn single(id: u32) -> Self {
        IdRange {
            first: id,
            last: id,
        }
    }

    pub fn contains(&self, id: u32) -> bool {
        self.first <= id && id <= self.last
    }
}

/// Prints `N` or `FIRST-LAST`, as iptables-save does.
impl std::fmt::Display for IdRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// `-m owner` (revision 1). At least one option is present.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Owner {
    /// `[!] --uid-owner ID[-ID]`: the socket's file is owned by this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<Neg<IdRange>>,
    /// `[!] --gid-owner ID[-ID]`: ... by this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<Neg<IdRange>>,
    /// `--suppl-groups`: `gid` also matches the supplementary groups of the
    /// socket's owner. Only together with `gid`; never inverted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suppl_groups: bool,
    /// `--socket-exists` (`Some(true)`) / `! --socket-exists`
    /// (`Some(false)`): the packet is (not) associated with a socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_exists: Option<bool>,
}
