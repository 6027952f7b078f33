//! `-m devgroup`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::devgroup::Devgroup;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "devgroup",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Devgroup, _: &SaveCtx, _: &mut String) {}
