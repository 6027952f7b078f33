//! `-m limit`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::limit::Limit;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "limit",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Limit, _: &SaveCtx, _: &mut String) {}
