//! `-m realm`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::realm::Realm;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "realm",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Realm, _: &SaveCtx, _: &mut String) {}
