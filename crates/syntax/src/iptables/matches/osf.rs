//! `-m osf` (IPv4, needs `-p tcp`): `[!] --genre NAME`, `--ttl 0|1|2`,
//! `--log 0|1|2`.

use crate::iptables::ext::*;
use rampart_model::matches::osf::{Osf, OsfLog, OsfTtl};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "osf",
    aliases: &[],
    family: Some(Family::Ipv4),
    options: &[
        OptSpec::new(&["genre"], Arity::One),
        OptSpec::new(&["ttl"], Arity::One),
        OptSpec::new(&["log"], Arity::One),
    ],
    build,
};

/// `MAXGENRELEN` less the terminating NUL. iptables silently cuts longer
/// names; rampart refuses them instead.
const MAX_GENRE: usize = 31;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Osf::default();
    let mut genre = None;
    for o in opts {
        let tok = o.arg();
        match o.name {
            "genre" => {
                if tok.text.is_empty() || tok.text.len() > MAX_GENRE {
                    return Err(RuleError::new(
                        tok.span,
                        format!("OS genre must be 1 to {MAX_GENRE} bytes long"),
                    ));
                }
                genre = Some(Neg::inverted(tok.text.clone(), o.invert));
            }
            "ttl" => {
                o.check_invert(false)?;
                m.ttl = Some(match parse_uint(&tok, "TTL check level", 0, 2)? {
                    0 => OsfTtl::Exact,
                    1 => OsfTtl::Less,
                    _ => OsfTtl::NoCheck,
                });
            }
            "log" => {
                o.check_invert(false)?;
                m.log = Some(match parse_uint(&tok, "log level", 0, 2)? {
                    0 => OsfLog::All,
                    1 => OsfLog::First,
                    _ => OsfLog::Known,
                });
            }
            _ => {}
        }
    }
    let Some(g) = genre else {
        return Err(cx
            .error("`-m osf` needs `--genre`")
            .with_help("for example `-m osf --genre Linux`"));
    };
    m.genre = g;
    // Fingerprints are taken from TCP SYN packets.
    cx.require_proto(&[Protocol::TCP])?;
    Ok(Match::Osf(m))
}

pub(crate) fn save(m: &Osf, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, m.genre.invert, "genre", &m.genre.value);
    if let Some(t) = m.ttl {
        save_opt_val(out, false, "ttl", t.level());
    }
    if let Some(l) = m.log {
        save_opt_val(out, false, "log", l.level());
    }
}
