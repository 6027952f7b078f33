//! `-m srh` (IPv6): the Segment Routing Header.

use crate::{IpNet, Neg};
use serde::{Deserialize, Serialize};

/// How a header field is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cmp {
    Eq,
    Gt,
    Lt,
}

impl Cmp {
    /// Suffix of the option name (`--srh-hdr-len-eq`).
    pub fn suffix(self) -> &'static str {
        match self {
            Cmp::Eq => "eq",
            Cmp::Gt => "gt",
            Cmp::Lt => "lt",
        }
    }
}

/// A field compared with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldCmp {
    pub op: Cmp,
    pub value: u8,
}

/// `-m srh ...`; every field optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Srh {
    /// `--srh-next-hdr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hdr: Option<Neg<u8>>,
    /// `--srh-hdr-len-{eq,gt,lt}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdr_len: Option<Neg<FieldCmp>>,
    /// `--srh-segs-left-{eq,gt,lt}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segs_left: Option<Neg<FieldCmp>>,
    /// `--srh-last-entry-{eq,gt,lt}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_entry: Option<Neg<FieldCmp>>,
    /// `--srh-tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Neg<u16>>,
    /// `--srh-psid`: previous segment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psid: Option<Neg<IpNet>>,
    /// `--srh-nsid`: next segment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsid: Option<Neg<IpNet>>,
    /// `--srh-lsid`: last segment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lsid: Option<Neg<IpNet>>,
}
