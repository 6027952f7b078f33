//! `-m frag` (IPv6): the Fragment extension header.

use crate::matches::esp::U32Range;
use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m frag [!] --fragid ID[:ID] [!] --fraglen N --fragres --fragfirst
/// --fragmore|--fraglast`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Frag {
    /// `--fragid`: the identification field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Neg<U32Range>>,
    /// `--fraglen`: the header length field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<Neg<u32>>,
    /// `--fragres`: the reserved fields must be zero.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub res: bool,
    /// `--fragfirst`: offset zero.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first: bool,
    /// `--fragmore`: the more-fragments bit is set (excludes `last`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
    /// `--fraglast`: the more-fragments bit is clear (excludes `more`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub last: bool,
}
