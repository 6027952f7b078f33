//! `-m ipcomp`: `--ipcompspi`, `--compres`.

use super::esp::{parse_u32_range, save_range_unless_all};
use crate::iptables::ext::*;
use rampart_model::matches::esp::U32Range;
use rampart_model::matches::ipcomp::Ipcomp;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "ipcomp",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["ipcompspi"], Arity::One),
        OptSpec::new(&["compres"], Arity::None),
    ],
    build,
};

/// IP protocol number of IPComp.
const IPCOMP: Protocol = Protocol(108);

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    cx.require_proto(&[IPCOMP])?;
    at_most_once(opts)?;
    // Without `--ipcompspi` iptables leaves the range at 0:0, so the match
    // only takes CPI 0 (and iptables-save prints `--ipcompspi 0`).
    let mut m = Ipcomp {
        spi: Some(Neg::new(U32Range::single(0))),
        res: false,
    };
    for o in opts {
        match o.name {
            "ipcompspi" => {
                m.spi = Some(Neg::inverted(parse_u32_range(&o.arg(), "SPI")?, o.invert));
            }
            "compres" => {
                o.check_invert(false)?;
                m.res = true;
            }
            _ => {}
        }
    }
    Ok(Match::Ipcomp(m))
}

pub(crate) fn save(m: &Ipcomp, _: &SaveCtx, out: &mut String) {
    save_range_unless_all(out, "ipcompspi", m.spi.as_ref());
    if m.res {
        save_opt(out, false, "compres");
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip;

    #[test]
    fn absent_spi_is_zero() {
        assert_eq!(
            roundtrip("-p ipcomp -m ipcomp --compres"),
            Ok("-p ipcomp -m ipcomp --ipcompspi 0 --compres".into())
        );
        assert_eq!(
            roundtrip("-p ipcomp -m ipcomp --ipcompspi :"),
            Ok("-p ipcomp -m ipcomp".into())
        );
        assert!(roundtrip("-m ipcomp --ipcompspi 5").is_err());
    }
}
