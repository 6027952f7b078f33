//! `-j TRACE` (raw table): no options.

use crate::iptables::ext::*;
use rampart_model::targets::trace::Trace;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TRACE",
    aliases: &[],
    family: None,
    options: &[],
    build: |_, cx| {
        cx.require_table(&[TableKind::Raw])?;
        Ok(Target::Trace(Trace {}))
    },
};

pub(crate) fn save(_: &Trace, _: &SaveCtx, _: &mut String) {}
