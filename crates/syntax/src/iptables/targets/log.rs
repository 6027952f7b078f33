//! `-j LOG`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::log::Log;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "LOG",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Log, _: &SaveCtx, _: &mut String) {}
