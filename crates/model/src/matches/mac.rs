//! `-m mac`: match the Ethernet source address (PREROUTING, INPUT and
//! FORWARD only).

use crate::{MacAddr, Neg};
use serde::{Deserialize, Serialize};

/// `-m mac [!] --mac-source XX:XX:XX:XX:XX:XX`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mac {
    pub source: Neg<MacAddr>,
}
