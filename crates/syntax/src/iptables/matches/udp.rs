//! `-m udp`: `--sport`, `--dport` (aliases `--source-port`,
//! `--destination-port`).

use crate::iptables::ext::*;
use rampart_model::matches::udp::Udp;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "udp",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["sport", "source-port"], Arity::One),
        OptSpec::new(&["dport", "destination-port"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    cx.require_proto(&[Protocol::UDP])?;
    at_most_once(opts)?;
    let mut m = Udp::default();
    for o in opts {
        let range = Neg::inverted(parse_port_range(&o.arg())?, o.invert);
        match o.name {
            "sport" => m.sport = Some(range),
            "dport" => m.dport = Some(range),
            _ => {}
        }
    }
    Ok(Match::Udp(m))
}

pub(crate) fn save(m: &Udp, _: &SaveCtx, out: &mut String) {
    // iptables omits a range that covers every port unless it is inverted.
    for (name, p) in [("sport", &m.sport), ("dport", &m.dport)] {
        if let Some(p) = p {
            if p.value != PortRange::ALL || p.invert {
                save_opt_val(out, p.invert, name, p.value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip;

    #[test]
    fn full_range_is_omitted_unless_inverted() {
        assert_eq!(
            roundtrip("-p udp -m udp --sport :"),
            Ok("-p udp -m udp".into())
        );
        assert_eq!(
            roundtrip("-p udp -m udp ! --dport 0:"),
            Ok("-p udp -m udp ! --dport 0:65535".into())
        );
    }

    #[test]
    fn needs_protocol_and_single_use() {
        assert!(roundtrip("-m udp --dport 1").is_err());
        assert!(roundtrip("-p udp -m udp --dport 1 --dport 2").is_err());
        assert!(roundtrip("-p udp -m udp --sport 4:3").is_err());
    }
}
