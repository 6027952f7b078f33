//! `-m quota`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::quota::Quota;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "quota",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Quota, _: &SaveCtx, _: &mut String) {}
