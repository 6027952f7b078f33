//! `-j TPROXY`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::tproxy::Tproxy;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TPROXY",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Tproxy, _: &SaveCtx, _: &mut String) {}
