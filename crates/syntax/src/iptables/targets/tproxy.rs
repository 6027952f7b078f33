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
    supported: true,
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
