//! `-m mh`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::mh::Mh;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "mh",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Mh, _: &SaveCtx, _: &mut String) {}
