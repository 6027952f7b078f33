//! `-m ttl` (IPv4): `[!] --ttl-eq N`, `--ttl-lt N`, `--ttl-gt N`. The same
//! code serves `-m hl` (IPv6) with `hl` in place of `ttl`.

use crate::iptables::ext::*;
use rampart_model::matches::ttl::{CmpOp, Ttl};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "ttl",
    aliases: &[],
    family: Some(Family::Ipv4),
    options: &[
        OptSpec::new(&["ttl-eq"], Arity::One),
        OptSpec::new(&["ttl-lt"], Arity::One),
        OptSpec::new(&["ttl-gt"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    let (op, value) = parse_cmp(opts, cx, "ttl")?;
    Ok(Match::Ttl(Ttl { op, value }))
}

/// Exactly one of `--P-eq`, `--P-lt`, `--P-gt` (`P` is `ttl` or `hl`); only
/// `--P-eq` may be inverted.
pub(crate) fn parse_cmp(
    opts: &[OptOcc],
    cx: &RuleCtx,
    prefix: &str,
) -> Result<(CmpOp, u8), RuleError> {
    let mut found: Option<&OptOcc> = None;
    for o in opts {
        if let Some(prev) = found {
            return Err(RuleError::new(
                o.span,
                format!(
                    "`--{}` cannot be used together with `--{}`",
                    o.name, prev.name
                ),
            )
            .with_help(format!(
                "give one of --{prefix}-eq, --{prefix}-lt, --{prefix}-gt"
            )));
        }
        found = Some(o);
    }
    let Some(o) = found else {
        return Err(cx
            .error(format!(
                "`-m {}` needs one of `--{prefix}-eq`, `--{prefix}-lt`, `--{prefix}-gt`",
                cx.name
            ))
            .with_help(format!("for example `-m {} --{prefix}-eq 64`", cx.name)));
    };
    let suffix = o.name.rsplit('-').next().unwrap_or_default();
    let op = match (suffix, o.invert) {
        ("eq", false) => CmpOp::Eq,
        ("eq", true) => CmpOp::Ne,
        ("lt", false) => CmpOp::Lt,
        ("gt", false) => CmpOp::Gt,
        _ => {
            return Err(RuleError::new(
                o.span,
                format!("`--{}` cannot be inverted with `!`", o.name),
            )
            .with_help(format!(
                "use `--{prefix}-{}` with the bound moved by one instead",
                if suffix == "lt" { "gt" } else { "lt" }
            )))
        }
    };
    let what = if prefix == "ttl" { "TTL" } else { "hop limit" };
    let value = parse_uint(&o.arg(), what, 0, 255)? as u8;
    Ok((op, value))
}

/// Prints ` [!] --P-OP N`.
pub(crate) fn save_cmp(out: &mut String, prefix: &str, op: CmpOp, value: u8) {
    let (invert, suffix) = match op {
        CmpOp::Eq => (false, "eq"),
        CmpOp::Ne => (true, "eq"),
        CmpOp::Lt => (false, "lt"),
        CmpOp::Gt => (false, "gt"),
    };
    save_opt_val(out, invert, &format!("{prefix}-{suffix}"), value);
}

pub(crate) fn save(m: &Ttl, _: &SaveCtx, out: &mut String) {
    save_cmp(out, "ttl", m.op, m.value);
}
