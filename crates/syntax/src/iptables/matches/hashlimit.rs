//! `-m hashlimit`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::hashlimit::Hashlimit;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "hashlimit",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Hashlimit, _: &SaveCtx, _: &mut String) {}
