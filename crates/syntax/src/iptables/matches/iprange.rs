//! `-m iprange`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::iprange::Iprange;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "iprange",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Iprange, _: &SaveCtx, _: &mut String) {}
