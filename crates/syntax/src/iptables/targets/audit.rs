//! `-j AUDIT --type accept|drop|reject` (the type is required and read
//! case-insensitively).

use crate::iptables::ext::*;
use rampart_model::targets::audit::{Audit, AuditType};

pub(crate) static EXT: TargetExt = TargetExt {
    name: "AUDIT",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["type"], Arity::One)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    let mut kind = None;
    for o in opts {
        o.check_invert(false)?;
        if o.name == "type" {
            let a = o.arg();
            kind = Some(
                [AuditType::Accept, AuditType::Drop, AuditType::Reject]
                    .into_iter()
                    .find(|t| t.name().eq_ignore_ascii_case(&a.text))
                    .ok_or_else(|| {
                        RuleError::new(a.span, format!("unknown audit type `{}`", a.text))
                            .with_help("use accept, drop or reject")
                    })?,
            );
        }
    }
    let kind = kind.ok_or_else(|| {
        cx.error("`AUDIT` needs `--type`")
            .with_help("add `--type accept`, `--type drop` or `--type reject`")
    })?;
    Ok(Target::Audit(Audit { kind }))
}

pub(crate) fn save(a: &Audit, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, false, "type", a.kind.name());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checked against iptables 1.8.9 (nf_tables) in a network namespace:
    /// `Some(printed)` when it accepts the line, `None` when it refuses it.
    #[test]
    fn rules_as_iptables_handles_them() {
        let v4 = Family::Ipv4;
        let cases: &[(Family, &str, &str, Option<&str>)] = &[
            (
                v4,
                "filter",
                "-A INPUT -j AUDIT --type ACCEPT",
                Some("-j AUDIT --type accept"),
            ),
            (v4, "filter", "-A INPUT -j AUDIT --type acc", None),
            (
                v4,
                "mangle",
                "-A PREROUTING -j AUDIT --type drop",
                Some("-j AUDIT --type drop"),
            ),
            (
                v4,
                "filter",
                "-A INPUT -j AUDIT --type drop --type accept",
                None,
            ),
        ];
        crate::iptables::testutil::check_cases(cases);
    }
}
