//! `-m dccp`: `--sport`, `--dport` (aliases `--source-port`,
//! `--destination-port`), `--dccp-types`, `--dccp-option`.

use crate::iptables::ext::*;
use rampart_model::matches::dccp::{Dccp, TYPE_NAMES};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "dccp",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["sport", "source-port"], Arity::One),
        OptSpec::new(&["dport", "destination-port"], Arity::One),
        OptSpec::new(&["dccp-types"], Arity::One),
        OptSpec::new(&["dccp-option"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    cx.require_proto(&[Protocol::DCCP])?;
    at_most_once(opts)?;
    let mut m = Dccp::default();
    for o in opts {
        let arg = o.arg();
        match o.name {
            "sport" => m.sport = Some(Neg::inverted(parse_port_range(&arg)?, o.invert)),
            "dport" => m.dport = Some(Neg::inverted(parse_port_range(&arg)?, o.invert)),
            "dccp-types" => m.types = Some(Neg::inverted(parse_types(&arg)?, o.invert)),
            "dccp-option" => {
                let v = parse_uint(&arg, "DCCP option", 1, 255)? as u8;
                m.option = Some(Neg::inverted(v, o.invert));
            }
            _ => {}
        }
    }
    Ok(Match::Dccp(m))
}

/// `TYPE[,TYPE...]` by name, case-insensitive.
fn parse_types(tok: &Token) -> Result<u16, RuleError> {
    let mut mask = 0u16;
    for part in tok.text.split(',') {
        let i = TYPE_NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(part))
            .ok_or_else(|| {
                RuleError::new(tok.span, format!("unknown DCCP packet type `{part}`"))
                    .with_help(format!("types are {}", TYPE_NAMES.join(", ")))
            })?;
        mask |= 1 << i;
    }
    Ok(mask)
}

pub(crate) fn save(m: &Dccp, _: &SaveCtx, out: &mut String) {
    for (name, p) in [("sport", &m.sport), ("dport", &m.dport)] {
        if let Some(p) = p {
            save_opt_val(out, p.invert, name, p.value);
        }
    }
    if let Some(t) = m.types {
        let names: Vec<&str> = TYPE_NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| t.value & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect();
        save_opt_val(out, t.invert, "dccp-types", names.join(","));
    }
    if let Some(o) = m.option {
        save_opt_val(out, o.invert, "dccp-option", o.value);
    }
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip;

    #[test]
    fn types_print_in_number_order() {
        assert_eq!(
            roundtrip("-p dccp -m dccp ! --dccp-option 5 --dccp-types invalid,request,SYNCACK --dport ssh:"),
            Ok("-p dccp -m dccp --dport 22:65535 --dccp-types REQUEST,SYNCACK,INVALID ! --dccp-option 5".into())
        );
    }

    #[test]
    fn rejects() {
        for bad in [
            "--dccp-types 3",
            "--dccp-option 0",
            "--dccp-option 256",
            "--sport 4:3",
        ] {
            assert!(
                roundtrip(&format!("-p dccp -m dccp {bad}")).is_err(),
                "{bad}"
            );
        }
    }
}
