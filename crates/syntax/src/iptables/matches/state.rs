//! `-m state`: `--state`. Also the state-list parser and printer shared
//! with `-m conntrack --ctstate`.

use crate::iptables::ext::*;
use rampart_model::matches::state::{CtStates, State};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "state",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["state"], Arity::One)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, "state") else {
        return Err(cx
            .error("`state` needs `--state`")
            .with_help("e.g. `-m state --state ESTABLISHED,RELATED`"));
    };
    let states = parse_states(&o.arg(), "state", &CtStates::NAMES[..5])?;
    Ok(Match::State(State {
        states: Neg::inverted(states, o.invert),
    }))
}

/// `NAME[,NAME...]` where each name is a case-insensitive prefix of one of
/// `allowed` (the first that fits wins, as in iptables).
pub(crate) fn parse_states(
    tok: &Token,
    what: &str,
    allowed: &[&'static str],
) -> Result<CtStates, RuleError> {
    let mut set = CtStates::default();
    for part in tok.text.split(',') {
        let upper = part.to_ascii_uppercase();
        let name = allowed
            .iter()
            .find(|n| !upper.is_empty() && n.starts_with(upper.as_str()))
            .ok_or_else(|| {
                RuleError::new(tok.span, format!("bad {what} `{part}`")).with_help(format!(
                    "states are {}, separated by commas without spaces",
                    allowed.join(", ")
                ))
            })?;
        if let Some(flag) = set.flag_mut(name) {
            *flag = true;
        }
    }
    Ok(set)
}

/// Appends ` STATE[,STATE...]` in iptables-save order.
pub(crate) fn save_states(out: &mut String, s: &CtStates) {
    out.push(' ');
    out.push_str(&s.names().join(","));
}

pub(crate) fn save(m: &State, _: &SaveCtx, out: &mut String) {
    save_opt(out, m.states.invert, "state");
    save_states(out, &m.states.value);
}

#[cfg(test)]
mod tests {
    use crate::iptables::testutil::roundtrip;

    #[test]
    fn prefixes_order_and_invert() {
        assert_eq!(
            roundtrip("-m state ! --state est,new,Inv"),
            Ok("-m state ! --state INVALID,NEW,ESTABLISHED".into())
        );
        assert_eq!(
            roundtrip("-m state --state UNTRACKED,RELATED"),
            Ok("-m state --state RELATED,UNTRACKED".into())
        );
    }

    #[test]
    fn rejects() {
        assert!(roundtrip("-m state --state SNAT").is_err());
        assert!(roundtrip("-m state --state NEW,").is_err());
        assert!(roundtrip("-m state").is_err());
        assert!(roundtrip("-m state --state NEW --state INVALID").is_err());
    }
}
