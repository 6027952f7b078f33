//! `-m statistic`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::statistic::Statistic;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "statistic",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Statistic, _: &SaveCtx, _: &mut String) {}
