//! `-m tcp`: `--sport`, `--dport`, `--tcp-flags`, `--syn`, `--tcp-option`.

use crate::iptables::ext::*;
use rampart_model::matches::tcp::{flags, Tcp, TcpFlags};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "tcp",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["sport", "source-port"], Arity::One),
        OptSpec::new(&["dport", "destination-port"], Arity::One),
        OptSpec::new(&["tcp-flags"], Arity::Two),
        OptSpec::new(&["syn"], Arity::None),
        OptSpec::new(&["tcp-option"], Arity::One),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    cx.require_proto(&[Protocol::TCP])?;
    let mut m = Tcp::default();
    for o in opts {
        let dup = match o.name {
            "sport" => m
                .sport
                .replace(Neg::inverted(parse_port_range(&o.arg())?, o.invert))
                .is_some(),
            "dport" => m
                .dport
                .replace(Neg::inverted(parse_port_range(&o.arg())?, o.invert))
                .is_some(),
            "tcp-flags" => {
                let f = TcpFlags {
                    mask: parse_flags(&o.arg())?,
                    comp: parse_flags(&o.arg2())?,
                };
                m.flags.replace(Neg::inverted(f, o.invert)).is_some()
            }
            "syn" => m
                .flags
                .replace(Neg::inverted(TcpFlags::SYN, o.invert))
                .is_some(),
            "tcp-option" => {
                let v = parse_uint(&o.arg(), "TCP option", 0, 255)? as u8;
                m.option.replace(Neg::inverted(v, o.invert)).is_some()
            }
            _ => false,
        };
        if dup {
            return Err(RuleError::new(
                o.span,
                format!("`--{}` given more than once", o.name),
            ));
        }
    }
    Ok(Match::Tcp(m))
}

/// `SYN,ACK`, `ALL` or `NONE`.
fn parse_flags(tok: &Token) -> Result<u8, RuleError> {
    let mut v = 0u8;
    for name in tok.text.split(',') {
        v |= match name.to_ascii_uppercase().as_str() {
            "ALL" => 0x3f,
            "NONE" => 0,
            n => flags::NAMES
                .iter()
                .find(|(f, _)| *f == n)
                .map(|&(_, b)| b)
                .ok_or_else(|| {
                    RuleError::new(tok.span, format!("unknown TCP flag `{name}`"))
                        .with_help("flags are FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, ALL, NONE")
                })?,
        };
    }
    Ok(v)
}

fn flag_names(v: u8) -> String {
    if v == 0 {
        return "NONE".into();
    }
    let names: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(_, b)| v & b != 0)
        .map(|&(n, _)| n)
        .collect();
    names.join(",")
}

pub(crate) fn save(m: &Tcp, _: &SaveCtx, out: &mut String) {
    // iptables omits a range that covers every port unless it is inverted.
    for (name, p) in [("sport", &m.sport), ("dport", &m.dport)] {
        if let Some(p) = p {
            if p.value != PortRange::ALL || p.invert {
                save_opt_val(out, p.invert, name, p.value);
            }
        }
    }
    if let Some(o) = m.option {
        save_opt_val(out, o.invert, "tcp-option", o.value);
    }
    if let Some(f) = m.flags {
        save_opt(out, f.invert, "tcp-flags");
        out.push(' ');
        out.push_str(&flag_names(f.value.mask));
        out.push(' ');
        out.push_str(&flag_names(f.value.comp));
    }
}
