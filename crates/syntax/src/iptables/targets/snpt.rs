//! `-j SNPT --src-pfx NET --dst-pfx NET` (ip6tables, mangle table, INPUT
//! and POSTROUTING). Parsing is shared with [`super::dnpt`].

use super::dnpt::{parse_npt, save_npt};
use crate::iptables::ext::*;
use rampart_model::targets::snpt::Snpt;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "SNPT",
    aliases: &[],
    family: Some(Family::Ipv6),
    options: &[
        OptSpec::new(&["src-pfx"], Arity::One),
        OptSpec::new(&["dst-pfx"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    cx.require_hook(&[Hook::Input, Hook::Postrouting])?;
    let (src_pfx, dst_pfx) = parse_npt(opts, cx)?;
    Ok(Target::Snpt(Snpt { src_pfx, dst_pfx }))
}

pub(crate) fn save(s: &Snpt, _: &SaveCtx, out: &mut String) {
    save_npt(out, &s.src_pfx, &s.dst_pfx);
}
