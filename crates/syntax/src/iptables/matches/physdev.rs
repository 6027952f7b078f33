//! `-m physdev`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::physdev::Physdev;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "physdev",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Physdev, _: &SaveCtx, _: &mut String) {}
