//! `-m string`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::string::StringMatch;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "string",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &StringMatch, _: &SaveCtx, _: &mut String) {}
