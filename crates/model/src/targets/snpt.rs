//! `-j SNPT`: stateless IPv6-to-IPv6 source network prefix translation
//! (RFC 6296).

use crate::IpNet;
use serde::{Deserialize, Serialize};

/// `-j SNPT --src-pfx NET --dst-pfx NET` (IPv6, mangle table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snpt {
    /// `--src-pfx`: the internal prefix.
    pub src_pfx: IpNet,
    /// `--dst-pfx`: the external prefix.
    pub dst_pfx: IpNet,
}
