//! `-m limit`: `--limit RATE`, `--limit-burst N`.
//!
//! Also the packet-rate parser and the canonical rate form shared with
//! `hashlimit`: iptables turns `N/unit` into an average interval in fixed
//! point (`scale * unit_seconds / N`) and prints that interval back in the
//! largest unit that represents it without losing precision, so `60/min`
//! prints as `1/sec`.

use crate::iptables::ext::*;
use rampart_model::matches::limit::{Limit, Rate, RateUnit};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "limit",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["limit"], Arity::One),
        OptSpec::new(&["limit-burst"], Arity::One),
    ],
    build,
};

/// `XT_LIMIT_SCALE`: the limit match counts time in 1/10000 s.
const LIMIT_SCALE: u64 = 10_000;

fn build(opts: &[OptOcc], _cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Limit::default();
    for o in opts {
        o.check_invert(false)
            .map_err(|e| e.with_help("`-m limit` has no negation; use `-m hashlimit --hashlimit-above` to match above a rate"))?;
        match o.name {
            "limit" => {
                let tok = o.arg();
                let parsed = parse_packet_rate(&tok)?;
                let period = LIMIT_SCALE * parsed.unit_seconds / parsed.count;
                if period == 0 {
                    return Err(rate_too_fast(&tok, "10000/sec"));
                }
                m.rate = canonical_rate(period, LIMIT_SCALE);
            }
            "limit-burst" => {
                m.burst = parse_uint(&o.arg(), "burst", 0, 10_000)? as u32;
            }
            _ => {}
        }
    }
    Ok(Match::Limit(m))
}

/// A rate as written: `count` per `unit_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WrittenRate {
    pub count: u64,
    pub unit_seconds: u64,
}

/// Parses `N[/second|/minute|/hour|/day]` (any prefix of the unit name,
/// case-insensitive; seconds when no unit is given), as iptables'
/// `parse_rate` does.
pub(crate) fn parse_packet_rate(tok: &Token) -> Result<WrittenRate, RuleError> {
    let text = tok.text.as_str();
    let (num, unit) = match text.split_once('/') {
        Some((n, u)) => (n, Some(u)),
        None => (text, None),
    };
    let bad = |why: &str| {
        RuleError::new(tok.span, format!("invalid rate `{text}`: {why}"))
            .with_help("write a rate as N/sec, N/min, N/hour or N/day, e.g. `5/min`")
    };
    let unit_seconds = match unit {
        None => 1,
        Some("") => return Err(bad("missing unit after `/`")),
        Some(u) => {
            let u = u.to_ascii_lowercase();
            let found = [
                ("second", 1),
                ("minute", 60),
                ("hour", 3600),
                ("day", 86_400),
            ]
            .into_iter()
            .find(|(name, _)| name.starts_with(u.as_str()));
            match found {
                Some((_, s)) => s,
                None => return Err(bad("unknown unit")),
            }
        }
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the count is not a number"));
    }
    let count: u64 = num
        .parse()
        .ok()
        .filter(|&c| c <= u64::from(u32::MAX))
        .ok_or_else(|| bad("the count is too large"))?;
    if count == 0 {
        return Err(bad("the count must be at least 1"));
    }
    Ok(WrittenRate {
        count,
        unit_seconds,
    })
}

pub(crate) fn rate_too_fast(tok: &Token, max: &str) -> RuleError {
    RuleError::new(tok.span, format!("rate `{}` is too fast", tok.text))
        .with_help(format!("the highest rate this match can express is {max}"))
}

/// The rate iptables prints for an average interval of `period` (in
/// `1/scale` seconds, non-zero): the longest unit whose count is exact
/// enough, as `print_rate` in libxt_limit/libxt_hashlimit chooses it.
pub(crate) fn canonical_rate(period: u64, scale: u64) -> Rate {
    let period = period.max(1);
    let units = RateUnit::ALL;
    let mut pick = units[0];
    for &u in &units[1..] {
        let mult = scale * u.seconds();
        if period > mult || mult / period < mult % period {
            break;
        }
        pick = u;
    }
    Rate::new(scale * pick.seconds() / period, pick)
}

pub(crate) fn save(m: &Limit, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, false, "limit", m.rate);
    if m.burst != Limit::DEFAULT_BURST {
        save_opt_val(out, false, "limit-burst", m.burst);
    }
}

#[cfg(test)]
pub(crate) use crate::iptables::testutil::roundtrip_fam as roundtrip;

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(text: &str) -> Rate {
        let w = parse_packet_rate(&Token::new(text, Default::default())).expect("valid test input");
        canonical_rate(LIMIT_SCALE * w.unit_seconds / w.count, LIMIT_SCALE)
    }

    #[test]
    fn rates_print_in_the_unit_iptables_picks() {
        assert_eq!(rate("1/sec").to_string(), "1/sec");
        assert_eq!(rate("60/min").to_string(), "1/sec");
        assert_eq!(rate("7/min").to_string(), "7/min");
        assert_eq!(rate("1000/hour").to_string(), "1000/hour");
        assert_eq!(rate("1000/day").to_string(), "1000/day");
        assert_eq!(rate("3/h").to_string(), "3/hour");
        assert_eq!(rate("5").to_string(), "5/sec");
        assert_eq!(rate("5/S").to_string(), "5/sec");
    }

    #[test]
    fn default_burst_is_omitted() {
        assert_eq!(
            roundtrip("-m limit --limit 60/min --limit-burst 5", Family::Ipv4)
                .expect("valid test input"),
            "-m limit --limit 1/sec"
        );
        assert_eq!(
            roundtrip("-m limit", Family::Ipv4).expect("valid test input"),
            "-m limit --limit 3/hour"
        );
        assert!(roundtrip("-m limit ! --limit 1/sec", Family::Ipv4).is_err());
        assert!(roundtrip("-m limit --limit-burst 10001", Family::Ipv4).is_err());
        assert!(roundtrip("-m limit --limit 20000/sec", Family::Ipv4).is_err());
    }

    #[test]
    fn bad_rates_are_rejected() {
        for bad in ["", "/sec", "0/sec", "1/", "1/week", "x/sec", "-1/sec"] {
            assert!(
                parse_packet_rate(&Token::new(bad, Default::default())).is_err(),
                "{bad}"
            );
        }
    }
}
