//! `-j TCPMSS`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::tcpmss::Tcpmss;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TCPMSS",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Tcpmss, _: &SaveCtx, _: &mut String) {}
