//! `-m recent`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::recent::Recent;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "recent",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Recent, _: &SaveCtx, _: &mut String) {}
