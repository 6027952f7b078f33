//! `-j RATEEST --rateest-name NAME --rateest-interval TIME
//! --rateest-ewmalog TIME`.
//!
//! As iptables does, the interval is rounded up to one of 250ms << 0..=5
//! and the averaging constant is turned into the kernel's `ewma_log`;
//! iptables-save prints both back as times (`250.0ms`, `1.0s`, `500us`).

use crate::iptables::ext::*;
use rampart_model::targets::rateest::Rateest;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "RATEEST",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["rateest-name"], Arity::One),
        OptSpec::new(&["rateest-interval"], Arity::One),
        OptSpec::new(&["rateest-ewmalog"], Arity::One),
    ],
    build,
};

/// Time unit of the options: microseconds.
const PER_SEC: f64 = 1_000_000.0;
/// Longest estimator name (`char name[IFNAMSIZ]`).
const NAME_MAX: usize = 15;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    let (mut name, mut interval, mut ewma) = (None, None, None);
    for o in opts {
        o.check_invert(false)?;
        let tok = o.arg();
        match o.name {
            "rateest-name" => {
                if tok.text.is_empty() || tok.text.len() > NAME_MAX {
                    return Err(RuleError::new(
                        tok.span,
                        format!("an estimator name has 1 to {NAME_MAX} bytes"),
                    ));
                }
                name = Some(tok.text.clone());
            }
            "rateest-interval" => interval = Some((o, parse_time(&tok)?)),
            _ => ewma = Some((o, parse_time(&tok)?)),
        }
    }
    let (Some(name), Some((iopt, interval)), Some((eopt, ewma))) = (name, interval, ewma) else {
        return Err(cx
            .error("`RATEEST` needs --rateest-name, --rateest-interval and --rateest-ewmalog")
            .with_help("e.g. `--rateest-name wan --rateest-interval 250ms --rateest-ewmalog 1s`"));
    };
    let idx = (0u8..=5)
        .find(|&i| f64::from(interval) <= f64::from(250_000u32 << i))
        .ok_or_else(|| {
            RuleError::new(iopt.full_span(), "interval is too large").with_help("at most 8s")
        })?;
    // The kernel averages with weight 1 - 2^-ewma_log per interval; pick
    // the smallest ewma_log whose time constant exceeds the one asked for,
    // then step back one (as iptables does).
    let e = (1u8..32)
        .find(|&e| {
            let w = 1.0 - 1.0 / f64::from(1u32 << e);
            f64::from(interval) / -w.ln() > f64::from(ewma)
        })
        .unwrap_or(32)
        - 1;
    if e == 0 || e >= 31 {
        return Err(
            RuleError::new(eopt.full_span(), "averaging time is out of range")
                .with_help("give a time larger than the interval"),
        );
    }
    Ok(Target::Rateest(Rateest {
        name,
        interval: idx,
        ewma_log: e,
    }))
}

/// A time as `strtod` reads it, with an optional unit `s`/`sec`/`secs`,
/// `ms`/`msec`/`msecs`, `us`/`usec`/`usecs` (none: microseconds).
fn parse_time(tok: &Token) -> Result<u32, RuleError> {
    let text = tok.text.as_str();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let bad = || {
        RuleError::new(tok.span, format!("bad time `{text}`"))
            .with_help("write a number with s, ms or us, e.g. `250ms`")
    };
    let t: f64 = num.parse().map_err(|_| bad())?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" | "us" | "usec" | "usecs" => 1.0,
        "s" | "sec" | "secs" => PER_SEC,
        "ms" | "msec" | "msecs" => PER_SEC / 1000.0,
        _ => return Err(bad()),
    };
    let t = t * scale;
    if !(0.0..=f64::from(u32::MAX)).contains(&t) {
        return Err(RuleError::new(
            tok.span,
            format!("time `{text}` is too large"),
        ));
    }
    // `unsigned int = double` truncates.
    Ok(t as u32)
}

/// iptables' `RATEEST_print_time`.
fn print_time(out: &mut String, t: u32) {
    let f = f64::from(t);
    let s = if f >= PER_SEC {
        format!(" {:.1}s", f / PER_SEC)
    } else if f >= PER_SEC / 1000.0 {
        format!(" {:.1}ms", f / (PER_SEC / 1000.0))
    } else {
        format!(" {t}us")
    };
    out.push_str(&s);
}

pub(crate) fn save(r: &Rateest, _: &SaveCtx, out: &mut String) {
    let interval = 250_000u32.wrapping_shl(u32::from(r.interval));
    let ewma = interval.wrapping_mul(1u32.wrapping_shl(u32::from(r.ewma_log)));
    save_opt_val(out, false, "rateest-name", &r.name);
    out.push_str(" --rateest-interval");
    print_time(out, interval);
    out.push_str(" --rateest-ewmalog");
    print_time(out, ewma);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    use crate::diag::Span;

    use crate::iptables::testutil::occ;

    fn saved(interval: &str, ewma: &str) -> Result<String, RuleError> {
        let cx = RuleCtx {
            family: Family::Ipv4,
            table: TableKind::Filter,
            chain: "INPUT",
            hook: Some(Hook::Input),
            protocol: None,
            name: "RATEEST",
            name_span: Span::new(0, 0),
        };
        let t = build(
            &[
                occ("rateest-name", "RE1"),
                occ("rateest-interval", interval),
                occ("rateest-ewmalog", ewma),
            ],
            &cx,
        )?;
        let Target::Rateest(r) = t else {
            unreachable!("RATEEST builds a Rateest")
        };
        let mut s = String::new();
        save(
            &r,
            &SaveCtx {
                family: Family::Ipv4,
            },
            &mut s,
        );
        Ok(s)
    }

    #[test]
    fn times_round_like_iptables() {
        assert_eq!(
            saved("250.0ms", "500.0ms").unwrap(),
            " --rateest-name RE1 --rateest-interval 250.0ms --rateest-ewmalog 500.0ms"
        );
        assert_eq!(
            saved("1s", "8s").unwrap(),
            " --rateest-name RE1 --rateest-interval 1.0s --rateest-ewmalog 8.0s"
        );
        assert!(saved("9s", "20s").is_err());
        assert!(saved("1s", "1s").is_err());
        assert!(saved("1 s", "2s").is_err());
        assert!(saved("1fortnight", "2s").is_err());
    }
}
