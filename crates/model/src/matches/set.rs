//! `-m set`: membership of the packet in an ipset.

use serde::{Deserialize, Serialize};

/// One direction of the `--match-set NAME src,dst` flags: which address
/// or port of the packet fills that dimension of the set element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SetDir {
    Src,
    Dst,
}

impl SetDir {
    pub fn name(self) -> &'static str {
        match self {
            SetDir::Src => "src",
            SetDir::Dst => "dst",
        }
    }
}

/// How a packet or byte counter of the matching element is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CounterOp {
    /// `--packets-eq N`.
    Eq,
    /// `! --packets-eq N`.
    Ne,
    /// `--packets-lt N`.
    Lt,
    /// `--packets-gt N`.
    Gt,
}

/// A condition on an element counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CounterCond {
    pub op: CounterOp,
    pub value: u64,
}

/// `-m set` (revision 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetMatch {
    /// `! --match-set`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invert: bool,
    /// The ipset name.
    pub set: String,
    /// The `src,dst,...` flags, 1 to 6 of them.
    pub dirs: Vec<SetDir>,
    /// `--return-nomatch`: an element flagged `nomatch` makes the match
    /// true (inverted sense for `nomatch` entries).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub return_nomatch: bool,
    /// False for `! --update-counters`.
    pub update_counters: bool,
    /// False for `! --update-subcounters`.
    pub update_subcounters: bool,
    /// `--packets-eq|lt|gt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packets: Option<CounterCond>,
    /// `--bytes-eq|lt|gt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<CounterCond>,
}
