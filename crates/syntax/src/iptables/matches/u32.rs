//! `-m u32`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::u32::U32;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "u32",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &U32, _: &SaveCtx, _: &mut String) {}
