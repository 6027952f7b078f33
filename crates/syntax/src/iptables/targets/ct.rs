//! `-j CT`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::ct::Ct;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "CT",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Ct, _: &SaveCtx, _: &mut String) {}
