//! `-j SYNPROXY [--sack-perm] [--timestamp] [--wscale N] [--mss N]
//! [--ecn]` (INPUT and FORWARD, with `-p tcp`).

use crate::iptables::ext::*;
use rampart_model::targets::synproxy::Synproxy;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "SYNPROXY",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["sack-perm"], Arity::None),
        OptSpec::new(&["timestamp"], Arity::None),
        OptSpec::new(&["wscale"], Arity::One),
        OptSpec::new(&["mss"], Arity::One),
        OptSpec::new(&["ecn"], Arity::None),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    cx.require_hook(&[Hook::Input, Hook::Forward])?;
    cx.require_proto(&[Protocol::TCP])?;
    let mut s = Synproxy::default();
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "sack-perm" => s.sack_perm = true,
            "timestamp" => s.timestamp = true,
            "wscale" => s.wscale = Some(parse_uint(&o.arg(), "window scale", 0, 255)? as u8),
            "mss" => s.mss = Some(parse_uint(&o.arg(), "MSS", 0, 65535)? as u16),
            "ecn" => s.ecn = true,
            _ => {}
        }
    }
    Ok(Target::Synproxy(s))
}

pub(crate) fn save(s: &Synproxy, _: &SaveCtx, out: &mut String) {
    if s.sack_perm {
        save_opt(out, false, "sack-perm");
    }
    if s.timestamp {
        save_opt(out, false, "timestamp");
    }
    if let Some(w) = s.wscale {
        save_opt_val(out, false, "wscale", w);
    }
    if let Some(m) = s.mss {
        save_opt_val(out, false, "mss", m);
    }
    if s.ecn {
        save_opt(out, false, "ecn");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checked against iptables 1.8.9 (nf_tables) in a network namespace:
    /// `Some(printed)` when it accepts the line, `None` when it refuses it.
    #[test]
    fn rules_as_iptables_handles_them() {
        let v4 = Family::Ipv4;
        let cases: &[(Family, &str, &str, Option<&str>)] = &[
            (
                v4,
                "filter",
                "-A INPUT -p tcp -j SYNPROXY",
                Some("-p tcp -j SYNPROXY"),
            ),
            (
                v4,
                "filter",
                "-A INPUT -p tcp -j SYNPROXY --ecn --mss 0 --wscale 14",
                Some("-p tcp -j SYNPROXY --wscale 14 --mss 0 --ecn"),
            ),
            (v4, "filter", "-A OUTPUT -p tcp -j SYNPROXY", None),
            (
                v4,
                "mangle",
                "-A INPUT -p tcp -j SYNPROXY",
                Some("-p tcp -j SYNPROXY"),
            ),
            (v4, "filter", "-A INPUT -p udp -j SYNPROXY", None),
            (v4, "filter", "-A INPUT -j SYNPROXY", None),
            (
                v4,
                "filter",
                "-A INPUT -p tcp -j SYNPROXY --sack-perm --sack-perm",
                None,
            ),
        ];
        crate::iptables::testutil::check_cases(cases);
    }
}
