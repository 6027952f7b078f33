//! `-j DNAT --to-destination [ADDR[-ADDR]][:PORT[-PORT[/BASE]]]
//! [--random] [--persistent]` (nat table, PREROUTING and OUTPUT). The
//! range syntax is shared with SNAT, see [`super::snat`].

use super::snat::{missing, parse_nat_range, save_flags, save_nat_range};
use crate::iptables::ext::*;
use rampart_model::targets::dnat::Dnat;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "DNAT",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["to-destination"], Arity::One),
        OptSpec::new(&["random"], Arity::None),
        OptSpec::new(&["persistent"], Arity::None),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    cx.require_table(&[TableKind::Nat])?;
    cx.require_hook(&[Hook::Prerouting, Hook::Output])?;
    let mut d = Dnat::default();
    let mut to = None;
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "to-destination" => to = Some(parse_nat_range(&o.arg(), cx, true)?),
            "random" => d.random = true,
            "persistent" => d.persistent = true,
            _ => {}
        }
    }
    d.to = to.ok_or_else(|| missing(cx, "to-destination"))?;
    Ok(Target::Dnat(d))
}

pub(crate) fn save(d: &Dnat, cx: &SaveCtx, out: &mut String) {
    save_nat_range(out, "to-destination", &d.to, cx.family);
    save_flags(out, d.random, false, d.persistent);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::targets::dnat::{AddrRange, NatRange};

    #[test]
    fn v6_ports_print_in_brackets_with_offset() {
        let d = Dnat {
            to: NatRange {
                addrs: Some(AddrRange {
                    first: "dead::beef"
                        .parse()
                        .unwrap_or(std::net::IpAddr::from([0u8; 16])),
                    last: "dead::fee7"
                        .parse()
                        .unwrap_or(std::net::IpAddr::from([0u8; 16])),
                }),
                ports: PortRange::new(1000, 2000),
                base_port: Some(21),
            },
            random: true,
            persistent: true,
        };
        let mut out = String::new();
        save(
            &d,
            &SaveCtx {
                family: Family::Ipv6,
            },
            &mut out,
        );
        assert_eq!(
            out,
            " --to-destination [dead::beef-dead::fee7]:1000-2000/21 --random --persistent"
        );
    }
}
