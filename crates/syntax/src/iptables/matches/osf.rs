//! `-m osf`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::osf::Osf;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "osf",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Osf, _: &SaveCtx, _: &mut String) {}
