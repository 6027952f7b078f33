//! `-m quota [!] --quota BYTES`.

use crate::iptables::ext::*;
use rampart_model::matches::quota::Quota;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "quota",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["quota"], Arity::One)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, "quota") else {
        return Err(cx
            .error("`-m quota` needs `--quota BYTES`")
            .with_help("e.g. `-m quota --quota 1000000`"));
    };
    let v = parse_uint(&o.arg(), "quota", 0, u64::MAX)?;
    Ok(Match::Quota(Quota {
        quota: Neg::inverted(v, o.invert),
    }))
}

pub(crate) fn save(m: &Quota, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, m.quota.invert, "quota", m.quota.value);
}
