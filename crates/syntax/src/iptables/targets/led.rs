//! `-j LED`. PLACEHOLDER (T2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::led::Led;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "LED",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Led, _: &SaveCtx, _: &mut String) {}
