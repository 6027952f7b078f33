//! `-j SET`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::set::SetTarget;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "SET",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &SetTarget, _: &SaveCtx, _: &mut String) {}
