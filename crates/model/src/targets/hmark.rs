//! `-j HMARK`: set the packet mark from a hash of its addresses, ports and
//! protocol: `mark = hash % modulus + offset`.

use serde::{Deserialize, Serialize};

/// `-j HMARK`. Every option is optional except `--hmark-mod`; absent ones
/// take the kernel defaults (full masks, offset 0).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Hmark {
    /// `--hmark-src-prefix N`: source address prefix length hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_prefix: Option<u8>,
    /// `--hmark-dst-prefix N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_prefix: Option<u8>,
    /// `--hmark-sport-mask`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sport_mask: Option<u16>,
    /// `--hmark-dport-mask`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport_mask: Option<u16>,
    /// `--hmark-spi-mask` (ESP/AH SPI; exclusive with the port masks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi_mask: Option<u32>,
    /// `--hmark-sport`: fixed source port value ORed in before hashing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    /// `--hmark-dport`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    /// `--hmark-spi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi: Option<u32>,
    /// `--hmark-proto-mask`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto_mask: Option<u8>,
    /// `--hmark-rnd`: hash seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rnd: Option<u32>,
    /// `--hmark-mod`: modulus (required, non-zero).
    pub modulus: u32,
    /// `--hmark-offset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    /// `--hmark-tuple ct`: hash the conntrack tuple instead of the packet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ct: bool,
}
