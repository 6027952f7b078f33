//! `-m sctp`: ports and chunk types of SCTP packets.

use crate::{Neg, PortRange};
use serde::{Deserialize, Serialize};

/// How `--chunk-types` compares the chunk list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChunkMatch {
    /// Any of the chunk types is present.
    #[default]
    Any,
    /// All of them are present.
    All,
    /// Only these chunk types are present.
    Only,
}

impl ChunkMatch {
    pub fn name(self) -> &'static str {
        match self {
            ChunkMatch::Any => "any",
            ChunkMatch::All => "all",
            ChunkMatch::Only => "only",
        }
    }
}

/// Flag bits a chunk must have (`DATA:Be`): `mask` selects the examined
/// bits, `value` their required state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChunkFlags {
    pub value: u8,
    pub mask: u8,
}

/// One chunk type of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SctpChunk {
    #[serde(rename = "type")]
    pub chunk_type: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<ChunkFlags>,
}

/// The chunk types of `--chunk-types`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChunkSet {
    /// `ALL`: every chunk type 0-255.
    All,
    /// `NONE`: no chunk type.
    None,
    /// These chunk types, sorted by type, each once.
    List(Vec<SctpChunk>),
}

/// `--chunk-types MATCH CHUNKS`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SctpChunks {
    pub match_type: ChunkMatch,
    pub chunks: ChunkSet,
}

/// Kernel limit on chunk types with flags (`XT_NUM_SCTP_FLAGS`).
pub const MAX_FLAGGED_CHUNKS: usize = 4;

/// Chunk names as iptables spells them, with the flag letters of each
/// (most significant bit first, `-` for a bit without a name).
pub const CHUNK_NAMES: &[(&str, u8, &str)] = &[
    ("DATA", 0, "----IUBE"),
    ("INIT", 1, "--------"),
    ("INIT_ACK", 2, "--------"),
    ("SACK", 3, "--------"),
    ("HEARTBEAT", 4, "--------"),
    ("HEARTBEAT_ACK", 5, "--------"),
    ("ABORT", 6, "-------T"),
    ("SHUTDOWN", 7, "--------"),
    ("SHUTDOWN_ACK", 8, "--------"),
    ("ERROR", 9, "--------"),
    ("COOKIE_ECHO", 10, "--------"),
    ("COOKIE_ACK", 11, "--------"),
    ("ECN_ECNE", 12, "--------"),
    ("ECN_CWR", 13, "--------"),
    ("SHUTDOWN_COMPLETE", 14, "-------T"),
    ("I_DATA", 64, "----IUBE"),
    ("RE_CONFIG", 130, "--------"),
    ("PAD", 132, "--------"),
    ("ASCONF", 193, "--------"),
    ("ASCONF_ACK", 128, "--------"),
    ("FORWARD_TSN", 192, "--------"),
    ("I_FORWARD_TSN", 194, "--------"),
];

/// `-m sctp [!] --sport P[:P] [!] --dport P[:P] [!] --chunk-types ...`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sctp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sport: Option<Neg<PortRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport: Option<Neg<PortRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<Neg<SctpChunks>>,
}
