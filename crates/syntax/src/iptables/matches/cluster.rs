//! `-m cluster`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::cluster::Cluster;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "cluster",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Cluster, _: &SaveCtx, _: &mut String) {}
