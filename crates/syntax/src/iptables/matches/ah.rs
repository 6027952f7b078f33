//! `-m ah`: `--ahspi`; for IPv6 (`libip6t_ah`) also `--ahlen` and
//! `--ahres`. Two extensions, one per family: IPv4 needs `-p ah`, IPv6
//! finds the header in the extension header chain.

use super::esp::{parse_u32_range, save_range_unless_all};
use crate::iptables::ext::*;
use rampart_model::matches::ah::Ah;

/// `-m ah` of iptables (IPv4).
pub(crate) static EXT: MatchExt = MatchExt {
    name: "ah",
    aliases: &[],
    family: Some(Family::Ipv4),
    options: &[OptSpec::new(&["ahspi"], Arity::One)],
    build,
};

/// `-m ah` of ip6tables (IPv6).
pub(crate) static EXT6: MatchExt = MatchExt {
    name: "ah",
    aliases: &[],
    family: Some(Family::Ipv6),
    options: &[
        OptSpec::new(&["ahspi"], Arity::One),
        OptSpec::new(&["ahlen"], Arity::One),
        OptSpec::new(&["ahres"], Arity::None),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    if cx.family == Family::Ipv4 {
        cx.require_proto(&[Protocol::AH])?;
    }
    at_most_once(opts)?;
    let mut m = Ah::default();
    for o in opts {
        match o.name {
            "ahspi" => m.spi = Some(Neg::inverted(parse_u32_range(&o.arg(), "SPI")?, o.invert)),
            "ahlen" => m.len = Some(Neg::inverted(parse_u32(&o.arg(), "length")?, o.invert)),
            "ahres" => {
                o.check_invert(false)?;
                m.res = true;
            }
            _ => {}
        }
    }
    Ok(Match::Ah(m))
}

pub(crate) fn save(m: &Ah, _: &SaveCtx, out: &mut String) {
    save_range_unless_all(out, "ahspi", m.spi.as_ref());
    if let Some(l) = m.len {
        save_opt_val(out, l.invert, "ahlen", l.value);
    }
    if m.res {
        save_opt(out, false, "ahres");
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::{roundtrip, roundtrip6};

    #[test]
    fn families_differ() {
        assert!(roundtrip("-m ah --ahspi 0").is_err());
        assert!(roundtrip("-p ah -m ah --ahlen 3").is_err());
        assert_eq!(
            roundtrip6("-m ah --ahres ! --ahlen 32 --ahspi 5"),
            Ok("-m ah --ahspi 5 ! --ahlen 32 --ahres".into())
        );
        assert_eq!(
            roundtrip("-p ah -m ah ! --ahspi 0"),
            Ok("-p ah -m ah ! --ahspi 0".into())
        );
    }
}
