//! `-m socket`: match packets that belong to a local socket (mangle
//! PREROUTING / INPUT, typically for TPROXY).

use serde::{Deserialize, Serialize};

/// `-m socket [--transparent] [--nowildcard] [--restore-skmark]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Socket {
    /// `--transparent`: only sockets with `IP_TRANSPARENT` set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transparent: bool,
    /// `--nowildcard`: do not match sockets bound to the wildcard address.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nowildcard: bool,
    /// `--restore-skmark`: copy the socket's mark to the packet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restore_skmark: bool,
}
