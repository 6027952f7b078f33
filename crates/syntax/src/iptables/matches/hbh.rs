//! `-m hbh` (IPv6): `--hbh-len`, `--hbh-opts`. Also the option-list parser
//! and printer shared with `-m dst`.

use crate::iptables::ext::*;
use rampart_model::matches::hbh::{Hbh, Ip6Opt, MAX_OPTS};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "hbh",
    aliases: &[],
    family: Some(Family::Ipv6),
    options: &[
        OptSpec::new(&["hbh-len"], Arity::One),
        OptSpec::new(&["hbh-opts"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], _: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Hbh::default();
    for o in opts {
        match o.name {
            "hbh-len" => m.len = Some(Neg::inverted(parse_u32(&o.arg(), "length")?, o.invert)),
            "hbh-opts" => {
                o.check_invert(false)?;
                m.opts = parse_opts(&o.arg())?;
            }
            _ => {}
        }
    }
    Ok(Match::Hbh(m))
}

/// `TYPE[:LEN][,...]`, at most 16 entries. Length 255 is iptables' "no
/// length" marker, so `T:255` is the same as `T`.
pub(crate) fn parse_opts(tok: &Token) -> Result<Vec<Ip6Opt>, RuleError> {
    let mut out = Vec::new();
    for (i, part) in tok.text.split(',').enumerate() {
        if i == MAX_OPTS {
            return Err(RuleError::new(
                tok.span,
                format!("too many options: at most {MAX_OPTS}"),
            ));
        }
        let (t, l) = match part.split_once(':') {
            Some((t, l)) => (t, Some(l)),
            None => (part, None),
        };
        if l.is_some() && i == MAX_OPTS - 1 {
            // iptables refuses a length on the last possible entry.
            return Err(RuleError::new(
                tok.span,
                format!("option number {MAX_OPTS} cannot have a length"),
            ));
        }
        let opt_type = parse_uint(&Token::new(t, tok.span), "option type", 0, 255)? as u8;
        let len = match l {
            None => None,
            Some(l) => {
                if opt_type == 0 {
                    return Err(RuleError::new(tok.span, "option 0 (Pad1) has no length"));
                }
                let v = parse_uint(&Token::new(l, tok.span), "option length", 0, 255)? as u8;
                (v != 255).then_some(v)
            }
        };
        out.push(Ip6Opt { opt_type, len });
    }
    Ok(out)
}

/// Appends ` TYPE[:LEN],...`.
pub(crate) fn save_opts(out: &mut String, opts: &[Ip6Opt]) {
    let parts: Vec<String> = opts
        .iter()
        .map(|o| match o.len {
            Some(l) => format!("{}:{l}", o.opt_type),
            None => o.opt_type.to_string(),
        })
        .collect();
    out.push(' ');
    out.push_str(&parts.join(","));
}

pub(crate) fn save(m: &Hbh, _: &SaveCtx, out: &mut String) {
    if let Some(l) = m.len {
        save_opt_val(out, l.invert, "hbh-len", l.value);
    }
    if !m.opts.is_empty() {
        save_opt(out, false, "hbh-opts");
        save_opts(out, &m.opts);
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip6;

    #[test]
    fn options_list() {
        assert_eq!(
            roundtrip6("-m hbh --hbh-opts 1:2,3,4:255 ! --hbh-len 4"),
            Ok("-m hbh ! --hbh-len 4 --hbh-opts 1:2,3,4".into())
        );
        assert!(roundtrip6("-m hbh --hbh-opts 0:2").is_err());
        assert!(roundtrip6("-m hbh --hbh-opts 1:256").is_err());
        assert!(roundtrip6("-m hbh ! --hbh-opts 1").is_err());
        assert!(roundtrip6("-m hbh --hbh-opts 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16").is_ok());
        assert!(roundtrip6("-m hbh --hbh-opts 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17").is_err());
    }
}
