//! `-j TEE`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::tee::Tee;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TEE",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Tee, _: &SaveCtx, _: &mut String) {}
