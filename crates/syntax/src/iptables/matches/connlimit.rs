//! `-m connlimit`: `--connlimit-upto N`, `--connlimit-above N`,
//! `--connlimit-mask PREFIX`, `--connlimit-saddr`, `--connlimit-daddr`.
//!
//! iptables-save always prints the mask (32 or 128 when not given) and the
//! address key.

use crate::iptables::ext::*;
use rampart_model::matches::connlimit::{Connlimit, ConnlimitKey};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "connlimit",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["connlimit-upto"], Arity::One),
        OptSpec::new(&["connlimit-above"], Arity::One),
        OptSpec::new(&["connlimit-mask"], Arity::One),
        OptSpec::new(&["connlimit-saddr"], Arity::None),
        OptSpec::new(&["connlimit-daddr"], Arity::None),
    ],
    build,
};

fn full_prefix(family: Family) -> u8 {
    match family {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    }
}

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let full = full_prefix(cx.family);
    let mut limit: Option<&OptOcc> = None;
    let mut key: Option<&OptOcc> = None;
    let mut m = Connlimit {
        mask: full,
        ..Connlimit::default()
    };
    for o in opts {
        match o.name {
            "connlimit-upto" | "connlimit-above" => {
                if let Some(prev) = limit {
                    return Err(conflict(o, prev));
                }
                limit = Some(o);
                m.limit = parse_u32(&o.arg(), "connection limit")?;
                // `! --connlimit-upto N` is `--connlimit-above N`.
                m.above = (o.name == "connlimit-above") != o.invert;
            }
            "connlimit-mask" => {
                o.check_invert(false)?;
                m.mask = parse_uint(&o.arg(), "prefix length", 0, u64::from(full))? as u8;
            }
            "connlimit-saddr" | "connlimit-daddr" => {
                o.check_invert(false)?;
                if let Some(prev) = key {
                    if prev.name != o.name {
                        return Err(conflict(o, prev));
                    }
                }
                key = Some(o);
                m.key = if o.name == "connlimit-daddr" {
                    ConnlimitKey::Daddr
                } else {
                    ConnlimitKey::Saddr
                };
            }
            _ => {}
        }
    }
    if limit.is_none() {
        return Err(cx.error("`-m connlimit` needs `--connlimit-upto N` or `--connlimit-above N`"));
    }
    Ok(Match::Connlimit(m))
}

fn conflict(o: &OptOcc, prev: &OptOcc) -> RuleError {
    RuleError::new(
        o.span,
        format!("`--{}` conflicts with `--{}`", o.name, prev.name),
    )
    .with_help("give only one of them")
}

pub(crate) fn save(m: &Connlimit, _: &SaveCtx, out: &mut String) {
    let name = if m.above {
        "connlimit-above"
    } else {
        "connlimit-upto"
    };
    save_opt_val(out, false, name, m.limit);
    save_opt_val(out, false, "connlimit-mask", m.mask);
    save_opt(
        out,
        false,
        match m.key {
            ConnlimitKey::Saddr => "connlimit-saddr",
            ConnlimitKey::Daddr => "connlimit-daddr",
        },
    );
}

#[cfg(test)]
mod tests {
    use super::super::limit::roundtrip;
    use super::*;

    #[test]
    fn mask_default_depends_on_family() {
        assert_eq!(
            roundtrip("-m connlimit --connlimit-upto 3", Family::Ipv4).expect("valid test input"),
            "-m connlimit --connlimit-upto 3 --connlimit-mask 32 --connlimit-saddr"
        );
        assert_eq!(
            roundtrip(
                "-m connlimit ! --connlimit-upto 3 --connlimit-daddr",
                Family::Ipv6
            )
            .expect("valid test input"),
            "-m connlimit --connlimit-above 3 --connlimit-mask 128 --connlimit-daddr"
        );
        assert!(roundtrip(
            "-m connlimit --connlimit-above 1 --connlimit-mask 33",
            Family::Ipv4
        )
        .is_err());
        assert!(roundtrip(
            "-m connlimit --connlimit-above 1 --connlimit-mask 64",
            Family::Ipv6
        )
        .is_ok());
    }
}
