//! `-m connmark`: `[!] --mark VALUE[/MASK]` on the connection's mark.

use super::mark::parse_mark_opt;
use crate::iptables::ext::*;
use rampart_model::matches::connmark::Connmark;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "connmark",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["mark"], Arity::One)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    let mark = parse_mark_opt(opts, cx, "mark", "connection mark")?;
    Ok(Match::Connmark(Connmark { mark }))
}

pub(crate) fn save(m: &Connmark, _: &SaveCtx, out: &mut String) {
    save_opt(out, m.mark.invert, "mark");
    out.push(' ');
    save_value_mask(out, m.mark.value.value, m.mark.value.mask);
}
