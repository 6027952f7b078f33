//! `-m statistic`: `--mode random [!] --probability P` or `--mode nth
//! [!] --every N --packet P`.

use crate::iptables::ext::*;
use rampart_model::matches::statistic::{Statistic, StatisticMode};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "statistic",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["mode"], Arity::One),
        OptSpec::new(&["probability"], Arity::One),
        OptSpec::new(&["every"], Arity::One),
        OptSpec::new(&["packet"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut invert = false;
    let (mut mode, mut prob, mut every, mut packet) = (None, None, None, None);
    for o in opts {
        o.check_invert(matches!(o.name, "probability" | "every"))?;
        invert |= o.invert;
        let t = o.arg();
        match o.name {
            "mode" => {
                mode = Some(match t.text.as_str() {
                    "random" => false,
                    "nth" => true,
                    _ => {
                        return Err(RuleError::new(
                            t.span,
                            format!("unknown statistic mode `{}`", t.text),
                        )
                        .with_help("modes are `random` and `nth`"))
                    }
                })
            }
            "probability" => {
                let p: f64 = t
                    .text
                    .parse()
                    .ok()
                    .filter(|p: &f64| (0.0..=1.0).contains(p))
                    .ok_or_else(|| {
                        RuleError::new(
                            t.span,
                            format!("probability `{}` is not a number between 0 and 1", t.text),
                        )
                    })?;
                prob = Some((
                    o,
                    (p * f64::from(Statistic::PROBABILITY_ONE)).round() as u32,
                ));
            }
            "every" => every = Some((o, parse_uint(&t, "every", 1, u64::from(u32::MAX))? as u32)),
            "packet" => packet = Some((o, parse_u32(&t, "packet")?)),
            _ => {}
        }
    }
    let Some(nth) = mode else {
        return Err(cx.error("`-m statistic` needs `--mode random` or `--mode nth`"));
    };
    let wrong = |o: &OptOcc, m: &str| {
        RuleError::new(
            o.span,
            format!("`--{}` only applies to `--mode {m}`", o.name),
        )
    };
    let mode = if nth {
        if let Some((o, _)) = prob {
            return Err(wrong(o, "random"));
        }
        let Some((every_opt, every)) = every else {
            return Err(cx.error("`--mode nth` needs `--every N`"));
        };
        let Some((_, packet)) = packet else {
            return Err(
                RuleError::new(every_opt.span, "`--every` also needs `--packet`")
                    .with_help("add `--packet 0` to match the first packet of every N"),
            );
        };
        if packet > every - 1 {
            return Err(RuleError::new(
                every_opt.span,
                format!("`--packet {packet}` must be smaller than `--every {every}`"),
            ));
        }
        StatisticMode::Nth { every, packet }
    } else {
        if let Some((o, _)) = every.or(packet) {
            return Err(wrong(o, "nth"));
        }
        let Some((_, probability)) = prob else {
            return Err(cx.error("`--mode random` needs `--probability P`"));
        };
        StatisticMode::Random { probability }
    };
    Ok(Match::Statistic(Statistic { invert, mode }))
}

pub(crate) fn save(m: &Statistic, _: &SaveCtx, out: &mut String) {
    use std::fmt::Write;
    let inv = if m.invert { " !" } else { "" };
    match m.mode {
        StatisticMode::Random { probability } => {
            let p = f64::from(probability) / f64::from(Statistic::PROBABILITY_ONE);
            let _ = write!(out, " --mode random{inv} --probability {p:.11}");
        }
        StatisticMode::Nth { every, packet } => {
            let _ = write!(out, " --mode nth{inv} --every {every} --packet {packet}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::limit::roundtrip;
    use super::*;

    #[test]
    fn probability_is_fixed_point() {
        // Checked against iptables 1.8.9.
        assert_eq!(
            roundtrip("-m statistic --mode random --probability 0.3", Family::Ipv4)
                .expect("valid test input"),
            "-m statistic --mode random --probability 0.29999999981"
        );
        assert_eq!(
            roundtrip("-m statistic --mode nth --every 1 --packet 0", Family::Ipv4)
                .expect("valid test input"),
            "-m statistic --mode nth --every 1 --packet 0"
        );
        assert!(roundtrip("-m statistic --mode nth --every 5", Family::Ipv4).is_err());
        assert!(roundtrip(
            "-m statistic --mode random --probability 0.5 --packet 1",
            Family::Ipv4
        )
        .is_err());
    }
}
