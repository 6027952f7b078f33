//! `-j SYNPROXY`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::synproxy::Synproxy;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "SYNPROXY",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Synproxy, _: &SaveCtx, _: &mut String) {}
