//! `-j ECN`: rewrite ECN bits of IPv4 packets (mangle table).

use serde::{Deserialize, Serialize};

/// `-j ECN`. `--ecn-tcp-remove` is `ece: Some(false), cwr: Some(false)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Ecn {
    /// `--ecn-tcp-ece 0|1`: set the TCP ECE bit to this value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ece: Option<bool>,
    /// `--ecn-tcp-cwr 0|1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwr: Option<bool>,
    /// `--ecn-ip-ect 0..=3`: set the IP ECN field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_ect: Option<u8>,
}
