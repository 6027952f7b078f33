//! `-m tos`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::tos::Tos;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "tos",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Tos, _: &SaveCtx, _: &mut String) {}
