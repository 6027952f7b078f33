//! `-j NFLOG`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::nflog::Nflog;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "NFLOG",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Nflog, _: &SaveCtx, _: &mut String) {}
