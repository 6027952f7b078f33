//! `-m dscp`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::dscp::Dscp;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "dscp",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Dscp, _: &SaveCtx, _: &mut String) {}
