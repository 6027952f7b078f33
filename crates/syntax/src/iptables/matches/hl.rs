//! `-m hl`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::hl::Hl;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "hl",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Hl, _: &SaveCtx, _: &mut String) {}
