//! `-j IDLETIMER`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::idletimer::Idletimer;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "IDLETIMER",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Idletimer, _: &SaveCtx, _: &mut String) {}
