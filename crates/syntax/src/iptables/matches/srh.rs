//! `-m srh`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::srh::Srh;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "srh",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Srh, _: &SaveCtx, _: &mut String) {}
