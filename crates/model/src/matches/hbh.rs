//! `-m hbh` (IPv6): the Hop-by-Hop Options extension header. Also home of
//! [`Ip6Opt`], shared with `-m dst`.

use crate::Neg;
use serde::{Deserialize, Serialize};

/// One entry of `--hbh-opts`/`--dst-opts`: an option type and, when given
/// (`TYPE:LEN`), its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ip6Opt {
    #[serde(rename = "type")]
    pub opt_type: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<u8>,
}

/// Kernel limit on the options list (`IP6T_OPTS_OPTSNR`).
pub const MAX_OPTS: usize = 16;

/// `-m hbh [!] --hbh-len N [--hbh-opts TYPE[:LEN][,...]]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Hbh {
    /// `--hbh-len`: the header length field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<Neg<u32>>,
    /// `--hbh-opts`: options that must appear, in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub opts: Vec<Ip6Opt>,
}
