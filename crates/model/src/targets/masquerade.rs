//! `-j MASQUERADE`: SNAT to the address of the outgoing interface.

use crate::PortRange;
use serde::{Deserialize, Serialize};

/// `-j MASQUERADE [--to-ports P[-P]] [--random] [--random-fully]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Masquerade {
    /// `--to-ports`: source ports to use (needs `-p` with ports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ports: Option<PortRange>,
    /// `--random`: randomize the source port mapping.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub random: bool,
    /// `--random-fully`: fully randomize the port mapping (PRNG).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub random_fully: bool,
}
