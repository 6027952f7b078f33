//! `-m esp`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::esp::Esp;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "esp",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Esp, _: &SaveCtx, _: &mut String) {}
