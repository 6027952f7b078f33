//! `-m nfacct --nfacct-name NAME`: counts into a named nfacct object.
//!
//! Whether the object exists is kernel state (iptables fails when it does
//! not); rampart does not check it here.

use crate::iptables::ext::*;
use rampart_model::matches::nfacct::Nfacct;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "nfacct",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["nfacct-name"], Arity::One)],
    build,
};

/// `NFACCT_NAME_MAX - 1`.
const MAX_NAME: usize = 31;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, "nfacct-name") else {
        return Err(cx.error("`-m nfacct` needs `--nfacct-name NAME`"));
    };
    o.check_invert(false)?;
    let t = o.arg();
    if t.text.is_empty() || t.text.len() > MAX_NAME || t.text.contains('\n') {
        return Err(RuleError::new(
            t.span,
            format!("an nfacct name must be 1 to {MAX_NAME} bytes without newlines"),
        ));
    }
    Ok(Match::Nfacct(Nfacct { name: t.text }))
}

pub(crate) fn save(m: &Nfacct, _: &SaveCtx, out: &mut String) {
    // iptables 1.8.9 prints two blanks here (" --nfacct-name " followed by
    // xtables_save_string's own blank).
    out.push_str(" --nfacct-name ");
    save_string(out, &m.name);
}
