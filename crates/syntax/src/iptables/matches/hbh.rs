//! `-m hbh`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::hbh::Hbh;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "hbh",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Hbh, _: &SaveCtx, _: &mut String) {}
