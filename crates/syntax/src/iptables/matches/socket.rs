//! `-m socket`: `--transparent`, `--nowildcard`, `--restore-skmark`
//! (PREROUTING and INPUT only).

use crate::iptables::ext::*;
use rampart_model::matches::socket::Socket;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "socket",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["transparent"], Arity::None),
        OptSpec::new(&["nowildcard"], Arity::None),
        OptSpec::new(&["restore-skmark"], Arity::None),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Socket::default();
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "transparent" => m.transparent = true,
            "nowildcard" => m.nowildcard = true,
            "restore-skmark" => m.restore_skmark = true,
            _ => {}
        }
    }
    // The socket lookup is done for packets on their way in.
    cx.require_hook(&[Hook::Prerouting, Hook::Input])?;
    Ok(Match::Socket(m))
}

pub(crate) fn save(m: &Socket, _: &SaveCtx, out: &mut String) {
    for (on, name) in [
        (m.transparent, "transparent"),
        (m.nowildcard, "nowildcard"),
        (m.restore_skmark, "restore-skmark"),
    ] {
        if on {
            save_opt(out, false, name);
        }
    }
}
