//! `-m dst` (IPv6): `--dst-len`, `--dst-opts`.

use super::hbh::{parse_opts, save_opts};
use crate::iptables::ext::*;
use rampart_model::matches::dst::Dst;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "dst",
    aliases: &[],
    family: Some(Family::Ipv6),
    options: &[
        OptSpec::new(&["dst-len"], Arity::One),
        OptSpec::new(&["dst-opts"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], _: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Dst::default();
    for o in opts {
        match o.name {
            "dst-len" => m.len = Some(Neg::inverted(parse_u32(&o.arg(), "length")?, o.invert)),
            "dst-opts" => {
                o.check_invert(false)?;
                m.opts = parse_opts(&o.arg())?;
            }
            _ => {}
        }
    }
    Ok(Match::Dst(m))
}

pub(crate) fn save(m: &Dst, _: &SaveCtx, out: &mut String) {
    if let Some(l) = m.len {
        save_opt_val(out, l.invert, "dst-len", l.value);
    }
    if !m.opts.is_empty() {
        save_opt(out, false, "dst-opts");
        save_opts(out, &m.opts);
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip6;

    #[test]
    fn len_then_opts() {
        assert_eq!(
            roundtrip6("-m dst --dst-opts 149:92,12:12 --dst-len 42"),
            Ok("-m dst --dst-len 42 --dst-opts 149:92,12:12".into())
        );
    }
}
