//! `-j DSCP` (mangle table): `--set-dscp N` or `--set-dscp-class NAME`,
//! printed as `--set-dscp 0xNN`.

use crate::iptables::ext::*;
use rampart_model::targets::dscp::Dscp;
use std::fmt::Write;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "DSCP",
    aliases: &[],
    family: None,
    supported: true,
    options: &[
        OptSpec::new(&["set-dscp"], Arity::One),
        OptSpec::new(&["set-dscp-class"], Arity::One),
    ],
    build,
};

/// DiffServ class names and their code points.
const CLASSES: [(&str, u8); 22] = [
    ("CS0", 0x00),
    ("CS1", 0x08),
    ("CS2", 0x10),
    ("CS3", 0x18),
    ("CS4", 0x20),
    ("CS5", 0x28),
    ("CS6", 0x30),
    ("CS7", 0x38),
    ("BE", 0x00),
    ("AF11", 0x0a),
    ("AF12", 0x0c),
    ("AF13", 0x0e),
    ("AF21", 0x12),
    ("AF22", 0x14),
    ("AF23", 0x16),
    ("AF31", 0x1a),
    ("AF32", 0x1c),
    ("AF33", 0x1e),
    ("AF41", 0x22),
    ("AF42", 0x24),
    ("AF43", 0x26),
    ("EF", 0x2e),
];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    cx.require_table(&[TableKind::Mangle])?;
    let mut dscp: Option<(&OptOcc, u8)> = None;
    for o in opts {
        o.check_invert(false)?;
        let tok = o.arg();
        let v = if o.name == "set-dscp" {
            parse_uint(&tok, "DSCP", 0, 0x3f)? as u8
        } else {
            CLASSES
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&tok.text))
                .map(|&(_, v)| v)
                .ok_or_else(|| {
                    RuleError::new(tok.span, format!("unknown DSCP class `{}`", tok.text))
                        .with_help("classes are CS0-CS7, BE, AF11-AF43 and EF")
                })?
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
