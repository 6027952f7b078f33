//! `-m ipv6header` (IPv6): `--header NAMES`, `--soft`.

use crate::iptables::ext::*;
use rampart_model::matches::ipv6header::{Ipv6Header, Ipv6Headers};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "ipv6header",
    aliases: &[],
    family: Some(Family::Ipv6),
    options: &[
        OptSpec::new(&["header"], Arity::One),
        OptSpec::new(&["soft"], Arity::None),
    ],
    build,
};

/// Header protocol numbers in the order iptables-save prints them, with the
/// printed name (`/etc/protocols`, else iptables' own).
const HEADERS: [(u8, &str); 8] = [
    (0, "hop-by-hop"),
    (60, "ipv6-opts"),
    (43, "ipv6-route"),
    (44, "ipv6-frag"),
    (51, "ah"),
    (50, "esp"),
    (59, "ipv6-nonxt"),
    (255, "protocol"),
];

/// iptables' own short names, tried after `/etc/protocols` names.
const SHORT_NAMES: &[(&str, u8)] = &[
    ("hop-by-hop", 0),
    ("protocol", 255),
    ("hop", 0),
    ("dst", 60),
    ("route", 43),
    ("frag", 44),
    ("auth", 51),
    ("esp", 50),
    ("none", 59),
    ("prot", 255),
    ("255", 255),
];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, "header") else {
        return Err(cx
            .error("`ipv6header` needs `--header`")
            .with_help("e.g. `--header ipv6-frag` or `--header hop,dst --soft`"));
    };
    let headers = parse_headers(&o.arg())?;
    let soft = match find(opts, "soft") {
        Some(s) => {
            s.check_invert(false)?;
            true
        }
        None => false,
    };
    Ok(Match::Ipv6Header(Ipv6Header {
        headers: Neg::inverted(headers, o.invert),
        soft,
    }))
}

fn flag(h: &mut Ipv6Headers, proto: u8) -> Option<&mut bool> {
    Some(match proto {
        0 => &mut h.hop_by_hop,
        60 => &mut h.dst,
        43 => &mut h.route,
        44 => &mut h.frag,
        51 => &mut h.auth,
        50 => &mut h.esp,
        59 => &mut h.none,
        255 => &mut h.proto,
        _ => return None,
    })
}

fn parse_headers(tok: &Token) -> Result<Ipv6Headers, RuleError> {
    let mut h = Ipv6Headers::default();
    let mut any = false;
    for part in tok.text.split(',').filter(|p| !p.is_empty()) {
        let proto = Protocol::parse(part)
            .map(|p| p.0)
            .or_else(|| SHORT_NAMES.iter().find(|(n, _)| *n == part).map(|&(_, p)| p))
            .ok_or_else(|| {
                RuleError::new(tok.span, format!("unknown header `{part}`")).with_help(
                    "headers are hop, dst, route, frag, auth, esp, none, prot \
                     (or hop-by-hop, ipv6-opts, ipv6-route, ipv6-frag, ah, esp, ipv6-nonxt, protocol)",
                )
            })?;
        let f = flag(&mut h, proto).ok_or_else(|| {
            RuleError::new(
                tok.span,
                format!("`{part}` is not an IPv6 extension header"),
            )
        })?;
        *f = true;
        any = true;
    }
    if !any {
        return Err(RuleError::new(
            tok.span,
            "`--header` needs at least one header name",
        ));
    }
    Ok(h)
}

pub(crate) fn save(m: &Ipv6Header, _: &SaveCtx, out: &mut String) {
    let mut h = m.headers.value;
    let names: Vec<&str> = HEADERS
        .iter()
        .filter(|(p, _)| flag(&mut h, *p).is_some_and(|f| *f))
        .map(|&(_, n)| n)
        .collect();
    let list = if names.is_empty() {
        "NONE".to_string()
    } else {
        names.join(",")
    };
    save_opt_val(out, m.headers.invert, "header", list);
    if m.soft {
        save_opt(out, false, "soft");
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip6;

    #[test]
    fn names_print_long_in_fixed_order() {
        assert_eq!(
            roundtrip6("-m ipv6header --soft --header prot,none,esp,auth,frag,route,dst,hop"),
            Ok("-m ipv6header --header hop-by-hop,ipv6-opts,ipv6-route,ipv6-frag,ah,esp,ipv6-nonxt,protocol --soft".into())
        );
        assert_eq!(
            roundtrip6("-m ipv6header ! --header 43"),
            Ok("-m ipv6header ! --header ipv6-route".into())
        );
        assert!(roundtrip6("-m ipv6header --header tcp").is_err());
        assert!(roundtrip6("-m ipv6header --soft").is_err());
    }
}
