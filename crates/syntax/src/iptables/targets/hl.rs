//! `-j HL`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::hl::Hl;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "HL",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Hl, _: &SaveCtx, _: &mut String) {}
