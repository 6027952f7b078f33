//! `-m icmp6` (alias `-m icmpv6`, IPv6 only): ICMPv6 type and code range.

use crate::matches::icmp::IcmpType;
use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m icmp6 [!] --icmpv6-type TYPE[/CODE]|NAME`.
///
/// Unlike IPv4, type 255 has no wildcard meaning for ICMPv6.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Icmp6 {
    pub icmp_type: Neg<IcmpType>,
}
