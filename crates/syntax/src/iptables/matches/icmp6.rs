//! `-m icmp6` (alias `-m icmpv6`, IPv6 only): `--icmpv6-type`.

use super::icmp::{parse_icmp_type, save_type};
use crate::iptables::ext::*;
use rampart_model::matches::icmp6::Icmp6;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "icmp6",
    aliases: &["icmpv6"],
    family: Some(Family::Ipv6),
    options: &[OptSpec::new(&["icmpv6-type"], Arity::One)],
    build,
};

/// ICMPv6 type names as iptables knows them: name, type, code range.
const ICMPV6_NAMES: &[(&str, u8, u8, u8)] = &[
    ("destination-unreachable", 1, 0, 0xff),
    ("no-route", 1, 0, 0),
    ("communication-prohibited", 1, 1, 1),
    ("beyond-scope", 1, 2, 2),
    ("address-unreachable", 1, 3, 3),
    ("port-unreachable", 1, 4, 4),
    ("failed-policy", 1, 5, 5),
    ("reject-route", 1, 6, 6),
    ("packet-too-big", 2, 0, 0xff),
    ("time-exceeded", 3, 0, 0xff),
    ("ttl-exceeded", 3, 0, 0xff),
    ("ttl-zero-during-transit", 3, 0, 0),
    ("ttl-zero-during-reassembly", 3, 1, 1),
    ("parameter-problem", 4, 0, 0xff),
    ("bad-header", 4, 0, 0),
    ("unknown-header-type", 4, 1, 1),
    ("unknown-option", 4, 2, 2),
    ("echo-request", 128, 0, 0xff),
    ("ping", 128, 0, 0xff),
    ("echo-reply", 129, 0, 0xff),
    ("pong", 129, 0, 0xff),
    ("mld-listener-query", 130, 0, 0xff),
    ("mld-listener-report", 131, 0, 0xff),
    ("mld-listener-done", 132, 0, 0xff),
    ("mld-listener-reduction", 132, 0, 0xff),
    ("router-solicitation", 133, 0, 0xff),
    ("router-advertisement", 134, 0, 0xff),
    ("neighbour-solicitation", 135, 0, 0xff),
    ("neighbor-solicitation", 135, 0, 0xff),
    ("neighbour-advertisement", 136, 0, 0xff),
    ("neighbor-advertisement", 136, 0, 0xff),
    ("redirect", 137, 0, 0xff),
];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    cx.require_proto(&[Protocol::ICMPV6])?;
    at_most_once(opts)?;
    let Some(o) = find(opts, "icmpv6-type") else {
        return Err(cx
            .error("`icmp6` needs `--icmpv6-type`")
            .with_help("e.g. `--icmpv6-type echo-request` or `--icmpv6-type 1/4`"));
    };
    let t = parse_icmp_type(&o.arg(), ICMPV6_NAMES, "ICMPv6")?;
    Ok(Match::Icmp6(Icmp6 {
        icmp_type: Neg::inverted(t, o.invert),
    }))
}

pub(crate) fn save(m: &Icmp6, _: &SaveCtx, out: &mut String) {
    save_type(out, "icmpv6-type", &m.icmp_type);
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip6;

    #[test]
    fn names_alias_and_codes() {
        assert_eq!(
            roundtrip6("-p icmpv6 -m icmpv6 --icmpv6-type neighbor-sol"),
            Ok("-p ipv6-icmp -m icmp6 --icmpv6-type 135".into())
        );
        assert_eq!(
            roundtrip6("-p ipv6-icmp -m icmp6 ! --icmpv6-type 1/2:3"),
            Ok("-p ipv6-icmp -m icmp6 ! --icmpv6-type 1/2".into())
        );
        assert!(roundtrip6("-p ipv6-icmp -m icmp6 --icmpv6-type any").is_err());
        assert!(roundtrip6("-p ipv6-icmp -m icmp6 --icmpv6-type mld-listener-re").is_err());
    }
}
