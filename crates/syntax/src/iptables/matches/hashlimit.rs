//! `-m hashlimit` (revision 3): `--hashlimit-upto|--hashlimit-above RATE`,
//! `--hashlimit-burst`, `--hashlimit-mode`, `--hashlimit-srcmask`,
//! `--hashlimit-dstmask`, `--hashlimit-name`, `--hashlimit-htable-*`,
//! `--hashlimit-rate-match`, `--hashlimit-rate-interval`.
//!
//! Rates are packets (`10/min`) or bytes (`4kb/s`). The printed form follows
//! the kernel's arithmetic exactly: packet rates are canonicalised like
//! `-m limit` (scale 1,000,000), byte rates go through the kernel's 16-byte
//! cost and back, and the table expiry is printed only when it differs from
//! the default implied by the printed unit.

use super::limit::{canonical_rate, parse_packet_rate, rate_too_fast};
use crate::iptables::ext::*;
use rampart_model::matches::hashlimit::{Hashlimit, HashlimitMode, HashlimitRate};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "hashlimit",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["hashlimit-upto", "hashlimit"], Arity::One),
        OptSpec::new(&["hashlimit-above"], Arity::One),
        OptSpec::new(&["hashlimit-srcmask"], Arity::One),
        OptSpec::new(&["hashlimit-dstmask"], Arity::One),
        OptSpec::new(&["hashlimit-burst"], Arity::One),
        OptSpec::new(&["hashlimit-htable-size"], Arity::One),
        OptSpec::new(&["hashlimit-htable-max"], Arity::One),
        OptSpec::new(&["hashlimit-htable-gcinterval"], Arity::One),
        OptSpec::new(&["hashlimit-htable-expire"], Arity::One),
        OptSpec::new(&["hashlimit-mode"], Arity::One),
        OptSpec::new(&["hashlimit-name"], Arity::One),
        OptSpec::new(&["hashlimit-rate-match"], Arity::None),
        OptSpec::new(&["hashlimit-rate-interval"], Arity::One),
    ],
    build,
};

/// `XT_HASHLIMIT_SCALE_v2`: revision 2+ counts time in 1/1,000,000 s.
const SCALE: u64 = 1_000_000;
/// `XT_HASHLIMIT_BYTE_SHIFT`: byte accounting is done in 16-byte steps.
const BYTE_SHIFT: u32 = 4;
const DEFAULT_BURST: u64 = 5;
const BURST_MAX: u64 = 1_000_000;
const DEFAULT_GC_INTERVAL: u32 = 1000;
/// Default expiry (seconds) of byte-rate entries without / with a burst.
const BYTE_EXPIRE: u32 = 15;
const BYTE_EXPIRE_BURST: u32 = 60;
/// The kernel's `name[NAME_MAX]`, NUL included.
const NAME_MAX: usize = 254;

/// What `--hashlimit-upto|above` said.
enum Written {
    Packets { period: u64, unit_seconds: u64 },
    Bytes { per_second: u64, cost: u64 },
}

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let full: u8 = match cx.family {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    };
    let mut rate: Option<(Written, &OptOcc)> = None;
    let mut above = false;
    let mut burst: Option<(u64, &OptOcc)> = None;
    let mut mode = HashlimitMode::default();
    let mut srcmask = full;
    let mut dstmask = full;
    let mut name: Option<String> = None;
    let mut htable_size = None;
    let mut htable_max = None;
    let mut gc_interval = DEFAULT_GC_INTERVAL;
    let mut expire: Option<u32> = None;
    let mut rate_match = false;
    let mut interval: Option<u32> = None;

    for o in opts {
        let invertible = matches!(o.name, "hashlimit-upto" | "hashlimit-above");
        o.check_invert(invertible)?;
        match o.name {
            "hashlimit-upto" | "hashlimit-above" => {
                if let Some((_, prev)) = &rate {
                    return Err(RuleError::new(
                        o.span,
                        format!("`--{}` conflicts with `--{}`", o.name, prev.name),
                    )
                    .with_help("give either `--hashlimit-upto` or `--hashlimit-above`"));
                }
                // `! --hashlimit-upto` is `--hashlimit-above` and vice versa.
                above = (o.name == "hashlimit-above") != o.invert;
                rate = Some((parse_rate(&o.arg())?, o));
            }
            "hashlimit-srcmask" => {
                srcmask = parse_uint(&o.arg(), "prefix length", 0, u64::from(full))? as u8
            }
            "hashlimit-dstmask" => {
                dstmask = parse_uint(&o.arg(), "prefix length", 0, u64::from(full))? as u8
            }
            "hashlimit-burst" => burst = Some((parse_burst(&o.arg())?, o)),
            "hashlimit-htable-size" => {
                htable_size = Some(parse_u32(&o.arg(), "hash table size")?).filter(|&v| v != 0)
            }
            "hashlimit-htable-max" => {
                htable_max = Some(parse_u32(&o.arg(), "hash table maximum")?).filter(|&v| v != 0)
            }
            "hashlimit-htable-gcinterval" => {
                gc_interval = parse_u32(&o.arg(), "garbage collection interval")?;
                if gc_interval == 0 {
                    return Err(RuleError::new(
                        o.arg().span,
                        "the garbage collection interval must be at least 1 ms",
                    ));
                }
            }
            "hashlimit-htable-expire" => {
                let v = parse_u32(&o.arg(), "expiry")?;
                if v == 0 {
                    return Err(RuleError::new(
                        o.arg().span,
                        "the expiry must be at least 1 ms",
                    ));
                }
                expire = Some(v);
            }
            "hashlimit-mode" => mode = parse_mode(&o.arg())?,
            "hashlimit-name" => {
                let t = o.arg();
                if t.text.is_empty() {
                    return Err(RuleError::new(t.span, "the hashlimit name is empty"));
                }
                if t.text.len() > NAME_MAX {
                    return Err(RuleError::new(
                        t.span,
                        format!("the hashlimit name is longer than {NAME_MAX} bytes"),
                    ));
                }
                name = Some(t.text);
            }
            "hashlimit-rate-match" => rate_match = true,
            "hashlimit-rate-interval" => {
                let t = o.arg();
                let v = parse_u32(&t, "rate interval")?;
                if v == 0 {
                    return Err(RuleError::new(
                        t.span,
                        "the rate interval must be at least 1 second",
                    ));
                }
                interval = Some(v);
            }
            _ => {}
        }
    }

    let Some((written, rate_opt)) = rate else {
        return Err(cx
            .error("`-m hashlimit` needs a rate")
            .with_help("add `--hashlimit-upto RATE` or `--hashlimit-above RATE`"));
    };
    let Some(name) = name else {
        return Err(cx
            .error("`-m hashlimit` needs `--hashlimit-name`")
            .with_help("name the hash table, e.g. `--hashlimit-name ssh`"));
    };

    let (rate, default_expire, default_interval) = match written {
        Written::Bytes { per_second, cost } => {
            let chunk = cost_to_bytes(cost);
            let (burst_bytes, default_expire) = match burst {
                Some((b, o)) => {
                    if b < chunk {
                        return Err(RuleError::new(
                            o.arg().span,
                            format!("burst cannot be smaller than {chunk}b"),
                        )
                        .with_help(format!(
                            "the rate {} needs a burst of at least {chunk}b",
                            rate_opt.arg().text
                        )));
                    }
                    (b, BYTE_EXPIRE_BURST)
                }
                None => (0, BYTE_EXPIRE),
            };
            (
                HashlimitRate::Bytes {
                    per_second,
                    burst: burst_bytes,
                },
                default_expire * 1000,
                1,
            )
        }
        Written::Packets {
            mut period,
            unit_seconds,
        } => {
            let burst = match burst {
                Some((b, o)) if b > BURST_MAX => {
                    return Err(RuleError::new(
                        o.arg().span,
                        format!("burst `{}` is out of range 1-{BURST_MAX}", o.arg().text),
                    ))
                }
                Some((b, _)) => b,
                None => DEFAULT_BURST,
            };
            if rate_match {
                // Rate matching measures per second; iptables divides the
                // interval by the unit and makes the unit the window.
                period /= unit_seconds;
                if period == 0 {
                    return Err(rate_too_fast(&rate_opt.arg(), "1000000/sec"));
                }
            }
            (
                HashlimitRate::Packets {
                    rate: canonical_rate(period, SCALE),
                    burst,
                },
                unit_seconds as u32 * 1000,
                unit_seconds as u32,
            )
        }
    };

    Ok(Match::Hashlimit(Hashlimit {
        name,
        above,
        rate,
        mode,
        srcmask,
        dstmask,
        htable_size,
        htable_max,
        gc_interval,
        expire: expire.unwrap_or(default_expire),
        rate_match: rate_match.then(|| interval.unwrap_or(default_interval)),
    }))
}

/// Parses `N/unit` (packets) or `N[k|m]b/s` (bytes).
fn parse_rate(tok: &Token) -> Result<Written, RuleError> {
    let text = tok.text.as_str();
    if let Some(pos) = text.find("b/s").filter(|&p| p > 0) {
        let head = &text[..pos];
        let (digits, factor) = match head.as_bytes().last() {
            Some(b'k') => (&head[..head.len() - 1], 1024u64),
            Some(b'm') => (&head[..head.len() - 1], 1024 * 1024),
            _ => (head, 1),
        };
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && &text[pos..] == "b/s"
        {
            let n: u64 = digits
                .parse()
                .map_err(|_| RuleError::new(tok.span, format!("rate `{text}` is too large")))?;
            if n != 0 {
                let per_second = n.checked_mul(factor).ok_or_else(|| {
                    RuleError::new(tok.span, format!("rate `{text}` is too large"))
                })?;
                let cost = bytes_to_cost(per_second);
                if cost == 0 {
                    return Err(
                        RuleError::new(tok.span, format!("rate `{text}` is too high"))
                            .with_help("the highest byte rate is about 64gb/s"),
                    );
                }
                return Ok(Written::Bytes { per_second, cost });
            }
        }
        return Err(
            RuleError::new(tok.span, format!("invalid byte rate `{text}`")).with_help(
                "write a byte rate as N b/s, N kb/s or N mb/s without blanks, e.g. `512kb/s`",
            ),
        );
    }
    let w = parse_packet_rate(tok)?;
    let period = SCALE * w.unit_seconds / w.count;
    if period == 0 {
        return Err(rate_too_fast(tok, "1000000/sec"));
    }
    Ok(Written::Packets {
        period,
        unit_seconds: w.unit_seconds,
    })
}

/// `N`, `Nk[b]`, `Nm[b]` or `Nb` (a burst in packets or bytes).
fn parse_burst(tok: &Token) -> Result<u64, RuleError> {
    let text = tok.text.as_str();
    let digits_end = text
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    let factor = match suffix {
        "" | "b" => 1,
        "k" | "kb" => 1024,
        "m" | "mb" => 1024 * 1024,
        _ => 0,
    };
    let bad = || {
        RuleError::new(tok.span, format!("invalid burst `{text}`"))
            .with_help("a burst is a packet count (1-1000000) or a size such as `400kb` or `1mb`")
    };
    if digits.is_empty() || factor == 0 {
        return Err(bad());
    }
    let v: u64 = digits.parse().map_err(|_| bad())?;
    if v == 0 {
        return Err(RuleError::new(tok.span, "the burst must be at least 1"));
    }
    if suffix.is_empty() && v > BURST_MAX {
        return Err(RuleError::new(
            tok.span,
            format!("burst `{text}` is out of range 1-{BURST_MAX}"),
        ));
    }
    v.checked_mul(factor).ok_or_else(bad)
}

/// `srcip,dstport,...` (`|` also separates); empty means no key.
fn parse_mode(tok: &Token) -> Result<HashlimitMode, RuleError> {
    let mut m = HashlimitMode::default();
    for part in tok.text.split([',', '|']).filter(|p| !p.is_empty()) {
        match part {
            "srcip" => m.srcip = true,
            "srcport" => m.srcport = true,
            "dstip" => m.dstip = true,
            "dstport" => m.dstport = true,
            _ => {
                return Err(
                    RuleError::new(tok.span, format!("unknown hashlimit mode `{part}`"))
                        .with_help("modes are srcip, srcport, dstip and dstport, comma-separated"),
                )
            }
        }
    }
    Ok(m)
}

/// The kernel's cost of one 16-byte unit at `bytes` per second.
fn bytes_to_cost(bytes: u64) -> u64 {
    // iptables keeps the shifted value in a u32.
    let r = (bytes >> BYTE_SHIFT) as u32;
    match r.checked_add(1) {
        Some(d) => u64::from(u32::MAX / d),
        None => 0,
    }
}

/// The bytes per second a cost stands for.
fn cost_to_bytes(cost: u64) -> u64 {
    let r = u64::from(u32::MAX)
        .checked_div(cost)
        .unwrap_or(u64::from(u32::MAX));
    r.saturating_sub(1) << BYTE_SHIFT
}

/// Byte size units iptables prints, largest first.
const UNITS: [(&str, u64); 3] = [("m", 1024 * 1024), ("k", 1024), ("", 1)];

pub(crate) fn save(m: &Hashlimit, cx: &SaveCtx, out: &mut String) {
    use std::fmt::Write;
    out.push_str(if m.above {
        " --hashlimit-above"
    } else {
        " --hashlimit-upto"
    });
    let quantum = match m.rate {
        HashlimitRate::Bytes { per_second, burst } => {
            let cost = bytes_to_cost(per_second);
            let r = cost_to_bytes(cost);
            let (uname, thresh) = UNITS
                .iter()
                .take(UNITS.len() - 1)
                .find(|(_, t)| r >= *t && bytes_to_cost(r & !(t - 1)) == cost)
                .copied()
                .unwrap_or(("", 1));
            let _ = write!(out, " {}{uname}b/s", r / thresh);
            if burst == 0 || r == 0 {
                BYTE_EXPIRE * 1000
            } else {
                let chunks = burst.div_ceil(r);
                let total = r.saturating_mul(chunks);
                let (uname, thresh) = UNITS
                    .iter()
                    .find(|(_, t)| total >= *t)
                    .copied()
                    .unwrap_or(("", 1));
                let _ = write!(out, " --hashlimit-burst {}{uname}b", total / thresh);
                BYTE_EXPIRE_BURST * 1000
            }
        }
        HashlimitRate::Packets { rate, burst } => {
            let _ = write!(out, " {rate} --hashlimit-burst {burst}");
            rate.unit.seconds() as u32 * 1000
        }
    };
    if !m.mode.is_empty() {
        let names: Vec<&str> = [
            (m.mode.srcip, "srcip"),
            (m.mode.srcport, "srcport"),
            (m.mode.dstip, "dstip"),
            (m.mode.dstport, "dstport"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| n)
        .collect();
        save_opt_val(out, false, "hashlimit-mode", names.join(","));
    }
    save_opt_val(out, false, "hashlimit-name", &m.name);
    if let Some(v) = m.htable_size {
        save_opt_val(out, false, "hashlimit-htable-size", v);
    }
    if let Some(v) = m.htable_max {
        save_opt_val(out, false, "hashlimit-htable-max", v);
    }
    if m.gc_interval != DEFAULT_GC_INTERVAL {
        save_opt_val(out, false, "hashlimit-htable-gcinterval", m.gc_interval);
    }
    if m.expire != quantum {
        save_opt_val(out, false, "hashlimit-htable-expire", m.expire);
    }
    let full = match cx.family {
        Family::Ipv4 => 32,
        Family::Ipv6 => 128,
    };
    if m.srcmask != full {
        save_opt_val(out, false, "hashlimit-srcmask", m.srcmask);
    }
    if m.dstmask != full {
        save_opt_val(out, false, "hashlimit-dstmask", m.dstmask);
    }
    if let Some(interval) = m.rate_match {
        out.push_str(" --hashlimit-rate-match");
        if interval != 1 {
            save_opt_val(out, false, "hashlimit-rate-interval", interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::limit::roundtrip;
    use super::*;

    fn v4(rule: &str) -> String {
        roundtrip(rule, Family::Ipv4).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn rate_match_divides_by_the_unit() {
        // Checked against iptables 1.8.9.
        assert_eq!(
            v4("-m hashlimit --hashlimit-upto 40/min --hashlimit-name a --hashlimit-rate-match"),
            "-m hashlimit --hashlimit-upto 40/sec --hashlimit-burst 5 --hashlimit-name a \
             --hashlimit-htable-expire 60000 --hashlimit-rate-match --hashlimit-rate-interval 60"
        );
    }

    #[test]
    fn byte_rates_and_bursts() {
        assert_eq!(
            v4("-m hashlimit --hashlimit-upto 123456b/s --hashlimit-burst 1mb --hashlimit-name m"),
            "-m hashlimit --hashlimit-upto 123456b/s --hashlimit-burst 1mb --hashlimit-name m"
        );
        assert_eq!(
            v4("-m hashlimit --hashlimit-upto 5kb/s --hashlimit-name a --hashlimit-rate-match"),
            "-m hashlimit --hashlimit-upto 5kb/s --hashlimit-name a --hashlimit-rate-match"
        );
        assert!(v4(
            "-m hashlimit --hashlimit-upto 100kb/s --hashlimit-burst 1000 --hashlimit-name a"
        )
        .contains("burst cannot be smaller than 102400b"));
    }

    #[test]
    fn modes_masks_and_inversion() {
        assert_eq!(
            v4("-m hashlimit ! --hashlimit-above 7/hour --hashlimit-name a --hashlimit-srcmask 24 --hashlimit-mode dstport,srcip"),
            "-m hashlimit --hashlimit-upto 7/hour --hashlimit-burst 5 --hashlimit-mode srcip,dstport --hashlimit-name a --hashlimit-srcmask 24"
        );
        assert_eq!(
            v4("-m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 2k --hashlimit-name a"),
            "-m hashlimit --hashlimit-upto 1/sec --hashlimit-burst 2048 --hashlimit-name a"
        );
        assert!(v4(
            "-m hashlimit --hashlimit-upto 1/sec --hashlimit-above 1/sec --hashlimit-name a"
        )
        .starts_with("ERR"));
        assert!(v4(
            "-m hashlimit --hashlimit-upto 1/sec --hashlimit-name a --hashlimit-htable-expire 0"
        )
        .starts_with("ERR"));
        assert!(v4(
            "-m hashlimit --hashlimit-upto 1/sec --hashlimit-name a --hashlimit-mode bogus"
        )
        .starts_with("ERR"));
        assert!(v4(
            "-m hashlimit --hashlimit-upto 1/sec --hashlimit-name a --hashlimit-srcmask 33"
        )
        .starts_with("ERR"));
    }
}
