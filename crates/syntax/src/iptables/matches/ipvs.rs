//! `-m ipvs`: `[!] --ipvs`, `[!] --vproto P`, `[!] --vaddr A[/M]`,
//! `[!] --vport P`, `--vdir ORIGINAL|REPLY`, `[!] --vmethod GATE|IPIP|MASQ`,
//! `[!] --vportctl P`.

use super::policy::parse_hostmask;
use crate::iptables::ext::*;
use rampart_model::matches::ipvs::{Ipvs, IpvsDir, IpvsMethod};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "ipvs",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["ipvs"], Arity::None),
        OptSpec::new(&["vproto"], Arity::One),
        OptSpec::new(&["vaddr"], Arity::One),
        OptSpec::new(&["vport"], Arity::One),
        OptSpec::new(&["vdir"], Arity::One),
        OptSpec::new(&["vmethod"], Arity::One),
        OptSpec::new(&["vportctl"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Ipvs::default();
    let mut ipvs_opt = None;
    for o in opts {
        let tok = o.arg();
        match o.name {
            "ipvs" => {
                m.ipvs = Some(!o.invert);
                ipvs_opt = Some(o);
            }
            "vproto" => {
                let p = Protocol::parse(&tok.text).ok_or_else(|| {
                    RuleError::new(tok.span, format!("unknown protocol `{}`", tok.text))
                        .with_help("give a protocol name such as tcp, or its number")
                })?;
                m.vproto = Some(Neg::inverted(p, o.invert));
            }
            "vaddr" => {
                m.vaddr = Some(Neg::inverted(parse_hostmask(&tok, cx.family)?, o.invert));
            }
            "vport" => m.vport = Some(Neg::inverted(parse_port(&tok)?, o.invert)),
            "vportctl" => m.vportctl = Some(Neg::inverted(parse_port(&tok)?, o.invert)),
            "vdir" => {
                o.check_invert(false)?;
                m.vdir = Some(if tok.text.eq_ignore_ascii_case("ORIGINAL") {
                    IpvsDir::Original
                } else if tok.text.eq_ignore_ascii_case("REPLY") {
                    IpvsDir::Reply
                } else {
                    return Err(RuleError::new(
                        tok.span,
                        format!("invalid direction `{}`", tok.text),
                    )
                    .with_help("use ORIGINAL or REPLY"));
                });
            }
            "vmethod" => {
                let method = [IpvsMethod::Gate, IpvsMethod::Ipip, IpvsMethod::Masq]
                    .into_iter()
                    .find(|x| x.name().eq_ignore_ascii_case(&tok.text))
                    .ok_or_else(|| {
                        RuleError::new(tok.span, format!("invalid method `{}`", tok.text))
                            .with_help("use GATE, IPIP or MASQ")
                    })?;
                m.vmethod = Some(Neg::inverted(method, o.invert));
            }
            _ => {}
        }
    }
    if opts.is_empty() {
        return Err(cx
            .error("`-m ipvs` needs at least one option")
            .with_help("for example `-m ipvs --ipvs`"));
    }
    let others = opts.len() > usize::from(ipvs_opt.is_some());
    if others {
        if let Some(o) = ipvs_opt {
            if o.invert {
                return Err(RuleError::new(
                    o.span,
                    "`! --ipvs` cannot be used together with other ipvs options",
                )
                .with_help("every other option implies `--ipvs`"));
            }
            // Implied by the other options; iptables does not print it.
            m.ipvs = None;
        }
    }
    Ok(Match::Ipvs(m))
}

pub(crate) fn save(m: &Ipvs, _: &SaveCtx, out: &mut String) {
    let only_ipvs = m.vproto.is_none()
        && m.vaddr.is_none()
        && m.vport.is_none()
        && m.vdir.is_none()
        && m.vmethod.is_none()
        && m.vportctl.is_none();
    if let (Some(b), true) = (m.ipvs, only_ipvs) {
        save_opt(out, !b, "ipvs");
    }
    if let Some(p) = m.vproto {
        save_opt_val(out, p.invert, "vproto", p.value.0);
    }
    if let Some(a) = m.vaddr {
        save_opt_val(out, a.invert, "vaddr", a.value);
    }
    if let Some(p) = m.vport {
        save_opt_val(out, p.invert, "vport", p.value);
    }
    if let Some(d) = m.vdir {
        let name = match d {
            IpvsDir::Original => "ORIGINAL",
            IpvsDir::Reply => "REPLY",
        };
        save_opt_val(out, false, "vdir", name);
    }
    if let Some(v) = m.vmethod {
        save_opt_val(out, v.invert, "vmethod", v.value.name());
    }
    if let Some(p) = m.vportctl {
        save_opt_val(out, p.invert, "vportctl", p.value);
    }
}

#[cfg(test)]
mod tests {
    use super::super::policy::tests::roundtrip;
    use super::*;

    #[test]
    fn ipvs_is_implied_by_other_options() {
        let v4 = |l: &str| roundtrip(Family::Ipv4, l);
        assert_eq!(
            v4("-A INPUT -m ipvs --ipvs --vport 5").as_deref(),
            Ok(" --vport 5")
        );
        assert_eq!(v4("-A INPUT -m ipvs ! --ipvs").as_deref(), Ok(" ! --ipvs"));
        assert_eq!(
            v4("-A INPUT -m ipvs --vdir reply --vmethod masq --vaddr 1.2.3.4/255.255.0.0")
                .as_deref(),
            Ok(" --vaddr 1.2.3.4/16 --vdir REPLY --vmethod MASQ")
        );
        for bad in [
            "-A INPUT -m ipvs",
            "-A INPUT -m ipvs ! --ipvs --vport 5",
            "-A INPUT -m ipvs ! --vdir REPLY",
            "-A INPUT -m ipvs --vmethod NAT",
            "-A INPUT -m ipvs --vaddr 2001::1",
        ] {
            assert!(v4(bad).is_err(), "{bad}");
        }
    }
}
