//! `-j MARK`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::mark::Mark;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "MARK",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Mark, _: &SaveCtx, _: &mut String) {}
