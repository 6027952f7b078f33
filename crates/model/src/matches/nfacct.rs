//! `-m nfacct`: counts the packet in a named nfacct object (always matches).

use serde::{Deserialize, Serialize};

/// `-m nfacct --nfacct-name NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Nfacct {
    pub name: String,
}
