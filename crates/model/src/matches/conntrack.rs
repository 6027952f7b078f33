//! `-m conntrack`: the connection tracking entry of a packet (revision 3:
//! states, protocol, tuple addresses and port ranges, status, expiry,
//! direction).

use crate::matches::esp::U32Range;
pub use crate::matches::state::CtStates;
use crate::{IpNet, Neg, PortRange, Protocol};
use serde::{Deserialize, Serialize};

/// Conntrack status bits (`--ctstatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct CtStatus {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expected: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub seen_reply: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub assured: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirmed: bool,
}

impl CtStatus {
    /// Names in the order iptables-save prints them (`NONE` when empty).
    pub const NAMES: [&'static str; 4] = ["EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED"];

    /// The names of the bits that are set, in iptables-save order.
    pub fn names(&self) -> Vec<&'static str> {
        let flags = [self.expected, self.seen_reply, self.assured, self.confirmed];
        Self::NAMES
            .iter()
            .zip(flags)
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect()
    }

    /// The flag of a name of [`Self::NAMES`].
    pub fn flag_mut(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "EXPECTED" => &mut self.expected,
            "SEEN_REPLY" => &mut self.seen_reply,
            "ASSURED" => &mut self.assured,
            "CONFIRMED" => &mut self.confirmed,
            _ => return None,
        })
    }
}

/// Direction of the packet in its connection (`--ctdir`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CtDir {
    Original,
    Reply,
}

impl CtDir {
    pub fn name(self) -> &'static str {
        match self {
            CtDir::Original => "ORIGINAL",
            CtDir::Reply => "REPLY",
        }
    }
}

/// `-m conntrack ...`; at least one field is set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Conntrack {
    /// `--ctstate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Neg<CtStates>>,
    /// `--ctproto` (never protocol 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<Neg<Protocol>>,
    /// `--ctorigsrc ADDR[/MASK]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orig_src: Option<Neg<IpNet>>,
    /// `--ctorigdst ADDR[/MASK]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orig_dst: Option<Neg<IpNet>>,
    /// `--ctreplsrc ADDR[/MASK]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repl_src: Option<Neg<IpNet>>,
    /// `--ctrepldst ADDR[/MASK]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repl_dst: Option<Neg<IpNet>>,
    /// `--ctorigsrcport P[:P]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orig_src_port: Option<Neg<PortRange>>,
    /// `--ctorigdstport P[:P]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orig_dst_port: Option<Neg<PortRange>>,
    /// `--ctreplsrcport P[:P]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repl_src_port: Option<Neg<PortRange>>,
    /// `--ctrepldstport P[:P]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repl_dst_port: Option<Neg<PortRange>>,
    /// `--ctstatus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Neg<CtStatus>>,
    /// `--ctexpire MIN[:MAX]`: remaining lifetime in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire: Option<Neg<U32Range>>,
    /// `--ctdir ORIGINAL|REPLY` (cannot be inverted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<CtDir>,
}

impl Conntrack {
    /// Whether it tests anything besides `--ctstate` (tuple, protocol,
    /// status, expiry or direction).
    pub fn tests_more_than_state(&self) -> bool {
        self.proto.is_some()
            || self.orig_src.is_some()
            || self.orig_dst.is_some()
            || self.repl_src.is_some()
            || self.repl_dst.is_some()
            || self.orig_src_port.is_some()
            || self.orig_dst_port.is_some()
            || self.repl_src_port.is_some()
            || self.repl_dst_port.is_some()
            || self.status.is_some()
            || self.expire.is_some()
            || self.dir.is_some()
    }
}
