//! `-m udp`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::udp::Udp;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "udp",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Udp, _: &SaveCtx, _: &mut String) {}
