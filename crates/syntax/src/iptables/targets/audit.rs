//! `-j AUDIT`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::audit::Audit;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "AUDIT",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Audit, _: &SaveCtx, _: &mut String) {}
