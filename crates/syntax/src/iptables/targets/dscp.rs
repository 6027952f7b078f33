//! `-j DSCP`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::dscp::Dscp;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "DSCP",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Dscp, _: &SaveCtx, _: &mut String) {}
