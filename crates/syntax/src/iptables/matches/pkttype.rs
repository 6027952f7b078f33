//! `-m pkttype`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::pkttype::Pkttype;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "pkttype",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Pkttype, _: &SaveCtx, _: &mut String) {}
