//! `-j HMARK`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::hmark::Hmark;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "HMARK",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Hmark, _: &SaveCtx, _: &mut String) {}
