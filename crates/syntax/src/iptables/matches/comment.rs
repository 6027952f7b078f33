//! `-m comment`. PLACEHOLDER (M2): parse and print this extension.

use crate::iptables::ext::*;
use rampart_model::matches::comment::Comment;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "comment",
    aliases: &[],
    family: None,
    supported: false,
    options: &[],
    build: |_, cx| Err(cx.unsupported()),
};

pub(crate) fn save(_: &Comment, _: &SaveCtx, _: &mut String) {}
