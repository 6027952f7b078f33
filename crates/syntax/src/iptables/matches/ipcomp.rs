//! `-m ipcomp`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::ipcomp::Ipcomp;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "ipcomp",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Ipcomp, _: &SaveCtx, _: &mut String) {}
