//! `-m eui64` (IPv6): the source address's interface identifier is the
//! EUI-64 derived from the packet's source MAC address. No options; only
//! in PREROUTING, INPUT and FORWARD.

use serde::{Deserialize, Serialize};

/// `-m eui64`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Eui64 {}
