//! `-m ecn`: match the ECN bits of the IP header and the TCP ECE/CWR flags.

use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m ecn`. At least one option is present.
///
/// `tcp_ece` / `tcp_cwr` are `Some(true)` for `--ecn-tcp-X` (the flag is
/// set), `Some(false)` for `! --ecn-tcp-X` (not set), `None` when absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ecn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_ece: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_cwr: Option<bool>,
    /// `[!] --ecn-ip-ect N`: the two ECN bits of the IP header, `0..=3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_ect: Option<Neg<u8>>,
}
