//! `-m tcpmss`: `[!] --mss MIN[:MAX]` (needs `-p tcp`).

use super::length::parse_u16_range;
use crate::iptables::ext::*;
use rampart_model::matches::tcpmss::Tcpmss;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "tcpmss",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["mss"], Arity::One)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    cx.require_proto(&[Protocol::TCP])?;
    let Some(o) = find(opts, "mss") else {
        return Err(cx
            .error("`-m tcpmss` needs `--mss`")
            .with_help("for example `-m tcpmss --mss 1400:1536`"));
    };
    let mss = Neg::inverted(parse_u16_range(&o.arg(), "MSS")?, o.invert);
    Ok(Match::Tcpmss(Tcpmss { mss }))
}

pub(crate) fn save(m: &Tcpmss, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, m.mss.invert, "mss", m.mss.value);
}
