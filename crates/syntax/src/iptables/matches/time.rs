//! `-m time`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::time::Time;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "time",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Time, _: &SaveCtx, _: &mut String) {}
