//! `-j ECN`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::ecn::Ecn;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "ECN",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Ecn, _: &SaveCtx, _: &mut String) {}
