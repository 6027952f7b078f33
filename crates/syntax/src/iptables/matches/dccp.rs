//! `-m dccp`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::dccp::Dccp;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "dccp",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Dccp, _: &SaveCtx, _: &mut String) {}
