//! `-m frag`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::frag::Frag;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "frag",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Frag, _: &SaveCtx, _: &mut String) {}
