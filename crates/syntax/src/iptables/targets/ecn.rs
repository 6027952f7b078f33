//! `-j ECN` (IPv4, mangle table): `--ecn-tcp-remove`, `--ecn-tcp-ece 0|1`,
//! `--ecn-tcp-cwr 0|1`, `--ecn-ip-ect 0-3`. The TCP options need `-p tcp`.

use super::tcpmss::require_tcp;
use crate::iptables::ext::*;
use rampart_model::targets::ecn::Ecn;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "ECN",
    aliases: &[],
    family: Some(Family::Ipv4),
    options: &[
        OptSpec::new(&["ecn-tcp-remove"], Arity::None),
        OptSpec::new(&["ecn-tcp-cwr"], Arity::One),
        OptSpec::new(&["ecn-tcp-ece"], Arity::One),
        OptSpec::new(&["ecn-ip-ect"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    cx.require_table(&[TableKind::Mangle])?;
    at_most_once(opts)?;
    let mut e = Ecn::default();
    let remove = find(opts, "ecn-tcp-remove");
    for o in opts {
        o.check_invert(false)?;
        let tok = o.arg();
        match o.name {
            "ecn-tcp-remove" => {
                e.ece = Some(false);
                e.cwr = Some(false);
            }
            "ecn-ip-ect" => e.ip_ect = Some(parse_uint(&tok, "ECT codepoint", 0, 3)? as u8),
            name => {
                if let Some(r) = remove {
                    return Err(RuleError::new(
                        o.span,
                        format!("`--{name}` cannot be combined with `--{}`", r.name),
                    ));
                }
                let bit = parse_uint(&tok, "bit", 0, 1)? == 1;
                if name == "ecn-tcp-ece" {
                    e.ece = Some(bit);
                } else {
                    e.cwr = Some(bit);
                }
            }
        }
    }
    if e == Ecn::default() {
        return Err(cx
            .error("`ECN` needs an operation")
            .with_help("e.g. `-p tcp -j ECN --ecn-tcp-remove`"));
    }
    if e.ece.is_some() || e.cwr.is_some() {
        require_tcp(cx)?;
    }
    Ok(Target::Ecn(e))
}

pub(crate) fn save(e: &Ecn, _: &SaveCtx, out: &mut String) {
    if e.ece == Some(false) && e.cwr == Some(false) && e.ip_ect.is_none() {
        save_opt(out, false, "ecn-tcp-remove");
        return;
    }
    if let Some(b) = e.ece {
        save_opt_val(out, false, "ecn-tcp-ece", u8::from(b));
    }
    if let Some(b) = e.cwr {
        save_opt_val(out, false, "ecn-tcp-cwr", u8::from(b));
    }
    if let Some(n) = e.ip_ect {
        save_opt_val(out, false, "ecn-ip-ect", n);
    }
}
