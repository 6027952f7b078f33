//! `-m sctp`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::sctp::Sctp;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "sctp",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Sctp, _: &SaveCtx, _: &mut String) {}
