//! `-m ipv6header`. PLACEHOLDER (M1): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::ipv6header::Ipv6Header;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "ipv6header",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Ipv6Header, _: &SaveCtx, _: &mut String) {}
