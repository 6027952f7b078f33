//! `-j SNAT`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::snat::Snat;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "SNAT",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Snat, _: &SaveCtx, _: &mut String) {}
