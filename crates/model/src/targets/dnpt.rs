//! `-j DNPT`: stateless IPv6-to-IPv6 destination network prefix
//! translation (RFC 6296).

use crate::IpNet;
use serde::{Deserialize, Serialize};

/// `-j DNPT --src-pfx NET --dst-pfx NET` (IPv6, mangle table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dnpt {
    /// `--src-pfx`: the external prefix.
    pub src_pfx: IpNet,
    /// `--dst-pfx`: the internal prefix.
    pub dst_pfx: IpNet,
}
