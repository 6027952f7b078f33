//! `-j TCPMSS`: `--set-mss N` or `--clamp-mss-to-pmtu`; needs `-p tcp`.
//!
//! iptables-legacy also demands a SYN match (`--tcp-flags SYN,RST SYN` or
//! `--syn`) in the rule; iptables-nft (the default of 1.8.9) does not, and
//! rampart follows it.

use crate::iptables::ext::*;
use rampart_model::targets::tcpmss::Tcpmss;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TCPMSS",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["set-mss"], Arity::One),
        OptSpec::new(&["clamp-mss-to-pmtu"], Arity::None),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    let mut mss: Option<(&OptOcc, Tcpmss)> = None;
    for o in opts {
        o.check_invert(false)?;
        let v = if o.name == "set-mss" {
            // The MSS must leave room for the minimal IP and TCP headers.
            let headers = match cx.family {
                Family::Ipv4 => 40,
                Family::Ipv6 => 60,
            };
            let n = parse_uint(&o.arg(), "MSS", 0, u64::from(u16::MAX) - headers)?;
            Tcpmss::Set { mss: n as u16 }
        } else {
            Tcpmss::ClampToPmtu
        };
        if let Some((first, _)) = mss.replace((o, v)) {
            return Err(RuleError::new(
                o.span,
                format!("`--{}` cannot be combined with `--{}`", o.name, first.name),
            ));
        }
    }
    let Some((_, mss)) = mss else {
        return Err(cx
            .error("`TCPMSS` needs --set-mss or --clamp-mss-to-pmtu")
            .with_help("e.g. `-j TCPMSS --clamp-mss-to-pmtu`"));
    };
    require_tcp(cx)?;
    if mss == Tcpmss::ClampToPmtu {
        cx.require_hook(&[Hook::Forward, Hook::Output, Hook::Postrouting])?;
    }
    Ok(Target::Tcpmss(mss))
}

/// Error unless the rule says `-p tcp` (not inverted): targets that
/// rewrite TCP headers.
pub(super) fn require_tcp(cx: &RuleCtx) -> Result<(), RuleError> {
    if cx.proto() == Some(Protocol::TCP) {
        return Ok(());
    }
    Err(cx
        .error(format!(
            "`{}` only works on TCP: the rule needs `-p tcp`",
            cx.name
        ))
        .with_help(format!("add `-p tcp` before `-j {}`", cx.name)))
}

pub(crate) fn save(m: &Tcpmss, _: &SaveCtx, out: &mut String) {
    match m {
        Tcpmss::ClampToPmtu => save_opt(out, false, "clamp-mss-to-pmtu"),
        Tcpmss::Set { mss } => save_opt_val(out, false, "set-mss", mss),
    }
}
