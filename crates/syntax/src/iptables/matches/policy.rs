//! `-m policy`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::policy::IpsecPolicy;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "policy",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &IpsecPolicy, _: &SaveCtx, _: &mut String) {}
