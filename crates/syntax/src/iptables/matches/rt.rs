//! `-m rt` (IPv6): `--rt-type`, `--rt-segsleft`, `--rt-len`, `--rt-0-res`,
//! `--rt-0-addrs`, `--rt-0-not-strict`.

use super::esp::{parse_u32_range, save_range_unless_all};
use crate::iptables::ext::*;
use rampart_model::matches::rt::Rt;
use std::net::Ipv6Addr;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "rt",
    aliases: &[],
    family: Some(Family::Ipv6),
    options: &[
        OptSpec::new(&["rt-type"], Arity::One),
        OptSpec::new(&["rt-segsleft"], Arity::One),
        OptSpec::new(&["rt-len"], Arity::One),
        OptSpec::new(&["rt-0-res"], Arity::None),
        OptSpec::new(&["rt-0-addrs"], Arity::One),
        OptSpec::new(&["rt-0-not-strict"], Arity::None),
    ],
    build,
};

/// Kernel limit on `--rt-0-addrs` (`IP6T_RT_HOPS`).
const MAX_ADDRS: usize = 16;

fn build(opts: &[OptOcc], _: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Rt::default();
    for o in opts {
        let arg = o.arg();
        match o.name {
            "rt-type" => {
                // iptables stores a 32-bit value but the header field has 8
                // bits: a larger type could never match.
                let t = parse_uint(&arg, "routing type", 0, 255)? as u8;
                m.rt_type = Some(Neg::inverted(t, o.invert));
            }
            "rt-segsleft" => {
                m.segsleft = Some(Neg::inverted(
                    parse_u32_range(&arg, "segments left")?,
                    o.invert,
                ));
            }
            "rt-len" => m.len = Some(Neg::inverted(parse_u32(&arg, "length")?, o.invert)),
            "rt-0-res" | "rt-0-addrs" => {
                o.check_invert(false)?;
                // As iptables reads options in order: `--rt-type 0` first.
                if m.rt_type != Some(Neg::new(0)) {
                    return Err(RuleError::new(
                        o.span,
                        format!("`--{}` needs `--rt-type 0` before it", o.name),
                    ));
                }
                if o.name == "rt-0-res" {
                    m.res = true;
                } else {
                    m.addrs = parse_addrs(&arg)?;
                }
            }
            "rt-0-not-strict" => {
                o.check_invert(false)?;
                if m.addrs.is_empty() {
                    return Err(RuleError::new(
                        o.span,
                        "`--rt-0-not-strict` needs `--rt-0-addrs` before it",
                    ));
                }
                m.not_strict = true;
            }
            _ => {}
        }
    }
    Ok(Match::Rt(m))
}

fn parse_addrs(tok: &Token) -> Result<Vec<Ipv6Addr>, RuleError> {
    let mut out = Vec::new();
    for part in tok.text.split(',') {
        if out.len() == MAX_ADDRS {
            return Err(RuleError::new(
                tok.span,
                format!("too many addresses: at most {MAX_ADDRS}"),
            ));
        }
        let a: Ipv6Addr = part
            .parse()
            .map_err(|_| RuleError::new(tok.span, format!("bad IPv6 address `{part}`")))?;
        out.push(a);
    }
    Ok(out)
}

pub(crate) fn save(m: &Rt, _: &SaveCtx, out: &mut String) {
    if let Some(t) = m.rt_type {
        save_opt_val(out, t.invert, "rt-type", t.value);
    }
    save_range_unless_all(out, "rt-segsleft", m.segsleft.as_ref());
    if let Some(l) = m.len {
        save_opt_val(out, l.invert, "rt-len", l.value);
    }
    if m.res {
        save_opt(out, false, "rt-0-res");
    }
    if !m.addrs.is_empty() {
        let list: Vec<String> = m
            .addrs
            .iter()
            .map(|a| rampart_model::IpText((*a).into()).to_string())
            .collect();
        save_opt_val(out, false, "rt-0-addrs", list.join(","));
    }
    if m.not_strict {
        save_opt(out, false, "rt-0-not-strict");
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip6;

    #[test]
    fn type_zero_options() {
        assert_eq!(
            roundtrip6(
                "-m rt --rt-type 0 --rt-0-addrs ::1,2001:db8::1 --rt-0-not-strict --rt-len 5"
            ),
            Ok(
                "-m rt --rt-type 0 --rt-len 5 --rt-0-addrs ::1,2001:db8::1 --rt-0-not-strict"
                    .into()
            )
        );
        assert!(roundtrip6("-m rt --rt-0-res --rt-type 0").is_err());
        assert!(roundtrip6("-m rt ! --rt-type 0 --rt-0-res").is_err());
        assert!(roundtrip6("-m rt --rt-type 0 --rt-0-not-strict").is_err());
        assert!(roundtrip6("-m rt --rt-type 256").is_err());
    }
}
