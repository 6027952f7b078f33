//! `-m multiport`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::multiport::Multiport;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "multiport",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Multiport, _: &SaveCtx, _: &mut String) {}
