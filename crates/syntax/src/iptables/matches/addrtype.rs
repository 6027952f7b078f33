//! `-m addrtype`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::addrtype::Addrtype;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "addrtype",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Addrtype, _: &SaveCtx, _: &mut String) {}
