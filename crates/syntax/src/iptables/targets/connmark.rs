//! `-j CONNMARK`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::connmark::Connmark;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "CONNMARK",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Connmark, _: &SaveCtx, _: &mut String) {}
