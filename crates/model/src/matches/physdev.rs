//! `-m physdev`: match the bridge port a bridged packet entered or leaves
//! by (with `br_netfilter`).

use crate::{Iface, Neg};
use serde::{Deserialize, Serialize};

/// `-m physdev`. At least one option is present.
///
/// The three `is_*` flags are `Some(true)` for `--physdev-is-X`,
/// `Some(false)` for `! --physdev-is-X` and `None` when absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Physdev {
    /// `[!] --physdev-in NAME`: the bridge port the packet came in by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physdev_in: Option<Neg<Iface>>,
    /// `[!] --physdev-out NAME`: the bridge port it will leave by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physdev_out: Option<Neg<Iface>>,
    /// `[!] --physdev-is-in`: the packet entered through a bridge port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_in: Option<bool>,
    /// `[!] --physdev-is-out`: the packet leaves through a bridge port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_out: Option<bool>,
    /// `[!] --physdev-is-bridged`: the packet is being bridged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_bridged: Option<bool>,
}
