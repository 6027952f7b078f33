//! `-j NFQUEUE`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::nfqueue::Nfqueue;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "NFQUEUE",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Nfqueue, _: &SaveCtx, _: &mut String) {}
