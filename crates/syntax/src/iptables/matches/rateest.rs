//! `-m rateest`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::rateest::Rateest;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "rateest",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Rateest, _: &SaveCtx, _: &mut String) {}
