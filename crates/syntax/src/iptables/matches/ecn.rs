//! `-m ecn`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::ecn::Ecn;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "ecn",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Ecn, _: &SaveCtx, _: &mut String) {}
