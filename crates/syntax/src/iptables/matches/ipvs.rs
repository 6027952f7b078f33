//! `-m ipvs`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::ipvs::Ipvs;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "ipvs",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Ipvs, _: &SaveCtx, _: &mut String) {}
