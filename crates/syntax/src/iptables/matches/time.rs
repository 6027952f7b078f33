//! `-m time`: `--timestart`, `--timestop`, `--datestart`, `--datestop`,
//! `[!] --weekdays`, `[!] --monthdays`, `--kerneltz` (`--localtz`),
//! `--utc`, `--contiguous`.
//!
//! Dates are read and printed in UTC, as iptables does (the kernel applies
//! `--kerneltz`). iptables-save 1.8.9 always prints `--datestop`, even the
//! default 2038-01-19T03:14:07.

use crate::iptables::ext::*;
use rampart_model::matches::time::Time;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "time",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["datestart"], Arity::One),
        OptSpec::new(&["datestop"], Arity::One),
        OptSpec::new(&["timestart"], Arity::One),
        OptSpec::new(&["timestop"], Arity::One),
        OptSpec::new(&["contiguous"], Arity::None),
        OptSpec::new(&["weekdays"], Arity::One),
        OptSpec::new(&["monthdays"], Arity::One),
        OptSpec::new(&["localtz"], Arity::None),
        OptSpec::new(&["utc"], Arity::None),
        OptSpec::new(&["kerneltz"], Arity::None),
    ],
    build,
};

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn build(opts: &[OptOcc], _cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Time::default();
    let mut contiguous: Option<&OptOcc> = None;
    let mut tz: Option<&OptOcc> = None;
    for o in opts {
        o.check_invert(matches!(o.name, "weekdays" | "monthdays"))?;
        let t = o.arg();
        match o.name {
            "datestart" => m.date_start = parse_date(&t)?,
            "datestop" => m.date_stop = parse_date(&t)?,
            "timestart" => m.time_start = parse_daytime(&t)?,
            "timestop" => m.time_stop = parse_daytime(&t)?,
            "contiguous" => contiguous = Some(o),
            "weekdays" => {
                m.weekdays = parse_weekdays(&t)?;
                if o.invert {
                    m.weekdays ^= Time::ALL_WEEKDAYS;
                }
            }
            "monthdays" => {
                m.monthdays = parse_monthdays(&t)?;
                if o.invert {
                    m.monthdays ^= Time::ALL_MONTHDAYS;
                }
            }
            "localtz" | "kerneltz" | "utc" => {
                if let Some(prev) = tz {
                    if (prev.name == "utc") != (o.name == "utc") {
                        return Err(RuleError::new(
                            o.span,
                            format!("`--{}` conflicts with `--{}`", o.name, prev.name),
                        ));
                    }
                }
                tz = Some(o);
                if o.name != "utc" {
                    m.kerneltz = true;
                }
            }
            _ => {}
        }
    }
    if let Some(c) = contiguous {
        if m.time_start < m.time_stop {
            return Err(RuleError::new(
                c.span,
                "`--contiguous` only makes sense when `--timestop` is before `--timestart`",
            ));
        }
        m.contiguous = true;
    }
    Ok(Match::Time(m))
}

/// Leading decimal digits as `strtoul` reads them (none is 0), and the rest.
fn leading_number(s: &str) -> (u64, &str) {
    let end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let (digits, rest) = s.split_at(end);
    let v = digits.bytes().fold(0u64, |v, d| {
        v.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    (v, rest)
}

/// `hh:mm[:ss]`, seconds since midnight.
fn parse_daytime(t: &Token) -> Result<u32, RuleError> {
    let bad = || {
        RuleError::new(t.span, format!("invalid time of day `{}`", t.text))
            .with_help("write hh:mm or hh:mm:ss, between 00:00:00 and 23:59:59")
    };
    let (h, rest) = leading_number(&t.text);
    let rest = rest.strip_prefix(':').ok_or_else(bad)?;
    let (mi, rest) = leading_number(rest);
    let s = match rest.strip_prefix(':') {
        None if rest.is_empty() => 0,
        None => return Err(bad()),
        Some(rest) => {
            let (s, rest) = leading_number(rest);
            if !rest.is_empty() {
                return Err(bad());
            }
            s
        }
    };
    if h > 23 || mi > 59 || s > 59 {
        return Err(bad());
    }
    Ok((h * 3600 + mi * 60 + s) as u32)
}

/// `YYYY[-MM[-DD[Thh[:mm[:ss]]]]]` in UTC, normalised as `mktime` does
/// (month 0 is December of the year before, day 0 the last of the month
/// before).
fn parse_date(t: &Token) -> Result<u32, RuleError> {
    let bad = || {
        RuleError::new(t.span, format!("invalid date `{}`", t.text))
            .with_help("write YYYY[-MM[-DD[Thh[:mm[:ss]]]]] between 1970 and 2038")
    };
    // (separator that must follow, maximum) for month, day, hour, min, sec.
    let fields: [(Option<char>, u64); 5] = [
        (Some('-'), 12),
        (Some('T'), 31),
        (Some(':'), 23),
        (Some(':'), 59),
        (None, 59),
    ];
    let (year, mut rest) = leading_number(&t.text);
    if !(1970..=2038).contains(&year) {
        return Err(bad());
    }
    let mut vals = [1u64, 1, 0, 0, 0];
    let mut sep = Some('-');
    for (k, &(next_sep, max)) in fields.iter().enumerate() {
        if rest.is_empty() {
            break;
        }
        let Some(r) = sep.and_then(|c| rest.strip_prefix(c)) else {
            return Err(bad());
        };
        let (v, r) = leading_number(r);
        if v > max {
            return Err(bad());
        }
        if let Some(slot) = vals.get_mut(k) {
            *slot = v;
        }
        rest = r;
        sep = next_sep;
    }
    if !rest.is_empty() {
        return Err(bad());
    }
    let [month, day, hour, min, sec] = vals;
    let months = year as i64 * 12 + month as i64 - 1;
    let days = days_from_civil(months.div_euclid(12), months.rem_euclid(12) as u32 + 1, 1)
        + day as i64
        - 1;
    let secs = days * 86_400 + (hour * 3600 + min * 60 + sec) as i64;
    u32::try_from(secs).map_err(|_| bad())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `1,2,31`: days of the month, bits 1..31.
fn parse_monthdays(t: &Token) -> Result<u32, RuleError> {
    let mut mask = 0u32;
    for part in t.text.split(',') {
        let day = part
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=31).contains(d) && !part.starts_with('0'))
            .ok_or_else(|| {
                RuleError::new(t.span, format!("`{part}` is not a day of the month"))
                    .with_help("give days 1 to 31, comma-separated")
            })?;
        mask |= 1 << day;
    }
    Ok(mask)
}

/// `Mon,Tue` (the first two letters count) or `1,2` (1 is Monday).
fn parse_weekdays(t: &Token) -> Result<u8, RuleError> {
    let mut mask = 0u8;
    for part in t.text.split(',') {
        let bad = || {
            RuleError::new(t.span, format!("`{part}` is not a day of the week"))
                .with_help("days are Mon, Tue, Wed, Thu, Fri, Sat, Sun or 1 (Monday) to 7")
        };
        let day = if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            match part.parse::<u8>() {
                Ok(d @ 1..=7) => d,
                _ => return Err(bad()),
            }
        } else {
            let prefix = part.get(..2).ok_or_else(bad)?;
            let idx = WEEKDAYS
                .iter()
                .position(|w| w.starts_with(prefix))
                .ok_or_else(bad)?;
            idx as u8 + 1
        };
        mask |= 1 << day;
    }
    Ok(mask)
}

fn save_daytime(out: &mut String, name: &str, t: u32) {
    let v = format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
    save_opt_val(out, false, name, v);
}

fn save_date(out: &mut String, name: &str, d: u32) {
    if d == 0 {
        return;
    }
    let secs = i64::from(d);
    let (y, mo, day) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let v = format!(
        "{y:04}-{mo:02}-{day:02}T{:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
    save_opt_val(out, false, name, v);
}

pub(crate) fn save(m: &Time, _: &SaveCtx, out: &mut String) {
    if m.time_start != 0 || m.time_stop != Time::MAX_DAYTIME {
        save_daytime(out, "timestart", m.time_start);
        save_daytime(out, "timestop", m.time_stop);
    }
    if m.monthdays != Time::ALL_MONTHDAYS {
        let days: Vec<String> = (1..=31)
            .filter(|d| m.monthdays & (1 << d) != 0)
            .map(|d| d.to_string())
            .collect();
        save_opt_val(out, false, "monthdays", days.join(","));
    }
    if m.weekdays != Time::ALL_WEEKDAYS {
        let days: Vec<&str> = (1..=7)
            .filter(|d| m.weekdays & (1 << d) != 0)
            .filter_map(|d| WEEKDAYS.get(d - 1).copied())
            .collect();
        save_opt_val(out, false, "weekdays", days.join(","));
    }
    save_date(out, "datestart", m.date_start);
    save_date(out, "datestop", m.date_stop);
    if m.kerneltz {
        save_opt(out, false, "kerneltz");
    }
    if m.contiguous {
        save_opt(out, false, "contiguous");
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
    fn matches_iptables_1_8_9() {
        // Each checked against iptables 1.8.9 in a network namespace.
        for (input, printed) in [
            ("--timestart 01:00", "--timestart 01:00:00 --timestop 23:59:59 --datestop 2038-01-19T03:14:07"),
            ("--datestart 2001", "--datestart 2001-01-01T00:00:00 --datestop 2038-01-19T03:14:07"),
            ("! --weekdays Mo,Tu --monthdays 31,1", "--monthdays 1,31 --weekdays Wed,Thu,Fri,Sat,Sun --datestop 2038-01-19T03:14:07"),
            ("--datestart 2001-00-00", "--datestart 2000-11-30T00:00:00 --datestop 2038-01-19T03:14:07"),
            ("--datestart 2038-12-31T23:59:59", "--datestart 2038-12-31T23:59:59 --datestop 2038-01-19T03:14:07"),
            ("--timestart 22:00 --timestop 01:00 --contiguous --utc", "--timestart 22:00:00 --timestop 01:00:00 --datestop 2038-01-19T03:14:07 --contiguous"),
            ("--weekdays Monday,7 --localtz", "--weekdays Mon,Sun --datestop 2038-01-19T03:14:07 --kerneltz"),
        ] {
            assert_eq!(v4(&format!("-m time {input}")), format!("-m time {printed}"), "{input}");
        }
    }

    #[test]
    fn rejected() {
        for bad in [
            "--timestart 24:00",
            "--timestart 1",
            "--datestart 1969",
            "--datestart 2001-13",
            "--datestart 2001-01-01X",
            "--weekdays 0",
            "--weekdays M",
            "--monthdays 32",
            "--monthdays 0",
            "--utc --kerneltz",
            "--timestart 01:00 --timestop 02:00 --contiguous",
        ] {
            assert!(v4(&format!("-m time {bad}")).starts_with("ERR"), "{bad}");
        }
    }

    #[test]
    fn calendar_round_trips() {
        for days in [0i64, 59, 365, 10_957, 24_855, 25_202] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
