//! `-m icmp`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::icmp::Icmp;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "icmp",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Icmp, _: &SaveCtx, _: &mut String) {}
