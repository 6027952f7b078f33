//! `-m rpfilter`: `--loose`, `--validmark`, `--accept-local`, `--invert`
//! (raw and mangle PREROUTING only).

use crate::iptables::ext::*;
use rampart_model::matches::rpfilter::Rpfilter;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "rpfilter",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["loose"], Arity::None),
        OptSpec::new(&["validmark"], Arity::None),
        OptSpec::new(&["accept-local"], Arity::None),
        OptSpec::new(&["invert"], Arity::None),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Rpfilter::default();
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "loose" => m.loose = true,
            "validmark" => m.validmark = true,
            "accept-local" => m.accept_local = true,
            "invert" => m.invert = true,
            _ => {}
        }
    }
    cx.require_table(&[TableKind::Raw, TableKind::Mangle])?;
    cx.require_hook(&[Hook::Prerouting])?;
    Ok(Match::Rpfilter(m))
}

pub(crate) fn save(m: &Rpfilter, _: &SaveCtx, out: &mut String) {
    for (on, name) in [
        (m.loose, "loose"),
        (m.validmark, "validmark"),
        (m.accept_local, "accept-local"),
        (m.invert, "invert"),
    ] {
        if on {
            save_opt(out, false, name);
        }
    }
}
