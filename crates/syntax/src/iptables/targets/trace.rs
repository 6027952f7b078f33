//! `-j TRACE`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::trace::Trace;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TRACE",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Trace, _: &SaveCtx, _: &mut String) {}
