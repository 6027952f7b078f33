//! `-m realm`: match the routing realm of the packet's route (IPv4 only).

use crate::matches::mark::MarkMask;
use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m realm [!] --realm VALUE[/MASK]`. Realm names of
/// `/etc/iproute2/rt_realms` are resolved to numbers by the front end.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Realm {
    pub realm: Neg<MarkMask>,
}
