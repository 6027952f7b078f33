//! `-m cgroup`: match the control group of the local socket.

use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m cgroup` (revision 2): exactly one of `classid` / `path`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cgroup {
    /// `[!] --cgroup CLASSID`: net_cls class id (cgroup v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classid: Option<Neg<u32>>,
    /// `[!] --path PATH`: cgroup v2 path, relative to the cgroup root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Neg<String>>,
}
