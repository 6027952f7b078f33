//! `-m conntrack`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::conntrack::Conntrack;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "conntrack",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Conntrack, _: &SaveCtx, _: &mut String) {}
