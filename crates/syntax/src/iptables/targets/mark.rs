//! `-j MARK`: `--set-xmark`, `--set-mark`, `--and-mark`, `--or-mark`,
//! `--xor-mark`.
//!
//! Every option reduces to one `(value, mask)` pair, which iptables-save
//! prints as `--set-xmark 0xVALUE/0xMASK` (the mask always shown).

use crate::iptables::ext::*;
use rampart_model::targets::mark::Mark;
use std::fmt::Write;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "MARK",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["set-xmark"], Arity::One),
        OptSpec::new(&["set-mark"], Arity::One),
        OptSpec::new(&["and-mark"], Arity::One),
        OptSpec::new(&["or-mark"], Arity::One),
        OptSpec::new(&["xor-mark"], Arity::One),
    ],
    build,
};

/// The mark-changing options MARK and CONNMARK share.
pub(super) const MARK_OPS: [&str; 5] = ["set-xmark", "set-mark", "and-mark", "or-mark", "xor-mark"];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    let mut mark = None;
    for o in opts {
        o.check_invert(false)?;
        if let Some(first) = mark.replace((o, mark_op(o)?)) {
            return Err(exclusive(o, first.0));
        }
    }
    match mark {
        Some((_, (value, mask))) => Ok(Target::Mark(Mark { value, mask })),
        None => Err(cx
            .error("`MARK` needs one of --set-xmark, --set-mark, --and-mark, --or-mark, --xor-mark")
            .with_help("e.g. `-j MARK --set-mark 0x1`")),
    }
}

/// `(value, mask)` of one of [`MARK_OPS`], such that the new mark is
/// `(old & !mask) ^ value`, as the kernel stores it.
pub(super) fn mark_op(o: &OptOcc) -> Result<(u32, u32), RuleError> {
    let tok = o.arg();
    Ok(match o.name {
        "set-xmark" => parse_value_mask(&tok, "mark")?,
        "set-mark" => {
            let (v, m) = parse_value_mask(&tok, "mark")?;
            (v, v | m)
        }
        "and-mark" => (0, !parse_u32(&tok, "mark bits")?),
        "or-mark" => {
            let v = parse_u32(&tok, "mark bits")?;
            (v, v)
        }
        _ => (parse_u32(&tok, "mark bits")?, 0),
    })
}

/// Error for a second operation option where only one is allowed.
pub(super) fn exclusive(second: &OptOcc, first: &OptOcc) -> RuleError {
    RuleError::new(
        second.span,
        format!(
            "`--{}` cannot be combined with `--{}`",
            second.name, first.name
        ),
    )
    .with_help("give only one operation per rule")
}

pub(crate) fn save(m: &Mark, _: &SaveCtx, out: &mut String) {
    let _ = write!(out, " --set-xmark 0x{:x}/0x{:x}", m.value, m.mask);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;

    use crate::iptables::testutil::occ;

    #[test]
    fn ops_reduce_like_the_kernel() {
        assert_eq!(mark_op(&occ("set-mark", "0x1/0x3")).unwrap(), (1, 3));
        assert_eq!(mark_op(&occ("set-mark", "0x5")).unwrap(), (5, u32::MAX));
        assert_eq!(mark_op(&occ("and-mark", "0x12")).unwrap(), (0, !0x12));
        assert_eq!(mark_op(&occ("or-mark", "0x12")).unwrap(), (0x12, 0x12));
        assert_eq!(mark_op(&occ("xor-mark", "0x12")).unwrap(), (0x12, 0));
        assert!(mark_op(&occ("set-xmark", "4294967296")).is_err());
        assert!(mark_op(&occ("set-xmark", "-1")).is_err());
    }

    #[test]
    fn save_always_prints_the_mask() {
        let mut s = String::new();
        save(
            &Mark {
                value: 0,
                mask: u32::MAX,
            },
            &SaveCtx {
                family: Family::Ipv4,
            },
            &mut s,
        );
        assert_eq!(s, " --set-xmark 0x0/0xffffffff");
    }
}
