//! `-m rt`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::rt::Rt;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "rt",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Rt, _: &SaveCtx, _: &mut String) {}
