//! `-m dst`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::dst::Dst;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "dst",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Dst, _: &SaveCtx, _: &mut String) {}
