//! `-j SECMARK --selctx CONTEXT` (mangle or security table).

use crate::iptables::ext::*;
use rampart_model::targets::secmark::Secmark;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "SECMARK",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["selctx"], Arity::One)],
    build,
};

/// Longest context (`char secctx[256]`).
const SELCTX_MAX: usize = 255;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    cx.require_table(&[TableKind::Mangle, TableKind::Security])?;
    at_most_once(opts)?;
    let Some(o) = find(opts, "selctx") else {
        return Err(cx
            .error("`SECMARK` needs --selctx CONTEXT")
            .with_help("e.g. `--selctx system_u:object_r:http_packet_t:s0`"));
    };
    o.check_invert(false)?;
    let tok = o.arg();
    if tok.text.is_empty() || tok.text.len() > SELCTX_MAX {
        return Err(RuleError::new(
            tok.span,
            format!("a security context has 1 to {SELCTX_MAX} bytes"),
        ));
    }
    Ok(Target::Secmark(Secmark {
        selctx: tok.text.clone(),
    }))
}

pub(crate) fn save(s: &Secmark, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, false, "selctx", &s.selctx);
}
