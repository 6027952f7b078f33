//! `-m ttl`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::ttl::Ttl;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "ttl",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Ttl, _: &SaveCtx, _: &mut String) {}
