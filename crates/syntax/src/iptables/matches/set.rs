//! `-m set`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::set::SetMatch;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "set",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &SetMatch, _: &SaveCtx, _: &mut String) {}
