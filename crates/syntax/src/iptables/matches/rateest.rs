//! `-m rateest`: compares rate estimators made by `-j RATEEST`.
//!
//! A port of libxt_rateest.c. Absolute mode (`--rateest NAME`, also
//! spelled `--rateest1`) compares one estimator with given rates; relative
//! mode (`--rateest1 A ... --rateest2 B`) compares two estimators;
//! `--rateest-delta` compares the given rates minus the estimated ones.
//! `--rateest-bps[1|2]` and `--rateest-pps[1|2]` (`--rateest-bps` is
//! `--rateest-bps2`) take an optional value: the next word unless it starts
//! with `-` or `!`. Byte rates are written as tc writes them (`8bit`,
//! `5kbit`, `1Mibit`, `2KBps`, ...; a bare number is bits per second) and
//! kept in bytes per second; iptables-save prints them as `%.0f` of bits
//! in `bit`, `Kbit` or `Mbit`. The kernel needs one of `--rateest-lt`,
//! `--rateest-gt`, `--rateest-eq` (the last given wins; `!` on any of them
//! inverts) and at least one of bps and pps.

use crate::iptables::ext::*;
use rampart_model::matches::rateest::{Rateest, RateestOp, RateestValues};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "rateest",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["rateest1", "rateest"], Arity::One),
        OptSpec::new(&["rateest2"], Arity::One),
        OptSpec::new(&["rateest-bps1"], Arity::Optional),
        OptSpec::new(&["rateest-pps1"], Arity::Optional),
        OptSpec::new(&["rateest-bps2", "rateest-bps"], Arity::Optional),
        OptSpec::new(&["rateest-pps2", "rateest-pps"], Arity::Optional),
        OptSpec::new(&["rateest-delta"], Arity::None),
        OptSpec::new(&["rateest-lt"], Arity::None),
        OptSpec::new(&["rateest-gt"], Arity::None),
        OptSpec::new(&["rateest-eq"], Arity::None),
    ],
    build,
};

/// Longest estimator name (`char name1[IFNAMSIZ]`).
const NAME_MAX: usize = 15;

/// tc's rate units (iproute2's `suffixes[]`, copied into libxt_rateest.c):
/// name (matched case-insensitively) and bits per unit.
const UNITS: &[(&str, f64)] = &[
    ("bit", 1.),
    ("Kibit", 1024.),
    ("kbit", 1000.),
    ("Mibit", 1024. * 1024.),
    ("mbit", 1_000_000.),
    ("Gibit", 1024. * 1024. * 1024.),
    ("gbit", 1_000_000_000.),
    ("Tibit", 1024. * 1024. * 1024. * 1024.),
    ("tbit", 1_000_000_000_000.),
    ("Bps", 8.),
    ("KiBps", 8. * 1024.),
    ("KBps", 8000.),
    ("MiBps", 8. * 1024. * 1024.),
    ("MBps", 8_000_000.),
    ("GiBps", 8. * 1024. * 1024. * 1024.),
    ("GBps", 8_000_000_000.),
    ("TiBps", 8. * 1024. * 1024. * 1024. * 1024.),
    ("TBps", 8_000_000_000_000.),
];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let (mut name1, mut name2) = (None, None);
    let mut delta = false;
    let (mut bps, mut pps): (Option<RateestValues>, Option<RateestValues>) = (None, None);
    let mut op: Option<RateestOp> = None;
    let mut invert = false;
    for o in opts {
        o.check_invert(matches!(o.name, "rateest-lt" | "rateest-gt" | "rateest-eq"))?;
        match o.name {
            "rateest1" => name1 = Some(parse_name(&o.arg())?),
            "rateest2" => name2 = Some(parse_name(&o.arg())?),
            "rateest-bps1" | "rateest-bps2" => {
                let v = o.args.first().map(parse_rate).transpose()?;
                set_value(bps.get_or_insert_with(Default::default), o.name, v);
            }
            "rateest-pps1" | "rateest-pps2" => {
                let v = o.args.first().map(parse_pps).transpose()?;
                set_value(pps.get_or_insert_with(Default::default), o.name, v);
            }
            "rateest-delta" => delta = true,
            _ => {
                op = Some(match o.name {
                    "rateest-lt" => RateestOp::Lt,
                    "rateest-gt" => RateestOp::Gt,
                    _ => RateestOp::Eq,
                });
                invert |= o.invert;
            }
        }
    }
    let help = "e.g. `-m rateest --rateest wan --rateest-gt --rateest-bps 10mbit`";
    let Some(name1) = name1 else {
        return Err(cx
            .error("`-m rateest` needs `--rateest NAME` (or `--rateest1 NAME`)")
            .with_help(help));
    };
    if bps.is_none() && pps.is_none() {
        return Err(cx
            .error("`-m rateest` needs `--rateest-bps` or `--rateest-pps`")
            .with_help(help));
    }
    let Some(op) = op else {
        return Err(cx
            .error("`-m rateest` needs one of `--rateest-lt`, `--rateest-gt`, `--rateest-eq`")
            .with_help(help));
    };
    // Keep only the values the kernel uses (and iptables-save prints); a
    // used value that was not given is 0.
    let absolute = name2.is_none();
    let used = |v: RateestValues| RateestValues {
        v1: delta.then(|| v.v1.unwrap_or(0)),
        v2: (absolute || delta).then(|| v.v2.unwrap_or(0)),
    };
    Ok(Match::Rateest(Rateest {
        delta,
        name1,
        name2,
        bps: bps.map(used),
        pps: pps.map(used),
        op: Neg::inverted(op, invert),
    }))
}

fn set_value(values: &mut RateestValues, option: &str, v: Option<u32>) {
    if option.ends_with('1') {
        values.v1 = v;
    } else {
        values.v2 = v;
    }
}

fn parse_name(tok: &Token) -> Result<String, RuleError> {
    if tok.text.is_empty() || tok.text.len() > NAME_MAX {
        return Err(RuleError::new(
            tok.span,
            format!("an estimator name has 1 to {NAME_MAX} bytes"),
        )
        .with_help("use the name given to `-j RATEEST --rateest-name`"));
    }
    Ok(tok.text.clone())
}

/// A packet rate: a whole string `xtables_strtoui` with base 0 accepts.
fn parse_pps(tok: &Token) -> Result<u32, RuleError> {
    match super::u32::strtoul(tok.text.as_bytes(), 0) {
        Some((v, end)) if end == tok.text.len() => Ok(v),
        _ => Err(RuleError::new(
            tok.span,
            format!("could not parse packet rate `{}`", tok.text),
        )
        .with_help("give packets per second as a number 0-4294967295")),
    }
}

/// A byte rate as `rateest_get_rate` reads it: a `strtod` number and an
/// optional unit (none: bits per second), stored in bytes per second
/// (truncated).
fn parse_rate(tok: &Token) -> Result<u32, RuleError> {
    let text = tok.text.as_str();
    let bad = || {
        RuleError::new(tok.span, format!("could not parse rate `{text}`"))
            .with_help("write a rate as a number and a unit: bit, kbit, mbit, gbit, tbit, Kibit, ..., Bps, KBps, MBps, KiBps, ...")
    };
    let (num, len) = strtod(text).ok_or_else(bad)?;
    let unit = text.get(len..).ok_or_else(bad)?;
    let scale = if unit.is_empty() {
        1.
    } else {
        UNITS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(unit))
            .map(|&(_, s)| s)
            .ok_or_else(bad)?
    };
    let bytes = num * scale / 8.;
    // C converts with `uint32_t = double`, which truncates; outside
    // (-1, 2^32) the conversion is undefined, so refuse those.
    if !(bytes > -1. && bytes < 4_294_967_296.) {
        return Err(
            RuleError::new(tok.span, format!("rate `{text}` is out of range"))
                .with_help("the highest rate is 4294967295 bytes per second (about 34gbit)"),
        );
    }
    Ok(bytes as u32)
}

/// The number `strtod` reads at the start of `s` (decimal or `0x` hex
/// floating point, after blanks and a sign) and its length in bytes.
/// `inf` and `nan` are not read (they are never a valid rate).
fn strtod(s: &str) -> Option<(f64, usize)> {
    let b = s.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while matches!(at(i), b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let negative = at(i) == b'-';
    if matches!(at(i), b'+' | b'-') {
        i += 1;
    }
    let hex = at(i) == b'0'
        && at(i + 1) | 0x20 == b'x'
        && (at(i + 2).is_ascii_hexdigit() || (at(i + 2) == b'.' && at(i + 3).is_ascii_hexdigit()));
    let value = if hex {
        i += 2;
        let mut m = 0f64;
        let mut exp: i32 = 0;
        while let Some(d) = char::from(at(i)).to_digit(16) {
            m = m * 16. + f64::from(d);
            i += 1;
        }
        if at(i) == b'.' {
            i += 1;
            while let Some(d) = char::from(at(i)).to_digit(16) {
                m = m * 16. + f64::from(d);
                exp = exp.saturating_sub(4);
                i += 1;
            }
        }
        if at(i) | 0x20 == b'p' {
            if let Some((e, len)) = exponent(b, i + 1) {
                exp = exp.saturating_add(e);
                i += 1 + len;
            }
        }
        m * 2f64.powi(exp)
    } else {
        let start = i;
        let int_digits = b[start.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        i += int_digits;
        let mut frac_digits = 0;
        if at(i) == b'.' {
            frac_digits = b[(i + 1).min(b.len())..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if int_digits + frac_digits > 0 {
                i += 1 + frac_digits;
            }
        }
        if int_digits + frac_digits == 0 {
            return None;
        }
        if at(i) | 0x20 == b'e' {
            if let Some((_, len)) = exponent(b, i + 1) {
                i += 1 + len;
            }
        }
        s.get(start..i)?.parse::<f64>().ok()?
    };
    Some((if negative { -value } else { value }, i))
}

/// A decimal exponent `[+-]digits` at `from`: its value (saturated) and
/// length.
fn exponent(b: &[u8], from: usize) -> Option<(i32, usize)> {
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut i = from;
    let negative = at(i) == b'-';
    if matches!(at(i), b'+' | b'-') {
        i += 1;
    }
    let digits = i;
    let mut e: i32 = 0;
    while at(i).is_ascii_digit() {
        e = e.saturating_mul(10).saturating_add(i32::from(at(i) - b'0'));
        i += 1;
    }
    (i > digits).then_some((if negative { -e } else { e }, i - from))
}

/// `rateest_print_rate(rate, 0)`: `%.0f` of the bits per second in `bit`,
/// or of thousands (`Kbit`) or millions (`Mbit`) of them.
fn save_rate(out: &mut String, bytes: u32) {
    use std::fmt::Write;
    let bits = u64::from(bytes) * 8;
    // `%.0f` of `bits / d` rounds half to even; `bits` is below 2^35 so the
    // double quotient rounds like the exact one.
    let div = |d: u64| {
        let (q, r) = (bits / d, bits % d);
        if 2 * r > d || (2 * r == d && q % 2 == 1) {
            q + 1
        } else {
            q
        }
    };
    let _ = if bits >= 1_000_000_000 {
        write!(out, " {}Mbit", div(1_000_000))
    } else if bits >= 1_000_000 {
        write!(out, " {}Kbit", div(1000))
    } else {
        write!(out, " {bits}bit")
    };
}

pub(crate) fn save(m: &Rateest, _: &SaveCtx, out: &mut String) {
    use std::fmt::Write;
    if m.delta {
        out.push_str(" --rateest-delta");
    }
    let absolute = m.name2.is_none();
    let _ = write!(
        out,
        " --rateest{} {}",
        if absolute { "" } else { "1" },
        m.name1
    );
    let mode =
        |out: &mut String| save_opt(out, m.op.invert, &format!("rateest-{}", m.op.value.name()));
    for (values, name) in [(m.bps, "bps"), (m.pps, "pps")] {
        let Some(v) = values else { continue };
        let value = |out: &mut String, v: u32| {
            if name == "bps" {
                save_rate(out, v);
            } else {
                let _ = write!(out, " {v}");
            }
        };
        if m.delta {
            let _ = write!(out, " --rateest-{name}1");
            value(out, v.v1.unwrap_or(0));
            mode(out);
            let _ = write!(out, " --rateest-{name}2");
        } else {
            mode(out);
            let _ = write!(out, " --rateest-{name}");
        }
        if absolute || m.delta {
            value(out, v.v2.unwrap_or(0));
        }
    }
    if let Some(n2) = &m.name2 {
        let _ = write!(out, " --rateest2 {n2}");
    }
}

#[cfg(test)]
mod tests {
    use super::super::limit::roundtrip;
    use super::*;

    fn rt(rule: &str) -> Result<String, String> {
        roundtrip(&format!("-m rateest {rule}"), Family::Ipv4)
            .map(|s| s.trim_start_matches("-m rateest ").to_string())
    }

    #[test]
    fn rates_print_like_iptables() {
        // Checked against iptables 1.8.9.
        for (given, printed) in [
            ("1mbit", "1000Kbit"),
            ("1000000kbit", "1000Mbit"),
            ("1000500bit", "1000Kbit"),
            ("1001500bit", "1001Kbit"),
            ("1e10bit", "10000Mbit"),
            ("0x10", "16bit"),
            ("8BPS", "64bit"),
            ("5kbit", "5000bit"),
            ("8", "8bit"),
            ("1Kibit", "1024bit"),
            ("12bit", "8bit"),
        ] {
            assert_eq!(
                rt(&format!("--rateest RE1 --rateest-lt --rateest-bps {given}")),
                Ok(format!(
                    "--rateest RE1 --rateest-lt --rateest-bps {printed}"
                )),
                "{given}"
            );
        }
    }

    #[test]
    fn save_order_and_unused_values() {
        // Checked against iptables 1.8.9: a value the kernel ignores is
        // dropped, a missing one prints as 0, the mode is printed for
        // each quantity and `!` on any mode inverts.
        assert_eq!(
            rt("--rateest RE1 ! --rateest-lt --rateest-gt --rateest-pps --rateest-bps1 5"),
            Ok(
                "--rateest RE1 ! --rateest-gt --rateest-bps 0bit ! --rateest-gt --rateest-pps 0"
                    .into()
            )
        );
        assert_eq!(
            rt("--rateest-lt --rateest-bps --rateest2 B --rateest-delta --rateest1 A"),
            Ok("--rateest-delta --rateest1 A --rateest-bps1 0bit --rateest-lt --rateest-bps2 0bit --rateest2 B".into())
        );
        assert_eq!(
            rt("--rateest1 A --rateest-eq --rateest-pps 7 --rateest2 B"),
            Ok("--rateest1 A --rateest-eq --rateest-pps --rateest2 B".into())
        );
    }

    #[test]
    fn bad_rules_are_rejected() {
        for bad in [
            "--rateest RE1 --rateest-bps 5",
            "--rateest RE1 --rateest-lt",
            "--rateest-lt --rateest-bps 5",
            "--rateest RE1 --rateest1 RE2 --rateest-lt --rateest-bps 5",
            "--rateest RE1 --rateest-lt --rateest-bps 5 --rateest-bps2 6",
            "--rateest RE1 --rateest-lt --rateest-lt --rateest-bps 5",
            "! --rateest RE1 --rateest-lt --rateest-bps 5",
            "--rateest RE1 ! --rateest-delta --rateest-lt --rateest-bps 5",
            "--rateest RE1 --rateest-lt ! --rateest-bps 5",
            "--rateest RE1 --rateest-lt --rateest-bps 5furlongs",
            "--rateest RE1 --rateest-lt --rateest-bps bit",
            "--rateest RE1 --rateest-lt --rateest-bps 1e12bit",
            "--rateest RE1 --rateest-lt --rateest-bps inf",
            "--rateest RE1 --rateest-lt --rateest-pps 5bit",
            "--rateest RE1 --rateest-lt --rateest-pps 4294967296",
            "--rateest RE1 --rateest-lt --rateest-pps ''",
            "--rateest 0123456789abcdef --rateest-lt --rateest-pps 1",
            "--rateest '' --rateest-lt --rateest-pps 1",
        ] {
            assert!(rt(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn strtod_reads_like_c() {
        assert_eq!(strtod("1.5e3kbit"), Some((1500., 5)));
        assert_eq!(strtod("1e"), Some((1., 1)));
        assert_eq!(strtod(".5x"), Some((0.5, 2)));
        assert_eq!(strtod("5."), Some((5., 2)));
        assert_eq!(strtod(" +0x1.8p1bit"), Some((3., 9)));
        assert_eq!(strtod("0xg"), Some((0., 1)));
        assert_eq!(strtod("."), None);
        assert_eq!(strtod("bit"), None);
        assert_eq!(strtod(""), None);
    }
}
