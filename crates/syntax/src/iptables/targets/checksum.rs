//! `-j CHECKSUM`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::checksum::Checksum;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "CHECKSUM",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Checksum, _: &SaveCtx, _: &mut String) {}
