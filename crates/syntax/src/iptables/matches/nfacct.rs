//! `-m nfacct`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::nfacct::Nfacct;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "nfacct",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Nfacct, _: &SaveCtx, _: &mut String) {}
