//! `-m mark`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::mark::Mark;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "mark",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Mark, _: &SaveCtx, _: &mut String) {}
