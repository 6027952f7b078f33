//! `-j CLASSIFY`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::classify::Classify;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "CLASSIFY",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Classify, _: &SaveCtx, _: &mut String) {}
