//! `-m mac`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::mac::Mac;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "mac",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Mac, _: &SaveCtx, _: &mut String) {}
