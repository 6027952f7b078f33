//! `-j CT`: set conntrack parameters of a new connection (raw table):
//! no tracking, helper, events, zone, timeout policy.

use serde::{Deserialize, Serialize};

/// A conntrack event (`--ctevents`), in the order iptables prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CtEvent {
    New,
    Related,
    Destroy,
    Reply,
    Assured,
    Protoinfo,
    Helper,
    Mark,
    Natseqinfo,
    Secmark,
}

impl CtEvent {
    pub const ALL: [CtEvent; 10] = [
        CtEvent::New,
        CtEvent::Related,
        CtEvent::Destroy,
        CtEvent::Reply,
        CtEvent::Assured,
        CtEvent::Protoinfo,
        CtEvent::Helper,
        CtEvent::Mark,
        CtEvent::Natseqinfo,
        CtEvent::Secmark,
    ];

    /// The name as written in `--ctevents`.
    pub fn name(self) -> &'static str {
        match self {
            CtEvent::New => "new",
            CtEvent::Related => "related",
            CtEvent::Destroy => "destroy",
            CtEvent::Reply => "reply",
            CtEvent::Assured => "assured",
            CtEvent::Protoinfo => "protoinfo",
            CtEvent::Helper => "helper",
            CtEvent::Mark => "mark",
            CtEvent::Natseqinfo => "natseqinfo",
            CtEvent::Secmark => "secmark",
        }
    }
}

/// An expectation event (`--expevents`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpEvent {
    New,
}

impl ExpEvent {
    pub const ALL: [ExpEvent; 1] = [ExpEvent::New];

    pub fn name(self) -> &'static str {
        match self {
            ExpEvent::New => "new",
        }
    }
}

/// Which direction(s) a conntrack zone applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZoneDir {
    /// `--zone`: both directions.
    #[default]
    Both,
    /// `--zone-orig`.
    Orig,
    /// `--zone-reply`.
    Reply,
}

/// The zone id: a number, or taken from the packet mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZoneId {
    Id(u16),
    /// `--zone mark`: the zone is the packet's mark.
    Mark,
}

/// `--zone[-orig|-reply] ID|mark`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CtZone {
    pub dir: ZoneDir,
    pub id: ZoneId,
}

/// `-j CT`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ct {
    /// `--notrack`: do not track the packet's connection.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notrack: bool,
    /// `--helper NAME`: attach this conntrack helper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helper: Option<String>,
    /// `--timeout NAME`: a timeout policy created with `nfct timeout add`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// `--ctevents`: only these events are reported (sorted, no repeats).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ctevents: Vec<CtEvent>,
    /// `--expevents`: only these expectation events are reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expevents: Vec<ExpEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<CtZone>,
}
