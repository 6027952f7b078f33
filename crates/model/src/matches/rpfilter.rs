//! `-m rpfilter`: reverse-path filter (would a reply to the source be
//! routed out the interface the packet came in by?). raw and mangle
//! PREROUTING only.

use serde::{Deserialize, Serialize};

/// `-m rpfilter [--loose] [--validmark] [--accept-local] [--invert]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rpfilter {
    /// `--loose`: any interface will do, as long as a route exists.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub loose: bool,
    /// `--validmark`: use the packet's mark in the route lookup.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub validmark: bool,
    /// `--accept-local`: accept packets with a local source address.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accept_local: bool,
    /// `--invert`: match packets that fail the check.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invert: bool,
}
