//! `-j SNPT`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::snpt::Snpt;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "SNPT",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Snpt, _: &SaveCtx, _: &mut String) {}
