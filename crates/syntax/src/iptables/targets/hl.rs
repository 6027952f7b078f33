//! `-j HL` (IPv6, mangle table): `--hl-set N`, `--hl-inc N`, `--hl-dec N`.

use super::ttl::{parse_op, Op};
use crate::iptables::ext::*;
use rampart_model::targets::hl::Hl;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "HL",
    aliases: &[],
    family: Some(Family::Ipv6),
    options: &[
        OptSpec::new(&["hl-set"], Arity::One),
        OptSpec::new(&["hl-dec"], Arity::One),
        OptSpec::new(&["hl-inc"], Arity::One),
    ],
    build: |opts, cx| {
        Ok(Target::Hl(match parse_op(opts, cx, "HL")? {
            Op::Set(n) => Hl::Set(n),
            Op::Inc(n) => Hl::Inc(n),
            Op::Dec(n) => Hl::Dec(n),
        }))
    },
};

pub(crate) fn save(t: &Hl, _: &SaveCtx, out: &mut String) {
    match *t {
        Hl::Set(n) => save_opt_val(out, false, "hl-set", n),
        Hl::Dec(n) => save_opt_val(out, false, "hl-dec", n),
        Hl::Inc(n) => save_opt_val(out, false, "hl-inc", n),
    }
}
