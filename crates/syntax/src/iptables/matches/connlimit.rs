//! `-m connlimit`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::connlimit::Connlimit;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "connlimit",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Connlimit, _: &SaveCtx, _: &mut String) {}
