//! `-j SECMARK`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::secmark::Secmark;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "SECMARK",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Secmark, _: &SaveCtx, _: &mut String) {}
