//! `-m bpf`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::bpf::Bpf;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "bpf",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Bpf, _: &SaveCtx, _: &mut String) {}
