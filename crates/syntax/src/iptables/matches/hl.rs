//! `-m hl` (IPv6): `[!] --hl-eq N`, `--hl-lt N`, `--hl-gt N`.

use super::ttl::{parse_cmp, save_cmp};
use crate::iptables::ext::*;
use rampart_model::matches::hl::Hl;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "hl",
    aliases: &[],
    family: Some(Family::Ipv6),
    options: &[
        OptSpec::new(&["hl-eq"], Arity::One),
        OptSpec::new(&["hl-lt"], Arity::One),
        OptSpec::new(&["hl-gt"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    let (op, value) = parse_cmp(opts, cx, "hl")?;
    Ok(Match::Hl(Hl { op, value }))
}

pub(crate) fn save(m: &Hl, _: &SaveCtx, out: &mut String) {
    save_cmp(out, "hl", m.op, m.value);
}
