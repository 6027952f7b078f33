//! `-j DNPT`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::dnpt::Dnpt;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "DNPT",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Dnpt, _: &SaveCtx, _: &mut String) {}
