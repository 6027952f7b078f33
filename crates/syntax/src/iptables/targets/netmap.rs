//! `-j NETMAP`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::netmap::Netmap;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "NETMAP",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Netmap, _: &SaveCtx, _: &mut String) {}
