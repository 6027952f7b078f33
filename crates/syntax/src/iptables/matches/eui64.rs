//! `-m eui64`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::eui64::Eui64;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "eui64",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Eui64, _: &SaveCtx, _: &mut String) {}
