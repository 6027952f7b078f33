//! `-m connmark`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::connmark::Connmark;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "connmark",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Connmark, _: &SaveCtx, _: &mut String) {}
