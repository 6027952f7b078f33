//! `-j NFLOG`: `--nflog-group`, `--nflog-prefix`, `--nflog-size`,
//! `--nflog-range` (legacy) and `--nflog-threshold`.
//!
//! iptables-save prints the prefix, the group (when not 0), the size (or
//! the legacy range when not 0) and the threshold (when not 0, iptables'
//! default), in that order. A prefix longer than 127 bytes is cut, as
//! iptables-nft does.

use crate::iptables::ext::*;
use rampart_model::targets::nflog::{Nflog, NflogCopy};

pub(crate) static EXT: TargetExt = TargetExt {
    name: "NFLOG",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["nflog-group"], Arity::One),
        OptSpec::new(&["nflog-prefix"], Arity::One),
        OptSpec::new(&["nflog-range"], Arity::One),
        OptSpec::new(&["nflog-size"], Arity::One),
        OptSpec::new(&["nflog-threshold"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], _: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    let mut n = Nflog::default();
    let mut copy_opt: Option<&OptOcc> = None;
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "nflog-group" => n.group = parse_uint(&o.arg(), "NFLOG group", 0, 65535)? as u16,
            "nflog-prefix" => {
                n.prefix = Some(super::log::parse_prefix(&o.arg(), Nflog::MAX_PREFIX)?)
            }
            "nflog-size" | "nflog-range" => {
                if let Some(prev) = copy_opt {
                    return Err(RuleError::new(
                        o.span,
                        format!("`--{}` cannot be used with `--{}`", o.name, prev.name),
                    ));
                }
                copy_opt = Some(o);
                let len = parse_u32(&o.arg(), "length")?;
                n.copy = if o.name == "nflog-size" {
                    Some(NflogCopy::Size(len))
                } else {
                    // The kernel never used the range; 0 means "not set".
                    (len != 0).then_some(NflogCopy::Range(len))
                };
            }
            "nflog-threshold" => {
                n.threshold = parse_uint(&o.arg(), "NFLOG threshold", 0, 65535)? as u16
            }
            _ => {}
        }
    }
    Ok(Target::Nflog(n))
}

pub(crate) fn save(n: &Nflog, _: &SaveCtx, out: &mut String) {
    if let Some(p) = n.prefix.as_deref().filter(|p| !p.is_empty()) {
        save_opt(out, false, "nflog-prefix");
        save_string(out, p);
    }
    if n.group != 0 {
        save_opt_val(out, false, "nflog-group", n.group);
    }
    match n.copy {
        Some(NflogCopy::Size(s)) => save_opt_val(out, false, "nflog-size", s),
        Some(NflogCopy::Range(r)) if r != 0 => save_opt_val(out, false, "nflog-range", r),
        _ => {}
    }
    if n.threshold != Nflog::DEFAULT_THRESHOLD {
        save_opt_val(out, false, "nflog-threshold", n.threshold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_print_nothing_and_size_zero_prints() {
        let cx = SaveCtx {
            family: Family::Ipv4,
        };
        let mut out = String::new();
        save(&Nflog::default(), &cx, &mut out);
        assert_eq!(out, "");
        let n = Nflog {
            group: 3,
            copy: Some(NflogCopy::Size(0)),
            threshold: 5,
            prefix: Some("a.b".into()),
        };
        save(&n, &cx, &mut out);
        assert_eq!(
            out,
            " --nflog-prefix \"a.b\" --nflog-group 3 --nflog-size 0 --nflog-threshold 5"
        );
    }

    /// Checked against iptables 1.8.9 (nf_tables) in a network namespace:
    /// `Some(printed)` when it accepts the line, `None` when it refuses it.
    #[test]
    fn rules_as_iptables_handles_them() {
        let v4 = Family::Ipv4;
        let cases: &[(Family, &str, &str, Option<&str>)] = &[
            (v4, "filter", "-A INPUT -j NFLOG --nflog-threshold 0", Some("-j NFLOG")),
            (v4, "filter", "-A INPUT -j NFLOG --nflog-threshold 1", Some("-j NFLOG --nflog-threshold 1")),
            (v4, "filter", "-A INPUT -j NFLOG --nflog-group 0x10 --nflog-size 0x10", Some("-j NFLOG --nflog-group 16 --nflog-size 16")),
            (v4, "filter", "-A INPUT -j NFLOG --nflog-prefix \"\"", None),
            (v4, "mangle", "-A PREROUTING -j NFLOG", Some("-j NFLOG")),
            (v4, "filter", "-A INPUT -j NFLOG --nflog-prefix xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", Some("-j NFLOG --nflog-prefix xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")),
        ];
        crate::iptables::testutil::check_cases(cases);
    }
}
