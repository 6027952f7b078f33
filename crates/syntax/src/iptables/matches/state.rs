//! `-m state`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::state::State;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "state",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &State, _: &SaveCtx, _: &mut String) {}
