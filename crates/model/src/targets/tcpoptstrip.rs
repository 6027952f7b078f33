//! `-j TCPOPTSTRIP`: model of the iptables TCPOPTSTRIP target.
//!
//! PLACEHOLDER (T2): replace with the typed fields of the extension.

use serde::{Deserialize, Serialize};

/// `-j TCPOPTSTRIP`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tcpoptstrip {}
