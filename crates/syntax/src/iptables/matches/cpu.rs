//! `-m cpu`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::cpu::Cpu;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "cpu",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Cpu, _: &SaveCtx, _: &mut String) {}
