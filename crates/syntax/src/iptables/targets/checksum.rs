//! `-j CHECKSUM --checksum-fill` (mangle table).

use crate::iptables::ext::*;
use rampart_model::targets::checksum::Checksum;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "CHECKSUM",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["checksum-fill"], Arity::None)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    cx.require_table(&[TableKind::Mangle])?;
    at_most_once(opts)?;
    for o in opts {
        o.check_invert(false)?;
    }
    if find(opts, "checksum-fill").is_none() {
        return Err(cx
            .error("`CHECKSUM` needs --checksum-fill")
            .with_help("write `-j CHECKSUM --checksum-fill`"));
    }
    Ok(Target::Checksum(Checksum {}))
}

pub(crate) fn save(_: &Checksum, _: &SaveCtx, out: &mut String) {
    save_opt(out, false, "checksum-fill");
}
