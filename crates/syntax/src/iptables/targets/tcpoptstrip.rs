//! `-j TCPOPTSTRIP`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::tcpoptstrip::Tcpoptstrip;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TCPOPTSTRIP",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Tcpoptstrip, _: &SaveCtx, _: &mut String) {}
