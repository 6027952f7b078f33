//! `-m helper`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::helper::Helper;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "helper",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Helper, _: &SaveCtx, _: &mut String) {}
