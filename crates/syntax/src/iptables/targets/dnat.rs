//! `-j DNAT`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::dnat::Dnat;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "DNAT",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Dnat, _: &SaveCtx, _: &mut String) {}
