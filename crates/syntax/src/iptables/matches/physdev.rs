//! `-m physdev`: `[!] --physdev-in NAME`, `[!] --physdev-out NAME`,
//! `[!] --physdev-is-in`, `[!] --physdev-is-out`, `[!] --physdev-is-bridged`.

use crate::iptables::ext::*;
use rampart_model::matches::physdev::Physdev;
use rampart_model::Iface;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "physdev",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["physdev-in"], Arity::One),
        OptSpec::new(&["physdev-out"], Arity::One),
        OptSpec::new(&["physdev-is-in"], Arity::None),
        OptSpec::new(&["physdev-is-out"], Arity::None),
        OptSpec::new(&["physdev-is-bridged"], Arity::None),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Physdev::default();
    let mut out_opt = None;
    for o in opts {
        match o.name {
            "physdev-in" => m.physdev_in = Some(Neg::inverted(parse_iface(&o.arg())?, o.invert)),
            "physdev-out" => {
                m.physdev_out = Some(Neg::inverted(parse_iface(&o.arg())?, o.invert));
                out_opt = Some(o);
            }
            "physdev-is-in" => m.is_in = Some(!o.invert),
            "physdev-is-out" => {
                m.is_out = Some(!o.invert);
                out_opt = out_opt.or(Some(o));
            }
            "physdev-is-bridged" => m.is_bridged = Some(!o.invert),
            _ => {}
        }
    }
    if opts.is_empty() {
        return Err(cx
            .error("`-m physdev` needs at least one option")
            .with_help("for example `-m physdev --physdev-in eth0`"));
    }
    // Locally generated packets are not bridged yet: the kernel refuses the
    // output port in OUTPUT unless the rule also says `--physdev-is-bridged`.
    if let (Some(o), Some(Hook::Output)) = (out_opt, cx.hook) {
        if m.is_bridged != Some(true) {
            return Err(RuleError::new(
                o.span,
                format!(
                    "`--{}` cannot be used in OUTPUT for traffic that is not bridged",
                    o.name
                ),
            )
            .with_help("add `--physdev-is-bridged`, or match in FORWARD or POSTROUTING"));
        }
    }
    Ok(Match::Physdev(m))
}

/// A bridge port name: at most 15 bytes, `+` as a trailing wildcard.
fn parse_iface(tok: &Token) -> Result<Iface, RuleError> {
    let name = tok.text.as_str();
    if name.is_empty() {
        return Err(RuleError::new(tok.span, "empty interface name"));
    }
    if name.len() > Iface::MAX_LEN {
        return Err(RuleError::new(
            tok.span,
            format!(
                "interface name `{name}` is longer than {} bytes",
                Iface::MAX_LEN
            ),
        ));
    }
    if name.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(RuleError::new(
            tok.span,
            format!("invalid interface name `{name}`"),
        ));
    }
    Ok(Iface(name.to_string()))
}

/// iptables-save order: is-in, in, is-out, out, is-bridged.
pub(crate) fn save(m: &Physdev, _: &SaveCtx, out: &mut String) {
    if let Some(b) = m.is_in {
        save_opt(out, !b, "physdev-is-in");
    }
    if let Some(i) = &m.physdev_in {
        save_opt_val(out, i.invert, "physdev-in", &i.value.0);
    }
    if let Some(b) = m.is_out {
        save_opt(out, !b, "physdev-is-out");
    }
    if let Some(i) = &m.physdev_out {
        save_opt_val(out, i.invert, "physdev-out", &i.value.0);
    }
    if let Some(b) = m.is_bridged {
        save_opt(out, !b, "physdev-is-bridged");
    }
}

#[cfg(test)]
mod tests {
    use super::super::policy::tests::roundtrip;
    use super::*;

    #[test]
    fn output_port_needs_bridged_in_output() {
        let v4 = |l: &str| roundtrip(Family::Ipv4, l);
        assert!(v4("-A OUTPUT -m physdev --physdev-out lo").is_err());
        assert!(v4("-A OUTPUT -m physdev --physdev-is-out").is_err());
        assert!(v4("-A OUTPUT -m physdev ! --physdev-is-bridged --physdev-out lo").is_err());
        assert_eq!(
            v4("-A OUTPUT -m physdev --physdev-is-bridged --physdev-out lo").as_deref(),
            Ok(" --physdev-out lo --physdev-is-bridged")
        );
        assert_eq!(
            v4("-A FORWARD -m physdev --physdev-is-bridged --physdev-out eth+ --physdev-is-out ! --physdev-is-in ! --physdev-in br0").as_deref(),
            Ok(" ! --physdev-is-in ! --physdev-in br0 --physdev-is-out --physdev-out eth+ --physdev-is-bridged")
        );
        assert!(v4("-A INPUT -m physdev --physdev-in 0123456789abcdef").is_err());
        assert!(v4("-A INPUT -m physdev").is_err());
    }
}
