//! `-m ah`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::ah::Ah;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "ah",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Ah, _: &SaveCtx, _: &mut String) {}
