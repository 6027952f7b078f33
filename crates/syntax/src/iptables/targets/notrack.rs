//! `-j NOTRACK` (raw table): no options. iptables keeps the name when it
//! prints the rule, although the kernel runs it as `CT --notrack`.

use crate::iptables::ext::*;
use rampart_model::targets::notrack::Notrack;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "NOTRACK",
    aliases: &[],
    family: None,
    options: &[],
    build: |_, cx| {
        cx.require_table(&[TableKind::Raw])?;
        Ok(Target::Notrack(Notrack {}))
    },
};

pub(crate) fn save(_: &Notrack, _: &SaveCtx, _: &mut String) {}
