//! `-m length`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::length::Length;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "length",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Length, _: &SaveCtx, _: &mut String) {}
