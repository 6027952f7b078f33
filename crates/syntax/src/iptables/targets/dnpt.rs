//! `-j DNPT --src-pfx NET --dst-pfx NET` (ip6tables, mangle table,
//! PREROUTING and OUTPUT), and the prefix parser SNPT shares.
//!
//! The kernel wants prefixes of at most 64 bits with no host bits set.

use crate::iptables::ext::*;
use rampart_model::targets::dnpt::Dnpt;
use rampart_model::IpNet;
use std::net::{IpAddr, Ipv6Addr};

pub(crate) static EXT: TargetExt = TargetExt {
    name: "DNPT",
    aliases: &[],
    family: Some(Family::Ipv6),
    options: &[
        OptSpec::new(&["src-pfx"], Arity::One),
        OptSpec::new(&["dst-pfx"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    cx.require_hook(&[Hook::Prerouting, Hook::Output])?;
    let (src_pfx, dst_pfx) = parse_npt(opts, cx)?;
    Ok(Target::Dnpt(Dnpt { src_pfx, dst_pfx }))
}

/// The two prefixes of DNPT or SNPT.
pub(crate) fn parse_npt(opts: &[OptOcc], cx: &RuleCtx) -> Result<(IpNet, IpNet), RuleError> {
    at_most_once(opts)?;
    cx.require_table(&[TableKind::Mangle])?;
    let mut src = None;
    let mut dst = None;
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "src-pfx" => src = Some(parse_prefix(&o.arg())?),
            "dst-pfx" => dst = Some(parse_prefix(&o.arg())?),
            _ => {}
        }
    }
    let need = |opt: &str| {
        cx.error(format!("`{}` needs `--{opt}`", cx.name))
            .with_help("give both `--src-pfx` and `--dst-pfx`")
    };
    Ok((
        src.ok_or_else(|| need("src-pfx"))?,
        dst.ok_or_else(|| need("dst-pfx"))?,
    ))
}

/// `ADDR/LEN` (or `ADDR/MASK`): an IPv6 prefix of at most 64 bits whose
/// host bits are zero.
fn parse_prefix(tok: &Token) -> Result<IpNet, RuleError> {
    let text = tok.text.as_str();
    let err = |m: String| RuleError::new(tok.span, m);
    let (a, m) = text.split_once('/').unwrap_or((text, "128"));
    let addr: Ipv6Addr = a
        .parse()
        .map_err(|_| err(format!("invalid IPv6 address `{a}`")))?;
    let net = if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) {
        m.parse::<u8>()
            .ok()
            .and_then(|len| IpNet::new(IpAddr::V6(addr), len))
    } else {
        m.parse::<Ipv6Addr>()
            .ok()
            .and_then(|mask| IpNet::with_mask(IpAddr::V6(addr), IpAddr::V6(mask)))
    }
    .ok_or_else(|| err(format!("invalid prefix length or mask `/{m}`")))?;
    let len = net
        .prefix_len()
        .ok_or_else(|| err(format!("mask `{m}` is not contiguous")))?;
    if len > 64 {
        return Err(
            err(format!("prefix `{text}` is longer than 64 bits")).with_help(
                "network prefix translation maps prefixes of /64 or shorter, e.g. `2001:db8::/48`",
            ),
        );
    }
    if net.addr() != IpAddr::V6(addr) {
        return Err(err(format!("prefix `{text}` has host bits set"))
            .with_help(format!("did you mean `{net}`?")));
    }
    Ok(net)
}

/// ` --src-pfx NET --dst-pfx NET`.
pub(crate) fn save_npt(out: &mut String, src: &IpNet, dst: &IpNet) {
    save_opt_val(out, false, "src-pfx", src);
    save_opt_val(out, false, "dst-pfx", dst);
}

pub(crate) fn save(d: &Dnpt, _: &SaveCtx, out: &mut String) {
    save_npt(out, &d.src_pfx, &d.dst_pfx);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    fn pfx(s: &str) -> Result<String, String> {
        parse_prefix(&Token::new(s, Span::new(0, s.len())))
            .map(|n| n.to_string())
            .map_err(|e| e.message)
    }

    #[test]
    fn prefixes() {
        assert_eq!(pfx("dead::/64").as_deref(), Ok("dead::/64"));
        assert_eq!(pfx("dead::/ffff::").as_deref(), Ok("dead::/16"));
        assert_eq!(pfx("::/0").as_deref(), Ok("::/0"));
        for bad in [
            "dead::beef",
            "dead::1/64",
            "dead::/0",
            "dead::/65",
            "dead::/129",
            "1.2.3.4/8",
            "dead::/ff00:ff::",
            "x",
        ] {
            assert!(pfx(bad).is_err(), "{bad}");
        }
    }

    /// Checked against iptables 1.8.9 (nf_tables) in a network namespace:
    /// `Some(printed)` when it accepts the line, `None` when it refuses it.
    #[test]
    fn rules_as_iptables_handles_them() {
        let v4 = Family::Ipv4;
        let v6 = Family::Ipv6;
        let cases: &[(Family, &str, &str, Option<&str>)] = &[
            (
                v6,
                "mangle",
                "-A PREROUTING -j DNPT --src-pfx dead::/64 --dst-pfx 1c3::/48",
                Some("-j DNPT --src-pfx dead::/64 --dst-pfx 1c3::/48"),
            ),
            (
                v6,
                "mangle",
                "-A POSTROUTING -j DNPT --src-pfx dead::/64 --dst-pfx 1c3::/64",
                None,
            ),
            (
                v6,
                "nat",
                "-A PREROUTING -j DNPT --src-pfx dead::/64 --dst-pfx 1c3::/64",
                None,
            ),
            (
                v6,
                "mangle",
                "-A PREROUTING -j SNPT --src-pfx dead::/64 --dst-pfx 1c3::/64",
                None,
            ),
            (
                v6,
                "mangle",
                "-A INPUT -j SNPT --src-pfx dead::/64 --dst-pfx 1c3::/64",
                Some("-j SNPT --src-pfx dead::/64 --dst-pfx 1c3::/64"),
            ),
            (
                v6,
                "mangle",
                "-A OUTPUT -j SNPT --src-pfx dead::/64 --dst-pfx 1c3::/64",
                None,
            ),
            (
                v4,
                "mangle",
                "-A PREROUTING -j DNPT --src-pfx dead::/64 --dst-pfx 1c3::/64",
                None,
            ),
        ];
        crate::iptables::testutil::check_cases(cases);
    }
}
