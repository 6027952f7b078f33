//! `-j REDIRECT [--to-ports P[-P]] [--random]` (nat table, PREROUTING
//! and OUTPUT). Ports need `-p tcp`, `udp`, `sctp` or `dccp`.

use super::snat::{parse_nat_ports, save_flags, save_to_ports};
use crate::iptables::ext::*;
use rampart_model::targets::redirect::Redirect;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "REDIRECT",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["to-ports"], Arity::One),
        OptSpec::new(&["random"], Arity::None),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    cx.require_table(&[TableKind::Nat])?;
    cx.require_hook(&[Hook::Prerouting, Hook::Output])?;
    let mut r = Redirect::default();
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "to-ports" => {
                let a = o.arg();
                r.to_ports = Some(parse_nat_ports(&a.text, &a, cx, false)?.0);
            }
            "random" => r.random = true,
            _ => {}
        }
    }
    Ok(Target::Redirect(r))
}

pub(crate) fn save(r: &Redirect, _: &SaveCtx, out: &mut String) {
    save_to_ports(out, r.to_ports);
    save_flags(out, r.random, false, false);
}
