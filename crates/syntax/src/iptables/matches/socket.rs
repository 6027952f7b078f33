//! `-m socket`. PLACEHOLDER (M3): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::socket::Socket;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "socket",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Socket, _: &SaveCtx, _: &mut String) {}
