//! `-m owner`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::owner::Owner;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "owner",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Owner, _: &SaveCtx, _: &mut String) {}
