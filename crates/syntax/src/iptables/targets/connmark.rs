//! `-j CONNMARK`: `--set-xmark` and the other MARK-style operations on the
//! connection mark, `--save-mark`/`--restore-mark` with `--nfmask`,
//! `--ctmask` or `--mask`, and the revision-2 `--left-shift-mark` /
//! `--right-shift-mark`.
//!
//! iptables-save prints the masks of save/restore even when they are the
//! default `0xffffffff`.

use super::mark::{exclusive, mark_op, MARK_OPS};
use crate::iptables::ext::*;
use rampart_model::targets::connmark::{Connmark, ConnmarkMode, Shift, ShiftDir};
use std::fmt::Write;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "CONNMARK",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["set-xmark"], Arity::One),
        OptSpec::new(&["set-mark"], Arity::One),
        OptSpec::new(&["and-mark"], Arity::One),
        OptSpec::new(&["or-mark"], Arity::One),
        OptSpec::new(&["xor-mark"], Arity::One),
        OptSpec::new(&["save-mark"], Arity::None),
        OptSpec::new(&["restore-mark"], Arity::None),
        OptSpec::new(&["left-shift-mark"], Arity::One),
        OptSpec::new(&["right-shift-mark"], Arity::One),
        OptSpec::new(&["ctmask"], Arity::One),
        OptSpec::new(&["nfmask"], Arity::One),
        OptSpec::new(&["mask"], Arity::One),
    ],
    build,
};

/// The operation before its masks are known.
enum Mode {
    Set(u32),
    Save,
    Restore,
}

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    let mut op: Option<&OptOcc> = None;
    let mut mode = None;
    let mut shift = None;
    let (mut ctmask, mut nfmask) = (u32::MAX, u32::MAX);
    let mut mask_opt: Option<&OptOcc> = None;
    let mut shift_opt: Option<&OptOcc> = None;
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            n if MARK_OPS.contains(&n) || n == "save-mark" || n == "restore-mark" => {
                if let Some(first) = op.replace(o) {
                    return Err(exclusive(o, first));
                }
                mode = Some(match n {
                    "save-mark" => Mode::Save,
                    "restore-mark" => Mode::Restore,
                    _ => {
                        // The operation writes the ctmask; a later
                        // `--ctmask`/`--mask` overwrites it, as in iptables.
                        let (value, mask) = mark_op(o)?;
                        ctmask = mask;
                        Mode::Set(value)
                    }
                });
            }
            "left-shift-mark" | "right-shift-mark" => {
                if let Some(first) = shift_opt.replace(o) {
                    return Err(exclusive(o, first));
                }
                let bits = parse_uint(&o.arg(), "shift", 0, 32)? as u8;
                let dir = if o.name == "left-shift-mark" {
                    ShiftDir::Left
                } else {
                    ShiftDir::Right
                };
                shift = (bits != 0).then_some(Shift { dir, bits });
            }
            _ => {
                // ctmask, nfmask, mask
                if let Some(m) = mask_opt {
                    if (m.name == "mask") != (o.name == "mask") {
                        return Err(exclusive(o, m));
                    }
                }
                mask_opt = Some(o);
                let v = parse_u32(&o.arg(), "mask")?;
                match o.name {
                    "ctmask" => ctmask = v,
                    "nfmask" => nfmask = v,
                    _ => (ctmask, nfmask) = (v, v),
                }
            }
        }
    }
    let Some(mode) = mode else {
        return Err(cx
            .error("`CONNMARK` needs an operation")
            .with_help("use --set-xmark, --set-mark, --save-mark or --restore-mark"));
    };
    let mode = match mode {
        Mode::Save => ConnmarkMode::Save { nfmask, ctmask },
        Mode::Restore => ConnmarkMode::Restore { nfmask, ctmask },
        Mode::Set(value) => ConnmarkMode::Set {
            value,
            mask: ctmask,
        },
    };
    Ok(Target::Connmark(Connmark { mode, shift }))
}

pub(crate) fn save(c: &Connmark, _: &SaveCtx, out: &mut String) {
    let _ = match c.mode {
        ConnmarkMode::Set { value, mask } => write!(out, " --set-xmark 0x{value:x}/0x{mask:x}"),
        ConnmarkMode::Save { nfmask, ctmask } => write!(
            out,
            " --save-mark --nfmask 0x{nfmask:x} --ctmask 0x{ctmask:x}"
        ),
        ConnmarkMode::Restore { nfmask, ctmask } => write!(
            out,
            " --restore-mark --nfmask 0x{nfmask:x} --ctmask 0x{ctmask:x}"
        ),
    };
    if let Some(s) = c.shift {
        let name = match s.dir {
            ShiftDir::Left => "left-shift-mark",
            ShiftDir::Right => "right-shift-mark",
        };
        let _ = write!(out, " --{name} {}", s.bits);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    use crate::diag::Span;

    fn occ(name: &'static str, arg: Option<&str>) -> OptOcc {
        OptOcc {
            name,
            invert: false,
            args: arg
                .map(|a| vec![Token::new(a, Span::new(0, 0))])
                .unwrap_or_default(),
            span: Span::new(0, 0),
        }
    }

    fn cx() -> RuleCtx<'static> {
        RuleCtx {
            family: Family::Ipv4,
            table: TableKind::Mangle,
            chain: "PREROUTING",
            hook: Some(Hook::Prerouting),
            protocol: None,
            name: "CONNMARK",
            name_span: Span::new(0, 0),
        }
    }

    fn saved(opts: &[OptOcc]) -> Result<String, RuleError> {
        let Target::Connmark(c) = build(opts, &cx())? else {
            unreachable!("CONNMARK builds a Connmark")
        };
        let mut s = String::new();
        save(
            &c,
            &SaveCtx {
                family: Family::Ipv4,
            },
            &mut s,
        );
        Ok(s)
    }

    #[test]
    fn mask_sets_both_masks_whatever_the_order() {
        let s = saved(&[occ("mask", Some("0xff")), occ("restore-mark", None)]).unwrap();
        assert_eq!(s, " --restore-mark --nfmask 0xff --ctmask 0xff");
    }

    #[test]
    fn mask_conflicts_with_ctmask_and_ops_with_each_other() {
        assert!(saved(&[
            occ("save-mark", None),
            occ("mask", Some("1")),
            occ("ctmask", Some("1"))
        ])
        .is_err());
        // As in iptables, a later --ctmask replaces the mask of --set-mark.
        let s = saved(&[occ("set-mark", Some("1")), occ("ctmask", Some("3"))]).unwrap();
        assert_eq!(s, " --set-xmark 0x1/0x3");
        assert!(saved(&[occ("set-mark", Some("1")), occ("save-mark", None)]).is_err());
    }

    #[test]
    fn shift_is_printed_after_the_operation() {
        let s = saved(&[
            occ("right-shift-mark", Some("8")),
            occ("set-mark", Some("0x10/0xff")),
        ])
        .unwrap();
        assert_eq!(s, " --set-xmark 0x10/0xff --right-shift-mark 8");
        let s = saved(&[occ("save-mark", None), occ("left-shift-mark", Some("0"))]).unwrap();
        assert_eq!(s, " --save-mark --nfmask 0xffffffff --ctmask 0xffffffff");
        assert!(saved(&[occ("save-mark", None), occ("left-shift-mark", Some("33"))]).is_err());
    }
}
