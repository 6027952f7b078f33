//! `-m realm` (IPv4): `[!] --realm VALUE[/MASK]`.
//!
//! iptables also reads names from `/etc/iproute2/rt_realms` and prints the
//! name of a realm found there. rampart does not read host files; it knows
//! the one entry iproute2 ships (`0 cosmos`), so `cosmos` reads as 0 and
//! realm 0 prints as `cosmos`, as iptables does on a stock system.

use crate::iptables::ext::*;
use rampart_model::matches::mark::MarkMask;
use rampart_model::matches::realm::Realm;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "realm",
    aliases: &[],
    family: Some(Family::Ipv4),
    options: &[OptSpec::new(&["realm"], Arity::One)],
    build,
};

/// Realm names of iproute2's stock `rt_realms`.
const NAMES: &[(&str, u32)] = &[("cosmos", 0)];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, "realm") else {
        return Err(cx
            .error("`-m realm` needs `--realm`")
            .with_help("for example `-m realm --realm 0x2a`"));
    };
    let tok = o.arg();
    let realm = match NAMES.iter().find(|(n, _)| *n == tok.text) {
        Some(&(_, id)) => MarkMask::exact(id),
        None if tok.text.starts_with(|c: char| c.is_ascii_digit()) => {
            let (value, mask) = parse_value_mask(&tok, "realm")?;
            MarkMask { value, mask }
        }
        None => {
            return Err(
                RuleError::new(tok.span, format!("unknown realm name `{}`", tok.text))
                    .with_help("give the realm number (VALUE[/MASK]); names other than `cosmos` differ between hosts"),
            )
        }
    };
    // The route (and its realm) is known only after the routing decision.
    cx.require_hook(&[Hook::Input, Hook::Forward, Hook::Output, Hook::Postrouting])?;
    Ok(Match::Realm(Realm {
        realm: Neg::inverted(realm, o.invert),
    }))
}

pub(crate) fn save(m: &Realm, _: &SaveCtx, out: &mut String) {
    save_opt(out, m.realm.invert, "realm");
    let r = m.realm.value;
    match NAMES
        .iter()
        .find(|&&(_, id)| r.mask == u32::MAX && id == r.value)
    {
        Some((name, _)) => {
            out.push(' ');
            out.push_str(name);
        }
        None => {
            out.push(' ');
            save_value_mask(out, r.value, r.mask);
        }
    }
}
