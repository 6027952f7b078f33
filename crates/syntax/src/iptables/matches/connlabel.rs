//! `-m connlabel`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::connlabel::Connlabel;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "connlabel",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Connlabel, _: &SaveCtx, _: &mut String) {}
