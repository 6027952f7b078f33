//! `-m eui64` (IPv6): no options; valid in PREROUTING, INPUT and FORWARD
//! (the source MAC address is only known on the way in).

use crate::iptables::ext::*;
use rampart_model::matches::eui64::Eui64;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "eui64",
    aliases: &[],
    family: Some(Family::Ipv6),
    options: &[],
    build,
};

fn build(_: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    cx.require_hook(&[Hook::Prerouting, Hook::Input, Hook::Forward])?;
    Ok(Match::Eui64(Eui64 {}))
}

pub(crate) fn save(_: &Eui64, _: &SaveCtx, _: &mut String) {}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip_in;
    use rampart_model::{Family, TableKind};

    #[test]
    fn only_on_the_way_in() {
        let r = |chain| roundtrip_in("-m eui64", Family::Ipv6, TableKind::Filter, chain);
        assert_eq!(r("INPUT"), Ok("-m eui64".into()));
        assert!(r("OUTPUT").is_err());
        assert!(roundtrip_in("-m eui64", Family::Ipv4, TableKind::Filter, "INPUT").is_err());
    }
}
