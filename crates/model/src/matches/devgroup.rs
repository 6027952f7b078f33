//! `-m devgroup`: match the group of the incoming / outgoing interface.

use crate::matches::mark::MarkMask;
use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m devgroup`. At least one of the two groups is present. Group names
/// of `/etc/iproute2/group` are resolved to numbers by the front end.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Devgroup {
    /// `[!] --src-group VALUE[/MASK]`: group of the incoming interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_group: Option<Neg<MarkMask>>,
    /// `[!] --dst-group VALUE[/MASK]`: group of the outgoing interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_group: Option<Neg<MarkMask>>,
}
