//! `-j REDIRECT`: DNAT to the local machine (the incoming interface's
//! primary address, or loopback for locally generated packets).

use crate::PortRange;
use serde::{Deserialize, Serialize};

/// `-j REDIRECT [--to-ports P[-P]] [--random]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Redirect {
    /// `--to-ports`: destination ports to use (needs `-p` with ports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ports: Option<PortRange>,
    /// `--random`: randomize the port mapping.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub random: bool,
}
