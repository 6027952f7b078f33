//! `-m multiport` (revision 1): `--sports`, `--dports`, `--ports` with up to
//! 15 ports or ranges.

use crate::iptables::ext::*;
use rampart_model::matches::multiport::{Multiport, MultiportDir};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "multiport",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["sports", "source-ports"], Arity::One),
        OptSpec::new(&["dports", "destination-ports"], Arity::One),
        OptSpec::new(&["ports"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    cx.require_proto(&[
        Protocol::TCP,
        Protocol::UDP,
        Protocol::UDPLITE,
        Protocol::SCTP,
        Protocol::DCCP,
    ])?;
    at_most_once(opts)?;
    let Some(o) = opts.first() else {
        return Err(cx
            .error("`multiport` needs one of `--sports`, `--dports` or `--ports`")
            .with_help("e.g. `-m multiport --dports 80,443`"));
    };
    if let Some(second) = opts.get(1) {
        return Err(RuleError::new(
            second.span,
            format!(
                "`--{}` cannot be used together with `--{}`",
                second.name, o.name
            ),
        )
        .with_help("use `--ports` to match either port, or two `-m multiport` matches"));
    }
    let dir = match o.name {
        "sports" => MultiportDir::Source,
        "ports" => MultiportDir::Either,
        _ => MultiportDir::Destination,
    };
    let ports = parse_ports(&o.arg())?;
    Ok(Match::Multiport(Multiport {
        dir,
        ports: Neg::inverted(ports, o.invert),
    }))
}

/// `P[:P][,...]`; a range takes two of the 15 slots and must go upwards.
fn parse_ports(tok: &Token) -> Result<Vec<PortRange>, RuleError> {
    let mut out = Vec::new();
    let mut slots = 0;
    for part in tok.text.split(',') {
        let range = match part.split_once(':') {
            None => PortRange::single(parse_port(&Token::new(part, tok.span))?),
            Some((a, b)) => {
                let first = parse_port(&Token::new(a, tok.span))?;
                let last = parse_port(&Token::new(b, tok.span))?;
                if first >= last {
                    return Err(RuleError::new(
                        tok.span,
                        format!("invalid port range `{part}`: the start must be below the end"),
                    ));
                }
                PortRange { first, last }
            }
        };
        slots += if range.is_single() { 1 } else { 2 };
        if slots > Multiport::MAX_PORTS {
            return Err(RuleError::new(
                tok.span,
                format!(
                    "too many ports: at most {} (a range counts as two)",
                    Multiport::MAX_PORTS
                ),
            )
            .with_help("split the list over several rules"));
        }
        out.push(range);
    }
    Ok(out)
}

pub(crate) fn save(m: &Multiport, _: &SaveCtx, out: &mut String) {
    let name = match m.dir {
        MultiportDir::Source => "sports",
        MultiportDir::Destination => "dports",
        MultiportDir::Either => "ports",
    };
    let list: Vec<String> = m.ports.value.iter().map(|p| p.to_string()).collect();
    save_opt_val(out, m.ports.invert, name, list.join(","));
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip;

    #[test]
    fn names_print_as_numbers_and_invert_goes_first() {
        assert_eq!(
            roundtrip("-p tcp -m multiport --destination-ports ssh,http ! "),
            Err("`!` at the end of the line, with nothing to invert".into())
        );
        assert_eq!(
            roundtrip("-p tcp -m multiport ! --destination-ports ssh,1000:2000"),
            Ok("-p tcp -m multiport ! --dports 22,1000:2000".into())
        );
    }

    #[test]
    fn ranges_count_twice_and_must_go_up() {
        assert!(
            roundtrip("-p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14:15").is_ok()
        );
        assert!(
            roundtrip("-p tcp -m multiport --ports 1,2,3,4,5,6,7,8,9,10,11,12,13,14:15,16")
                .is_err()
        );
        assert!(roundtrip("-p tcp -m multiport --ports 5:5").is_err());
        assert!(roundtrip("-p tcp -m multiport --ports 1024:").is_err());
        assert!(roundtrip("-p tcp -m multiport --ports 1,,2").is_err());
    }

    #[test]
    fn one_option_and_a_port_protocol() {
        assert!(roundtrip("-p tcp -m multiport --dports 1 --sports 2").is_err());
        assert!(roundtrip("-p tcp -m multiport").is_err());
        assert!(roundtrip("-p icmp -m multiport --dports 1").is_err());
        assert!(roundtrip("! -p tcp -m multiport --dports 1").is_err());
    }
}
