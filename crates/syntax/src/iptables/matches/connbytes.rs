//! `-m connbytes`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::connbytes::Connbytes;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "connbytes",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Connbytes, _: &SaveCtx, _: &mut String) {}
