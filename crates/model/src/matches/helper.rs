//! `-m helper`: the conntrack helper (`ftp`, `sip`, ...) that created the
//! expectation of a related connection.

use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m helper [!] --helper NAME`; `ftp` also matches the helper of any
/// port (`ftp-2121`), an empty name matches any helper.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Helper {
    pub name: Neg<String>,
}

impl Helper {
    /// The kernel keeps at most 29 bytes of the name.
    pub const MAX_LEN: usize = 29;
}
