//! `-j REDIRECT`. PLACEHOLDER (T1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::targets::redirect::Redirect;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "REDIRECT",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Redirect, _: &SaveCtx, _: &mut String) {}
