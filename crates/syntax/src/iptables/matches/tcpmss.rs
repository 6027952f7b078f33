//! `-m tcpmss`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::tcpmss::Tcpmss;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "tcpmss",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Tcpmss, _: &SaveCtx, _: &mut String) {}
