//! `-m icmp6`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::icmp6::Icmp6;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "icmp6",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Icmp6, _: &SaveCtx, _: &mut String) {}
