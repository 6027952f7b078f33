//! `-j SYNPROXY`: answer TCP SYNs with SYN cookies and open the connection
//! to the server only after the client completed the handshake.

use serde::{Deserialize, Serialize};

/// `-j SYNPROXY` (needs `-p tcp`; typically on INVALID,UNTRACKED packets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Synproxy {
    /// `--sack-perm`: the server supports selective acknowledgements.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sack_perm: bool,
    /// `--timestamp`: the server supports TCP timestamps.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timestamp: bool,
    /// `--wscale`: the server's window scale (0-14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wscale: Option<u8>,
    /// `--mss`: the server's maximum segment size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mss: Option<u16>,
    /// `--ecn`: the server supports explicit congestion notification.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ecn: bool,
}
