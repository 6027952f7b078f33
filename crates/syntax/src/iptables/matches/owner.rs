//! `-m owner` (revision 1): `[!] --uid-owner ID[-ID]`,
//! `[!] --gid-owner ID[-ID]`, `--suppl-groups`, `[!] --socket-exists`.
//!
//! iptables resolves user and group names through the host's user database
//! and stores numbers. rampart must give the same meaning on every host, so
//! it reads numbers and the one name that is the same everywhere (`root`,
//! id 0); any other name is an error that asks for the number.

use crate::iptables::ext::*;
use rampart_model::matches::owner::{IdRange, Owner};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "owner",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["uid-owner"], Arity::One),
        OptSpec::new(&["gid-owner"], Arity::One),
        OptSpec::new(&["socket-exists"], Arity::None),
        OptSpec::new(&["suppl-groups"], Arity::None),
    ],
    build,
};

/// The kernel keeps `u32` ids; `-1` (4294967295) is "no id" and refused.
const MAX_ID: u64 = u32::MAX as u64 - 1;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Owner::default();
    for o in opts {
        match o.name {
            "uid-owner" => m.uid = Some(Neg::inverted(parse_ids(&o.arg(), "user")?, o.invert)),
            "gid-owner" => m.gid = Some(Neg::inverted(parse_ids(&o.arg(), "group")?, o.invert)),
            "socket-exists" => m.socket_exists = Some(!o.invert),
            "suppl-groups" => {
                o.check_invert(false)?;
                if m.gid.is_none() {
                    return Err(RuleError::new(
                        o.span,
                        "`--suppl-groups` needs `--gid-owner` before it",
                    )
                    .with_help("write `--gid-owner GID --suppl-groups`"));
                }
                m.suppl_groups = true;
            }
            _ => {}
        }
    }
    if m.uid.is_none() && m.gid.is_none() && m.socket_exists.is_none() {
        return Err(cx
            .error("`-m owner` needs `--uid-owner`, `--gid-owner` or `--socket-exists`")
            .with_help("for example `-m owner --uid-owner 1000`"));
    }
    // Only locally generated packets have an owning socket.
    cx.require_hook(&[Hook::Output, Hook::Postrouting])?;
    Ok(Match::Owner(m))
}

/// `ID`, `ID-ID` or `ID:ID`; `root` stands for 0.
fn parse_ids(tok: &Token, what: &str) -> Result<IdRange, RuleError> {
    let text = tok.text.as_str();
    let one = |s: &str| -> Result<u32, RuleError> {
        if s == "root" {
            return Ok(0);
        }
        if !s.is_empty() && !s.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(RuleError::new(
                tok.span,
                format!("{what} name `{s}` cannot be resolved"),
            )
            .with_help(format!(
                "give the numeric {what} id (see `id -{}`); names other than `root` differ between hosts",
                if what == "user" { "u" } else { "g" }
            )));
        }
        parse_uint(&Token::new(s, tok.span), &format!("{what} id"), 0, MAX_ID).map(|v| v as u32)
    };
    let range = match text.split_once(['-', ':']) {
        None => IdRange::single(one(text)?),
        Some((a, b)) => IdRange {
            first: one(a)?,
            last: one(b)?,
        },
    };
    if range.first > range.last {
        return Err(RuleError::new(
            tok.span,
            format!(
                "invalid {what} id range `{text}`: {} is greater than {}",
                range.first, range.last
            ),
        ));
    }
    Ok(range)
}

pub(crate) fn save(m: &Owner, _: &SaveCtx, out: &mut String) {
    if let Some(exists) = m.socket_exists {
        save_opt(out, !exists, "socket-exists");
    }
    if let Some(u) = &m.uid {
        save_opt_val(out, u.invert, "uid-owner", u.value);
    }
    if let Some(g) = &m.gid {
        save_opt_val(out, g.invert, "gid-owner", g.value);
    }
    if m.suppl_groups {
        save_opt(out, false, "suppl-groups");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    fn ids(s: &str) -> Result<IdRange, RuleError> {
        parse_ids(&Token::new(s, Span::new(0, s.len())), "user")
    }

    #[test]
    fn ranges_and_root() {
        assert_eq!(ids("root").expect("must parse"), IdRange::single(0));
        assert_eq!(ids("3:5").expect("must parse").to_string(), "3-5");
        assert_eq!(ids("0x10").expect("must parse").to_string(), "16");
        assert_eq!(ids("3-3").expect("must parse").to_string(), "3");
        assert_eq!(ids("0-4294967294").expect("must parse").last, 4294967294);
    }

    #[test]
    fn bad_ids_fail() {
        for s in [
            "",
            "3-",
            "-3",
            "1-2-3",
            "5-3",
            "4294967295",
            "nobody",
            "root-5x",
        ] {
            assert!(ids(s).is_err(), "{s}");
        }
        let e = ids("nobody").expect_err("must fail");
        assert!(e.help.unwrap_or_default().contains("numeric"));
    }
}

#[cfg(test)]
mod rule_tests {
    use super::super::policy::tests::roundtrip;
    use super::*;

    #[test]
    fn save_order_and_suppl_groups() {
        let v4 = |l: &str| roundtrip(Family::Ipv4, l);
        assert_eq!(
            v4("-A OUTPUT -m owner --gid-owner 5 --suppl-groups --uid-owner 3 ! --socket-exists")
                .as_deref(),
            Ok(" ! --socket-exists --uid-owner 3 --gid-owner 5 --suppl-groups")
        );
        assert!(v4("-A OUTPUT -m owner --suppl-groups --gid-owner 5").is_err());
        assert!(v4("-A OUTPUT -m owner --gid-owner 5 ! --suppl-groups").is_err());
        assert!(v4("-A INPUT -m owner --uid-owner 0").is_err());
        assert!(v4("-A OUTPUT -m owner").is_err());
    }
}
