//! `-m ecn`: `[!] --ecn-tcp-cwr`, `[!] --ecn-tcp-ece`, `[!] --ecn-ip-ect N`.

use crate::iptables::ext::*;
use rampart_model::matches::ecn::Ecn;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "ecn",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["ecn-tcp-cwr"], Arity::None),
        OptSpec::new(&["ecn-tcp-ece"], Arity::None),
        OptSpec::new(&["ecn-ip-ect"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Ecn::default();
    for o in opts {
        match o.name {
            "ecn-tcp-cwr" => m.tcp_cwr = Some(!o.invert),
            "ecn-tcp-ece" => m.tcp_ece = Some(!o.invert),
            "ecn-ip-ect" => {
                let v = parse_uint(&o.arg(), "ECT value", 0, 3)? as u8;
                m.ip_ect = Some(Neg::inverted(v, o.invert));
            }
            _ => {}
        }
    }
    if opts.is_empty() {
        return Err(cx
            .error("`-m ecn` needs at least one option")
            .with_help("for example `-m ecn --ecn-ip-ect 3`"));
    }
    if m.tcp_cwr.is_some() || m.tcp_ece.is_some() {
        cx.require_proto(&[Protocol::TCP])?;
    }
    Ok(Match::Ecn(m))
}

pub(crate) fn save(m: &Ecn, _: &SaveCtx, out: &mut String) {
    if let Some(b) = m.tcp_ece {
        save_opt(out, !b, "ecn-tcp-ece");
    }
    if let Some(b) = m.tcp_cwr {
        save_opt(out, !b, "ecn-tcp-cwr");
    }
    if let Some(e) = m.ip_ect {
        save_opt_val(out, e.invert, "ecn-ip-ect", e.value);
    }
}
