//! `-j CONNSECMARK`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::connsecmark::Connsecmark;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "CONNSECMARK",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Connsecmark, _: &SaveCtx, _: &mut String) {}
