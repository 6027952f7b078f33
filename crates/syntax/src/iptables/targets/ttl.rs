//! `-j TTL` (IPv4, mangle table): `--ttl-set N`, `--ttl-inc N`,
//! `--ttl-dec N`. `HL` (IPv6) shares the parser.

use crate::iptables::ext::*;
use rampart_model::targets::ttl::Ttl;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TTL",
    aliases: &[],
    family: Some(Family::Ipv4),
    options: &[
        OptSpec::new(&["ttl-set"], Arity::One),
        OptSpec::new(&["ttl-dec"], Arity::One),
        OptSpec::new(&["ttl-inc"], Arity::One),
    ],
    build: |opts, cx| {
        Ok(Target::Ttl(match parse_op(opts, cx, "TTL")? {
            Op::Set(n) => Ttl::Set(n),
            Op::Inc(n) => Ttl::Inc(n),
            Op::Dec(n) => Ttl::Dec(n),
        }))
    },
};

/// The operation of TTL or HL, whose options are `--PFX-set`, `--PFX-inc`
/// and `--PFX-dec`.
pub(super) enum Op {
    Set(u8),
    Inc(u8),
    Dec(u8),
}

pub(super) fn parse_op(opts: &[OptOcc], cx: &RuleCtx, what: &str) -> Result<Op, RuleError> {
    cx.require_table(&[TableKind::Mangle])?;
    let mut op: Option<(&OptOcc, Op)> = None;
    for o in opts {
        o.check_invert(false)?;
        let tok = o.arg();
        let n = parse_uint(&tok, what, 0, 255)? as u8;
        let v = if o.name.ends_with("-set") {
            Op::Set(n)
        } else {
            if n == 0 {
                return Err(RuleError::new(
                    tok.span,
                    format!("changing the {what} by 0 makes no sense"),
                )
                .with_help("give a value 1-255"));
            }
            if o.name.ends_with("-inc") {
                Op::Inc(n)
            } else {
                Op::Dec(n)
            }
        };
        if let Some((first, _)) = op.replace((o, v)) {
            return Err(RuleError::new(
                o.span,
                format!("`--{}` cannot be combined with `--{}`", o.name, first.name),
            ));
        }
    }
    let pfx = what.to_ascii_lowercase();
    op.map(|(_, v)| v).ok_or_else(|| {
        cx.error(format!(
            "`{what}` needs --{pfx}-set, --{pfx}-inc or --{pfx}-dec"
        ))
    })
}

pub(crate) fn save(t: &Ttl, _: &SaveCtx, out: &mut String) {
    match *t {
        Ttl::Set(n) => save_opt_val(out, false, "ttl-set", n),
        Ttl::Dec(n) => save_opt_val(out, false, "ttl-dec", n),
        Ttl::Inc(n) => save_opt_val(out, false, "ttl-inc", n),
    }
}
