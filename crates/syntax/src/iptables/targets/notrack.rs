//! `-j NOTRACK`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::notrack::Notrack;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "NOTRACK",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Notrack, _: &SaveCtx, _: &mut String) {}
