//! `-j TTL`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::ttl::Ttl;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TTL",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Ttl, _: &SaveCtx, _: &mut String) {}
