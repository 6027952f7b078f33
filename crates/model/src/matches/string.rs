//! `-m string`: a byte pattern in the packet.

use serde::{Deserialize, Serialize};

/// The search algorithm (`--algo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StringAlgo {
    /// Boyer-Moore.
    #[default]
    Bm,
    /// Knuth-Pratt-Morris.
    Kmp,
}

impl StringAlgo {
    pub fn name(self) -> &'static str {
        match self {
            StringAlgo::Bm => "bm",
            StringAlgo::Kmp => "kmp",
        }
    }
}

/// `-m string`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StringMatch {
    /// `[!] --string TEXT` or `[!] --hex-string |..|`: the raw bytes
    /// searched (1 to 128). Printed as `--hex-string` when they are not all
    /// printable.
    pub pattern: crate::Neg<Vec<u8>>,
    pub algo: StringAlgo,
    /// `--from`: first offset searched (default 0).
    pub from: u16,
    /// `--to`: last offset searched (default 65535).
    pub to: u16,
    /// `--icase`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub icase: bool,
}
