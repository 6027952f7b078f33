//! `-j DSCP` (mangle table): `--set-dscp N` or `--set-dscp-class NAME`,
//! printed as `--set-dscp 0xNN`.

use crate::iptables::ext::*;
use rampart_model::targets::dscp::Dscp;
use std::fmt::Write;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "DSCP",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["set-dscp"], Arity::One),
        OptSpec::new(&["set-dscp-class"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    cx.require_table(&[TableKind::Mangle])?;
    let mut dscp: Option<(&OptOcc, u8)> = None;
    for o in opts {
        o.check_invert(false)?;
        let tok = o.arg();
        let v = if o.name == "set-dscp" {
            parse_uint(&tok, "DSCP", 0, 0x3f)? as u8
        } else {
            crate::iptables::matches::dscp::parse_class(&tok)?
        };
        if let Some((first, _)) = dscp.replace((o, v)) {
            return Err(RuleError::new(
                o.span,
                format!("`--{}` cannot be combined with `--{}`", o.name, first.name),
            ));
        }
    }
    dscp.map(|(_, v)| Target::Dscp(Dscp { dscp: v }))
        .ok_or_else(|| cx.error("`DSCP` needs --set-dscp or --set-dscp-class"))
}

pub(crate) fn save(d: &Dscp, _: &SaveCtx, out: &mut String) {
    let _ = write!(out, " --set-dscp 0x{:02x}", d.dscp);
}
