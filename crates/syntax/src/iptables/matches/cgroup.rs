//! `-m cgroup`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::cgroup::Cgroup;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "cgroup",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Cgroup, _: &SaveCtx, _: &mut String) {}
