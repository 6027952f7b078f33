//! `-m srh` (IPv6): `--srh-next-hdr`, `--srh-hdr-len-{eq,gt,lt}`,
//! `--srh-segs-left-{eq,gt,lt}`, `--srh-last-entry-{eq,gt,lt}`,
//! `--srh-tag`, `--srh-psid`, `--srh-nsid`, `--srh-lsid`.

use crate::iptables::ext::*;
use rampart_model::matches::srh::{Cmp, FieldCmp, SidPrefix, Srh};
use std::net::Ipv6Addr;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "srh",
    aliases: &[],
    family: Some(Family::Ipv6),
    options: &[
        OptSpec::new(&["srh-next-hdr"], Arity::One),
        OptSpec::new(&["srh-hdr-len-eq"], Arity::One),
        OptSpec::new(&["srh-hdr-len-gt"], Arity::One),
        OptSpec::new(&["srh-hdr-len-lt"], Arity::One),
        OptSpec::new(&["srh-segs-left-eq"], Arity::One),
        OptSpec::new(&["srh-segs-left-gt"], Arity::One),
        OptSpec::new(&["srh-segs-left-lt"], Arity::One),
        OptSpec::new(&["srh-last-entry-eq"], Arity::One),
        OptSpec::new(&["srh-last-entry-gt"], Arity::One),
        OptSpec::new(&["srh-last-entry-lt"], Arity::One),
        OptSpec::new(&["srh-tag"], Arity::One),
        OptSpec::new(&["srh-psid"], Arity::One),
        OptSpec::new(&["srh-nsid"], Arity::One),
        OptSpec::new(&["srh-lsid"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], _: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Srh::default();
    for o in opts {
        let arg = o.arg();
        let inv = o.invert;
        if let Some((field, op)) = o
            .name
            .strip_prefix("srh-")
            .and_then(|n| n.rsplit_once('-'))
            .and_then(|(f, op)| Some((f, cmp(op)?)))
        {
            let value = parse_uint(&arg, "value", 0, 255)? as u8;
            let slot = match field {
                "hdr-len" => &mut m.hdr_len,
                "segs-left" => &mut m.segs_left,
                _ => &mut m.last_entry,
            };
            if slot.is_some() {
                // The kernel keeps one value per field for all three
                // comparisons; iptables would silently use the last one.
                return Err(RuleError::new(
                    o.span,
                    format!("only one of `--srh-{field}-eq/-gt/-lt` can be given"),
                ));
            }
            *slot = Some(Neg::inverted(FieldCmp { op, value }, inv));
            continue;
        }
        match o.name {
            "srh-next-hdr" => {
                let v = parse_uint(&arg, "next header", 0, 255)? as u8;
                m.next_hdr = Some(Neg::inverted(v, inv));
            }
            "srh-tag" => {
                let v = parse_uint(&arg, "tag", 0, 65535)? as u16;
                m.tag = Some(Neg::inverted(v, inv));
            }
            "srh-psid" => m.psid = Some(Neg::inverted(parse_sid(&arg)?, inv)),
            "srh-nsid" => m.nsid = Some(Neg::inverted(parse_sid(&arg)?, inv)),
            "srh-lsid" => m.lsid = Some(Neg::inverted(parse_sid(&arg)?, inv)),
            _ => {}
        }
    }
    Ok(Match::Srh(m))
}

fn cmp(op: &str) -> Option<Cmp> {
    Some(match op {
        "eq" => Cmp::Eq,
        "gt" => Cmp::Gt,
        "lt" => Cmp::Lt,
        _ => return None,
    })
}

/// `ADDR[/LEN]` (LEN defaults to 128); the address is kept as given.
fn parse_sid(tok: &Token) -> Result<SidPrefix, RuleError> {
    let (a, l) = match tok.text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (tok.text.as_str(), None),
    };
    let addr: Ipv6Addr = a
        .parse()
        .map_err(|_| RuleError::new(tok.span, format!("bad IPv6 address `{a}`")))?;
    let len = match l {
        Some(l) => parse_uint(&Token::new(l, tok.span), "prefix length", 0, 128)? as u8,
        None => 128,
    };
    Ok(SidPrefix { addr, len })
}

pub(crate) fn save(m: &Srh, _: &SaveCtx, out: &mut String) {
    if let Some(v) = m.next_hdr {
        save_opt_val(out, v.invert, "srh-next-hdr", v.value);
    }
    for (field, f) in [
        ("hdr-len", m.hdr_len),
        ("segs-left", m.segs_left),
        ("last-entry", m.last_entry),
    ] {
        if let Some(f) = f {
            let name = format!("srh-{field}-{}", f.value.op.suffix());
            save_opt_val(out, f.invert, &name, f.value.value);
        }
    }
    if let Some(v) = m.tag {
        save_opt_val(out, v.invert, "srh-tag", v.value);
    }
    for (name, s) in [
        ("srh-psid", m.psid),
        ("srh-nsid", m.nsid),
        ("srh-lsid", m.lsid),
    ] {
        if let Some(s) = s {
            save_opt_val(
                out,
                s.invert,
                name,
                format!(
                    "{}/{}",
                    rampart_model::IpText(s.value.addr.into()),
                    s.value.len
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip6;

    #[test]
    fn fixed_order_and_sids() {
        assert_eq!(
            roundtrip6(
                "-m srh --srh-psid a::1 --srh-tag 65535 --srh-last-entry-gt 2 \
                 --srh-next-hdr 6 ! --srh-segs-left-lt 3 --srh-lsid c::/0"
            ),
            Ok(
                "-m srh --srh-next-hdr 6 ! --srh-segs-left-lt 3 --srh-last-entry-gt 2 \
                --srh-tag 65535 --srh-psid a::1/128 --srh-lsid c::/0"
                    .into()
            )
        );
    }

    #[test]
    fn rejects() {
        assert!(roundtrip6("-m srh --srh-hdr-len-gt 3 --srh-hdr-len-lt 9").is_err());
        assert!(roundtrip6("-m srh --srh-tag 65536").is_err());
        assert!(roundtrip6("-m srh --srh-psid a::/129").is_err());
        assert!(roundtrip6("-m srh --srh-next-hdr 256").is_err());
    }
}
