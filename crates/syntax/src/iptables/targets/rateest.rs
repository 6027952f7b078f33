//! `-j RATEEST`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::rateest::Rateest;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "RATEEST",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Rateest, _: &SaveCtx, _: &mut String) {}
