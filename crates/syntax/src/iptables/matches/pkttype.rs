//! `-m pkttype`: `[!] --pkt-type unicast|broadcast|multicast|host|otherhost`.

use crate::iptables::ext::*;
use rampart_model::matches::pkttype::{PktType, Pkttype};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "pkttype",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["pkt-type"], Arity::One)],
    build,
};

/// Names iptables 1.8.9 accepts, case-insensitively (`host` is an alias of
/// `unicast`). `outgoing` is known to the model but refused by iptables.
const NAMES: &[(&str, PktType)] = &[
    ("unicast", PktType::Unicast),
    ("broadcast", PktType::Broadcast),
    ("multicast", PktType::Multicast),
    ("host", PktType::Unicast),
    ("otherhost", PktType::Otherhost),
];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, "pkt-type") else {
        return Err(cx
            .error("`-m pkttype` needs `--pkt-type`")
            .with_help("for example `-m pkttype --pkt-type broadcast`"));
    };
    let tok = o.arg();
    let t = NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&tok.text))
        .map(|&(_, t)| t)
        .ok_or_else(|| {
            RuleError::new(tok.span, format!("unknown packet type `{}`", tok.text))
                .with_help("packet types are unicast, broadcast, multicast, host, otherhost")
        })?;
    Ok(Match::Pkttype(Pkttype {
        pkt_type: Neg::inverted(t, o.invert),
    }))
}

pub(crate) fn save(m: &Pkttype, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, m.pkt_type.invert, "pkt-type", m.pkt_type.value.name());
}
