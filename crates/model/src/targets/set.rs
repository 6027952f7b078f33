//! `-j SET`: add the packet's addresses/ports to an ipset, delete them
//! from one, or copy skb metadata from a matching set element.

use serde::{Deserialize, Serialize};

/// Which side of the packet one dimension of a set element is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SetDir {
    Src,
    Dst,
}

/// `NAME src,dst,...`: a set and the packet side of each dimension (1..=6).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SetRef {
    pub name: String,
    pub dirs: Vec<SetDir>,
}

/// `-j SET`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SetTarget {
    /// `--add-set NAME FLAGS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_set: Option<SetRef>,
    /// `--del-set NAME FLAGS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub del_set: Option<SetRef>,
    /// `--exist`: re-adding an element refreshes its timeout.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exist: bool,
    /// `--timeout SECS` for added elements (`None`: the set's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// `--map-set NAME FLAGS`: look the packet up and copy metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_set: Option<SetRef>,
    /// `--map-mark`: copy the element's skbmark to the packet mark.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub map_mark: bool,
    /// `--map-prio`: copy the element's skbprio to the priority.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub map_prio: bool,
    /// `--map-queue`: copy the element's skbqueue to the queue mapping.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub map_queue: bool,
}
