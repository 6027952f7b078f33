//! `-m recent` (revision 1): `[!] --set|--rcheck|--update|--remove`,
//! `--seconds`, `--reap`, `--hitcount`, `--rttl`, `--name`, `--mask`,
//! `--rsource`, `--rdest`.
//!
//! iptables-save always prints the name (`DEFAULT`), the mask (all ones of
//! the family) and the side (`--rsource`). The kernel's checks are applied
//! too: `--set`/`--remove` take no modifiers, `--reap` needs `--seconds`,
//! `--hitcount` is at most 255, a name is 1 to 199 bytes.

use crate::iptables::cmd::parse_net;
use crate::iptables::ext::*;
use rampart_model::matches::recent::{Recent, RecentCommand, RecentSide};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "recent",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["set"], Arity::None),
        OptSpec::new(&["rcheck"], Arity::None),
        OptSpec::new(&["update"], Arity::None),
        OptSpec::new(&["remove"], Arity::None),
        OptSpec::new(&["seconds"], Arity::One),
        OptSpec::new(&["reap"], Arity::None),
        OptSpec::new(&["hitcount"], Arity::One),
        OptSpec::new(&["rttl"], Arity::None),
        OptSpec::new(&["name"], Arity::One),
        OptSpec::new(&["rsource"], Arity::None),
        OptSpec::new(&["rdest"], Arity::None),
        OptSpec::new(&["mask"], Arity::One),
    ],
    build,
};

/// `XT_RECENT_NAME_LEN` (NUL included).
const NAME_LEN: usize = 200;
/// `XT_RECENT_MAX_NSTAMPS - 1`.
const MAX_HITCOUNT: u64 = 255;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut command: Option<(Neg<RecentCommand>, &OptOcc)> = None;
    let mut seconds = None;
    let mut reap: Option<&OptOcc> = None;
    let mut hitcount = None;
    let mut rttl: Option<&OptOcc> = None;
    let mut name = "DEFAULT".to_string();
    let mut mask = match cx.family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::from(u32::MAX)),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(u128::MAX)),
    };
    let mut side = RecentSide::Source;
    for o in opts {
        let cmd = match o.name {
            "set" => Some(RecentCommand::Set),
            "rcheck" => Some(RecentCommand::Rcheck),
            "update" => Some(RecentCommand::Update),
            "remove" => Some(RecentCommand::Remove),
            _ => None,
        };
        o.check_invert(cmd.is_some())?;
        if let Some(c) = cmd {
            if let Some((_, prev)) = command {
                return Err(RuleError::new(
                    o.span,
                    format!("`--{}` conflicts with `--{}`", o.name, prev.name),
                )
                .with_help("a recent match does one of --set, --rcheck, --update, --remove; use two `-m recent` for more"));
            }
            command = Some((Neg::inverted(c, o.invert), o));
            continue;
        }
        match o.name {
            "seconds" => {
                seconds = Some(parse_uint(&o.arg(), "seconds", 1, u64::from(u32::MAX))? as u32)
            }
            "reap" => reap = Some(o),
            "hitcount" => {
                let v = parse_u32(&o.arg(), "hit count")?;
                if u64::from(v) > MAX_HITCOUNT {
                    return Err(RuleError::new(
                        o.arg().span,
                        format!("hit count {v} is larger than the kernel's maximum {MAX_HITCOUNT}"),
                    ));
                }
                hitcount = Some(v).filter(|&v| v != 0);
            }
            "rttl" => rttl = Some(o),
            "name" => {
                let t = o.arg();
                if t.text.is_empty() || t.text.len() >= NAME_LEN {
                    return Err(RuleError::new(
                        t.span,
                        format!("a recent list name must be 1 to {} bytes", NAME_LEN - 1),
                    ));
                }
                name = t.text;
            }
            "rsource" => side = RecentSide::Source,
            "rdest" => side = RecentSide::Dest,
            "mask" => {
                let t = o.arg();
                if t.text.contains('/') {
                    return Err(RuleError::new(t.span, format!("invalid mask `{}`", t.text))
                        .with_help("write the mask as an address, e.g. `255.255.255.0`"));
                }
                mask = parse_net(&t.text, t.span, cx.family)?.addr();
            }
            _ => {}
        }
    }
    let Some((command, cmd_opt)) = command else {
        return Err(
            cx.error("`-m recent` needs one of `--set`, `--rcheck`, `--update` or `--remove`")
        );
    };
    if matches!(command.value, RecentCommand::Set | RecentCommand::Remove) {
        let modifier = opts
            .iter()
            .find(|o| matches!(o.name, "seconds" | "hitcount" | "rttl" | "reap"));
        if let Some(m) = modifier {
            return Err(RuleError::new(
                m.span,
                format!("`--{}` cannot be used with `--{}`", m.name, cmd_opt.name),
            )
            .with_help("it only applies to --rcheck and --update"));
        }
    }
    if let Some(r) = reap {
        if seconds.is_none() {
            return Err(RuleError::new(r.span, "`--reap` needs `--seconds`"));
        }
    }
    Ok(Match::Recent(Recent {
        command,
        seconds,
        reap: reap.is_some(),
        hitcount,
        rttl: rttl.is_some(),
        name,
        mask,
        side,
    }))
}

pub(crate) fn save(m: &Recent, _: &SaveCtx, out: &mut String) {
    save_opt(out, m.command.invert, m.command.value.name());
    if let Some(s) = m.seconds {
        save_opt_val(out, false, "seconds", s);
    }
    if m.reap {
        save_opt(out, false, "reap");
    }
    if let Some(h) = m.hitcount {
        save_opt_val(out, false, "hitcount", h);
    }
    if m.rttl {
        save_opt(out, false, "rttl");
    }
    save_opt_val(out, false, "name", &m.name);
    save_opt_val(out, false, "mask", m.mask);
    save_opt(
        out,
        false,
        match m.side {
            RecentSide::Source => "rsource",
            RecentSide::Dest => "rdest",
        },
    );
}

#[cfg(test)]
mod tests {
    use super::super::limit::roundtrip;
    use super::*;

    #[test]
    fn defaults_are_printed() {
        assert_eq!(
            roundtrip(
                "-m recent ! --update --seconds 60 --reap --rdest --mask 255.255.0.0",
                Family::Ipv4
            )
            .expect("valid test input"),
            "-m recent ! --update --seconds 60 --reap --name DEFAULT --mask 255.255.0.0 --rdest"
        );
        assert_eq!(
            roundtrip("-m recent --rcheck --hitcount 0", Family::Ipv6).expect("valid test input"),
            "-m recent --rcheck --name DEFAULT --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource"
        );
    }

    #[test]
    fn kernel_checks() {
        for bad in [
            "-m recent --set --rttl",
            "-m recent --remove --seconds 5",
            "-m recent --rcheck --reap",
            "-m recent --rcheck --update",
            "-m recent --rcheck --hitcount 256",
            "-m recent --rcheck --seconds 0",
            "-m recent --seconds 5",
            "-m recent --set --name ''",
            "-m recent --set --mask 10.0.0.0/8",
        ] {
            assert!(roundtrip(bad, Family::Ipv4).is_err(), "{bad}");
        }
    }
}
