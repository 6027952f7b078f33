//! `-j TOS`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::tos::Tos;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TOS",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Tos, _: &SaveCtx, _: &mut String) {}
