//! `-m rpfilter`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::rpfilter::Rpfilter;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "rpfilter",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Rpfilter, _: &SaveCtx, _: &mut String) {}
