//! `-m tcp`: ports, flags and options of TCP segments.

use crate::{Neg, PortRange};
use serde::{Deserialize, Serialize};

/// TCP flag bits as in the TCP header (and `--tcp-flags`).
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
    /// Names in the order iptables-save prints them.
    pub const NAMES: [(&str, u8); 8] = [
        ("FIN", FIN),
        ("SYN", SYN),
        ("RST", RST),
        ("PSH", PSH),
        ("ACK", ACK),
        ("URG", URG),
        ("ECE", ECE),
        ("CWR", CWR),
    ];
}

/// `--tcp-flags MASK COMP`: the flags in `mask` are examined and must equal
/// `comp`. `--syn` is `FIN,SYN,RST,ACK SYN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TcpFlags {
    pub mask: u8,
    pub comp: u8,
}

impl TcpFlags {
    pub const SYN: TcpFlags = TcpFlags {
        mask: flags::FIN | flags::SYN | flags::RST | flags::ACK,
        comp: flags::SYN,
    };
}

/// `-m tcp`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tcp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sport: Option<Neg<PortRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dport: Option<Neg<PortRange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Neg<TcpFlags>>,
    /// `--tcp-option N`: the TCP option kind must be present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option: Option<Neg<u8>>,
}
