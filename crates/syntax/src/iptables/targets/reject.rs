//! `-j REJECT`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::reject::Reject;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "REJECT",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Reject, _: &SaveCtx, _: &mut String) {}
