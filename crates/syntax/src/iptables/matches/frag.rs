//! `-m frag` (IPv6): `--fragid`, `--fraglen`, `--fragres`, `--fragfirst`,
//! `--fragmore`, `--fraglast`.

use super::esp::{parse_u32_range, save_range_unless_all};
use crate::iptables::ext::*;
use rampart_model::matches::frag::Frag;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "frag",
    aliases: &[],
    family: Some(Family::Ipv6),
    options: &[
        OptSpec::new(&["fragid"], Arity::One),
        OptSpec::new(&["fraglen"], Arity::One),
        OptSpec::new(&["fragres"], Arity::None),
        OptSpec::new(&["fragfirst"], Arity::None),
        OptSpec::new(&["fragmore"], Arity::None),
        OptSpec::new(&["fraglast"], Arity::None),
    ],
    build,
};

fn build(opts: &[OptOcc], _: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Frag::default();
    for o in opts {
        match o.name {
            "fragid" => m.id = Some(Neg::inverted(parse_u32_range(&o.arg(), "id")?, o.invert)),
            "fraglen" => m.len = Some(Neg::inverted(parse_u32(&o.arg(), "length")?, o.invert)),
            flag => {
                o.check_invert(false)?;
                let other = match flag {
                    "fragres" => &mut m.res,
                    "fragfirst" => &mut m.first,
                    "fragmore" => &mut m.more,
                    _ => &mut m.last,
                };
                *other = true;
                if m.more && m.last {
                    return Err(RuleError::new(
                        o.span,
                        "`--fragmore` and `--fraglast` cannot be used together",
                    ));
                }
            }
        }
    }
    Ok(Match::Frag(m))
}

pub(crate) fn save(m: &Frag, _: &SaveCtx, out: &mut String) {
    save_range_unless_all(out, "fragid", m.id.as_ref());
    if let Some(l) = m.len {
        save_opt_val(out, l.invert, "fraglen", l.value);
    }
    for (on, name) in [
        (m.res, "fragres"),
        (m.first, "fragfirst"),
        (m.more, "fragmore"),
        (m.last, "fraglast"),
    ] {
        if on {
            save_opt(out, false, name);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip6;

    #[test]
    fn order_and_exclusion() {
        assert_eq!(
            roundtrip6("-m frag --fragmore --fragfirst --fragres --fraglen 3 ! --fragid 5"),
            Ok("-m frag ! --fragid 5 --fraglen 3 --fragres --fragfirst --fragmore".into())
        );
        assert!(roundtrip6("-m frag --fraglast --fragmore").is_err());
        assert!(roundtrip6("-m frag ! --fragres").is_err());
    }
}
