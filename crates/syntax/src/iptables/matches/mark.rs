//! `-m mark`: `[!] --mark VALUE[/MASK]`.

use crate::iptables::ext::*;
use rampart_model::matches::mark::{Mark, MarkMask};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "mark",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["mark"], Arity::One)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    let mark = parse_mark_opt(opts, cx, "mark", "mark")?;
    Ok(Match::Mark(Mark { mark }))
}

/// The one required `[!] --NAME VALUE[/MASK]` option of `mark`, `connmark`
/// and `realm`.
pub(crate) fn parse_mark_opt(
    opts: &[OptOcc],
    cx: &RuleCtx,
    name: &str,
    what: &str,
) -> Result<Neg<MarkMask>, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, name) else {
        return Err(cx
            .error(format!("`-m {}` needs `--{name}`", cx.name))
            .with_help(format!("for example `-m {} --{name} 0x1/0xff`", cx.name)));
    };
    let (value, mask) = parse_value_mask(&o.arg(), what)?;
    Ok(Neg::inverted(MarkMask { value, mask }, o.invert))
}

pub(crate) fn save(m: &Mark, _: &SaveCtx, out: &mut String) {
    save_opt(out, m.mark.invert, "mark");
    out.push(' ');
    save_value_mask(out, m.mark.value.value, m.mark.value.mask);
}
