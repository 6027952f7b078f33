//! `-j CONNSECMARK --save|--restore` (mangle or security table).

use crate::iptables::ext::*;
use rampart_model::targets::connsecmark::Connsecmark;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "CONNSECMARK",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["save"], Arity::None),
        OptSpec::new(&["restore"], Arity::None),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    cx.require_table(&[TableKind::Mangle, TableKind::Security])?;
    let mut mode: Option<&OptOcc> = None;
    for o in opts {
        o.check_invert(false)?;
        if let Some(first) = mode.replace(o) {
            return Err(RuleError::new(
                o.span,
                format!("`--{}` cannot be combined with `--{}`", o.name, first.name),
            ));
        }
    }
    match mode.map(|o| o.name) {
        Some("save") => Ok(Target::Connsecmark(Connsecmark::Save)),
        Some(_) => Ok(Target::Connsecmark(Connsecmark::Restore)),
        None => Err(cx.error("`CONNSECMARK` needs --save or --restore")),
    }
}

pub(crate) fn save(c: &Connsecmark, _: &SaveCtx, out: &mut String) {
    match c {
        Connsecmark::Save => save_opt(out, false, "save"),
        Connsecmark::Restore => save_opt(out, false, "restore"),
    }
}
