//! `-j TEE --gateway ADDR [--oif IFACE]`: clone packets to a next hop.
//! An interface name longer than 15 bytes is cut, as iptables does.

use super::snat::parse_addr;
use crate::iptables::ext::*;
use rampart_model::targets::tee::Tee;
use rampart_model::Iface;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TEE",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["gateway"], Arity::One),
        OptSpec::new(&["oif"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    let mut gateway = None;
    let mut oif = None;
    for o in opts {
        o.check_invert(false)?;
        let a = o.arg();
        match o.name {
            "gateway" => {
                let ip = parse_addr(&a.text, &a, cx.family)?;
                if ip.is_unspecified() {
                    return Err(RuleError::new(
                        a.span,
                        format!("`{}` cannot be a TEE gateway", a.text),
                    )
                    .with_help("give the address of the next hop"));
                }
                gateway = Some(ip);
            }
            "oif" => {
                let mut end = a.text.len().min(Iface::MAX_LEN);
                while !a.text.is_char_boundary(end) {
                    end -= 1;
                }
                oif = Some(Iface(a.text[..end].to_string())).filter(|i| !i.0.is_empty());
            }
            _ => {}
        }
    }
    let gateway = gateway.ok_or_else(|| {
        cx.error("`TEE` needs `--gateway`")
            .with_help("add `--gateway ADDRESS` of the next hop")
    })?;
    Ok(Target::Tee(Tee { gateway, oif }))
}

pub(crate) fn save(t: &Tee, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, false, "gateway", t.gateway);
    if let Some(i) = &t.oif {
        save_opt_val(out, false, "oif", &i.0);
    }
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
            (
                v4,
                "mangle",
                "-A PREROUTING -j TEE --gateway 1.2.3.4 --oif eth0",
                Some("-j TEE --gateway 1.2.3.4 --oif eth0"),
            ),
            (v4, "mangle", "-A PREROUTING -j TEE --oif eth0", None),
            (
                v4,
                "mangle",
                "-A PREROUTING -j TEE --gateway 1.2.3.4/32",
                None,
            ),
            (
                v4,
                "mangle",
                "-A PREROUTING -j TEE --gateway 1.2.3.4 --oif 1234567890123456",
                Some("-j TEE --gateway 1.2.3.4 --oif 123456789012345"),
            ),
            (
                v4,
                "filter",
                "-A INPUT -j TEE --gateway 1.2.3.4 --oif \"\"",
                Some("-j TEE --gateway 1.2.3.4"),
            ),
            (v4, "filter", "-A INPUT -j TEE --gateway 0.0.0.0", None),
            (v6, "filter", "-A INPUT -j TEE --gateway 1.2.3.4", None),
        ];
        crate::iptables::testutil::check_cases(cases);
    }
}
