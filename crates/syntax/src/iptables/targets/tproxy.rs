//! `-j TPROXY --on-port PORT [--on-ip ADDR] [--tproxy-mark VALUE[/MASK]]`
//! (mangle table, PREROUTING, with `-p tcp` or `-p udp`).
//!
//! iptables-save always prints all three options: the address as
//! `0.0.0.0` (or `::`) when not given, the mark as `0x0/0x0`.

use super::snat::parse_addr;
use crate::iptables::ext::*;
use rampart_model::targets::tproxy::Tproxy;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TPROXY",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["on-port"], Arity::One),
        OptSpec::new(&["on-ip"], Arity::One),
        OptSpec::new(&["tproxy-mark"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    cx.require_table(&[TableKind::Mangle])?;
    cx.require_hook(&[Hook::Prerouting])?;
    cx.require_proto(&[Protocol::TCP, Protocol::UDP])?;
    let mut t = Tproxy::default();
    let mut port = None;
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "on-port" => port = Some(parse_port(&o.arg())?),
            "on-ip" => {
                let a = o.arg();
                t.on_ip =
                    Some(parse_addr(&a.text, &a, cx.family)?).filter(|ip| !ip.is_unspecified());
            }
            "tproxy-mark" => (t.mark, t.mask) = parse_value_mask(&o.arg(), "mark")?,
            _ => {}
        }
    }
    t.on_port = port.ok_or_else(|| {
        cx.error("`TPROXY` needs `--on-port`")
            .with_help("add `--on-port PORT` (0 keeps the destination port)")
    })?;
    Ok(Target::Tproxy(t))
}

pub(crate) fn save(t: &Tproxy, cx: &SaveCtx, out: &mut String) {
    let any = match cx.family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    save_opt_val(out, false, "on-port", t.on_port);
    save_opt_val(out, false, "on-ip", t.on_ip.unwrap_or(any));
    save_opt_val(
        out,
        false,
        "tproxy-mark",
        format_args!("0x{:x}/0x{:x}", t.mark, t.mask),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checked against iptables 1.8.9 (nf_tables) in a network namespace:
    /// `Some(printed)` when it accepts the line, `None` when it refuses it.
    #[test]
    fn rules_as_iptables_handles_them() {
        let v4 = Family::Ipv4;
        let v6 = Family::Ipv6;
        let cases: &[(Family, &str, &str, Option<&str>)] = &[
            (v4, "mangle", "-A PREROUTING -p tcp -j TPROXY --on-port 80", Some("-p tcp -j TPROXY --on-port 80 --on-ip 0.0.0.0 --tproxy-mark 0x0/0x0")),
            (v4, "mangle", "-A PREROUTING -p tcp -j TPROXY --on-ip 1.2.3.4", None),
            (v4, "mangle", "-A PREROUTING -p tcp -j TPROXY --on-port 0 --tproxy-mark 5", Some("-p tcp -j TPROXY --on-port 0 --on-ip 0.0.0.0 --tproxy-mark 0x5/0xffffffff")),
            (v4, "mangle", "-A PREROUTING -p tcp -j TPROXY --on-port http --on-ip 0.0.0.0 --tproxy-mark 5/0x10", Some("-p tcp -j TPROXY --on-port 80 --on-ip 0.0.0.0 --tproxy-mark 0x5/0x10")),
            (v4, "mangle", "-A INPUT -p tcp -j TPROXY --on-port 80", None),
            (v4, "filter", "-A INPUT -p tcp -j TPROXY --on-port 80", None),
            (v4, "mangle", "-A PREROUTING ! -p tcp -j TPROXY --on-port 80", None),
            (v4, "mangle", "-A PREROUTING -p sctp -j TPROXY --on-port 80", None),
            (v4, "mangle", "-A PREROUTING -p tcp -j TPROXY --on-port 80 --on-ip 1.2.3.4/24", None),
            (v6, "mangle", "-A PREROUTING -p tcp -j TPROXY --on-port 1", Some("-p tcp -j TPROXY --on-port 1 --on-ip :: --tproxy-mark 0x0/0x0")),
        ];
        crate::iptables::testutil::check_cases(cases);
    }
}
