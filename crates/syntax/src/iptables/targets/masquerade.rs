//! `-j MASQUERADE [--to-ports P[-P]] [--random] [--random-fully]` (nat
//! table, POSTROUTING). Ports need `-p tcp`, `udp`, `sctp` or `dccp`.

use super::snat::{parse_nat_ports, save_flags, save_to_ports};
use crate::iptables::ext::*;
use rampart_model::targets::masquerade::Masquerade;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "MASQUERADE",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["to-ports"], Arity::One),
        OptSpec::new(&["random"], Arity::None),
        OptSpec::new(&["random-fully"], Arity::None),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    cx.require_table(&[TableKind::Nat])?;
    cx.require_hook(&[Hook::Postrouting])?;
    let mut m = Masquerade::default();
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "to-ports" => {
                let a = o.arg();
                m.to_ports = Some(parse_nat_ports(&a.text, &a, cx, false)?.0);
            }
            "random" => m.random = true,
            "random-fully" => m.random_fully = true,
            _ => {}
        }
    }
    Ok(Target::Masquerade(m))
}

pub(crate) fn save(m: &Masquerade, _: &SaveCtx, out: &mut String) {
    save_to_ports(out, m.to_ports);
    save_flags(out, m.random, m.random_fully, false);
}
