//! `-j NFQUEUE [--queue-num N | --queue-balance A:B] [--queue-bypass]
//! [--queue-cpu-fanout]`.
//!
//! iptables-save always prints the queue (`--queue-num 0` by default),
//! then the flags. `--queue-cpu-fanout` needs `--queue-balance`.

use super::snat::strtoui_prefix;
use crate::iptables::ext::*;
use rampart_model::targets::nfqueue::{Nfqueue, QueueSpec};

pub(crate) static EXT: TargetExt = TargetExt {
    name: "NFQUEUE",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["queue-num"], Arity::One),
        OptSpec::new(&["queue-balance"], Arity::One),
        OptSpec::new(&["queue-bypass"], Arity::None),
        OptSpec::new(&["queue-cpu-fanout"], Arity::None),
    ],
    build,
};

/// Highest queue number in a balance range (the kernel counts the queues
/// in 16 bits).
const BALANCE_MAX: u16 = 65534;

fn build(opts: &[OptOcc], _: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    let mut q = Nfqueue::default();
    let mut num: Option<&OptOcc> = None;
    let mut balance: Option<&OptOcc> = None;
    let mut fanout: Option<&OptOcc> = None;
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "queue-num" => {
                num = Some(o);
                q.queue = QueueSpec::Num(parse_uint(&o.arg(), "queue number", 0, 65535)? as u16);
            }
            "queue-balance" => {
                balance = Some(o);
                let (first, last) = parse_balance(&o.arg())?;
                q.queue = QueueSpec::Balance { first, last };
            }
            "queue-bypass" => q.bypass = true,
            "queue-cpu-fanout" => {
                fanout = Some(o);
                q.cpu_fanout = true;
            }
            _ => {}
        }
    }
    if let (Some(n), Some(b)) = (num, balance) {
        let later = if n.span.start > b.span.start { n } else { b };
        return Err(RuleError::new(
            later.span,
            "`--queue-num` and `--queue-balance` cannot be used together",
        )
        .with_help("use `--queue-balance FIRST:LAST` alone to spread over several queues"));
    }
    if let (Some(f), None) = (fanout, balance) {
        return Err(
            RuleError::new(f.span, "`--queue-cpu-fanout` needs `--queue-balance`")
                .with_help("add `--queue-balance FIRST:LAST`"),
        );
    }
    Ok(Target::Nfqueue(q))
}

/// `FIRST:LAST` with either side optional (0 and 65534); FIRST < LAST.
fn parse_balance(tok: &Token) -> Result<(u16, u16), RuleError> {
    let text = tok.text.as_str();
    let err = |m: String| RuleError::new(tok.span, m);
    let (a, b) = text.split_once(':').ok_or_else(|| {
        err(format!("invalid queue range `{text}`")).with_help("write `FIRST:LAST`, e.g. `0:3`")
    })?;
    let part = |s: &str, default: u16| -> Result<u16, RuleError> {
        if s.is_empty() {
            return Ok(default);
        }
        match strtoui_prefix(s, 0, u64::from(BALANCE_MAX)) {
            Some((v, "")) => Ok(v as u16),
            Some((_, rest)) => Err(err(format!("unexpected `{rest}` in queue range `{text}`"))),
            None => Err(err(format!(
                "invalid queue number `{s}` in `{text}` (0-{BALANCE_MAX})"
            ))),
        }
    };
    let first = part(a, 0)?;
    let last = part(b, BALANCE_MAX)?;
    if first >= last {
        return Err(err(format!(
            "invalid queue range `{text}`: {first} must be less than {last}"
        ))
        .with_help("for a single queue use `--queue-num`"));
    }
    Ok((first, last))
}

pub(crate) fn save(q: &Nfqueue, _: &SaveCtx, out: &mut String) {
    match q.queue {
        QueueSpec::Num(n) => save_opt_val(out, false, "queue-num", n),
        QueueSpec::Balance { first, last } => {
            save_opt_val(out, false, "queue-balance", format_args!("{first}:{last}"))
        }
    }
    if q.bypass {
        save_opt(out, false, "queue-bypass");
    }
    if q.cpu_fanout {
        save_opt(out, false, "queue-cpu-fanout");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    fn bal(s: &str) -> Option<(u16, u16)> {
        parse_balance(&Token::new(s, Span::new(0, s.len()))).ok()
    }

    #[test]
    fn balance_ranges() {
        assert_eq!(bal(":"), Some((0, 65534)));
        assert_eq!(bal(":4"), Some((0, 4)));
        assert_eq!(bal("4:"), Some((4, 65534)));
        assert_eq!(bal("0x10:0x11"), Some((16, 17)));
        assert_eq!(bal(" 1: 2"), Some((1, 2)));
        for bad in ["4", "4:4", "4:3", "0:65535", "-1:5", "1:2:3", "3-4", "a:b"] {
            assert_eq!(bal(bad), None, "{bad}");
        }
    }

    /// Checked against iptables 1.8.9 (nf_tables) in a network namespace:
    /// `Some(printed)` when it accepts the line, `None` when it refuses it.
    #[test]
    fn rules_as_iptables_handles_them() {
        let v4 = Family::Ipv4;
        let cases: &[(Family, &str, &str, Option<&str>)] = &[
            (
                v4,
                "filter",
                "-A INPUT -j NFQUEUE --queue-num 3 --queue-balance 4:5",
                None,
            ),
            (
                v4,
                "filter",
                "-A INPUT -j NFQUEUE --queue-balance 4:5 --queue-num 3",
                None,
            ),
            (v4, "filter", "-A INPUT -j NFQUEUE --queue-cpu-fanout", None),
            (
                v4,
                "filter",
                "-A INPUT -j NFQUEUE --queue-num 1 --queue-cpu-fanout",
                None,
            ),
            (
                v4,
                "filter",
                "-A INPUT -j NFQUEUE --queue-bypass --queue-bypass",
                None,
            ),
            (
                v4,
                "filter",
                "-A INPUT -j NFQUEUE --queue-num 0x10",
                Some("-j NFQUEUE --queue-num 16"),
            ),
            (
                v4,
                "nat",
                "-A PREROUTING -j NFQUEUE",
                Some("-j NFQUEUE --queue-num 0"),
            ),
        ];
        crate::iptables::testutil::check_cases(cases);
    }
}
