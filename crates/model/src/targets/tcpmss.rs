//! `-j TCPMSS`: rewrite the MSS option of TCP SYN segments.

use serde::{Deserialize, Serialize};

/// `-j TCPMSS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum Tcpmss {
    /// `--clamp-mss-to-pmtu`: the path MTU minus the IP and TCP headers.
    #[default]
    ClampToPmtu,
    /// `--set-mss N`.
    Set { mss: u16 },
}
