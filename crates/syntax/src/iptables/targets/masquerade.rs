//! `-j MASQUERADE`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::masquerade::Masquerade;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "MASQUERADE",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Masquerade, _: &SaveCtx, _: &mut String) {}
