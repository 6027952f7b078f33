//! `-m dscp`: `[!] --dscp N` or `[!] --dscp-class CLASS`.

use crate::iptables::ext::*;
use rampart_model::matches::dscp::Dscp;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "dscp",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["dscp"], Arity::One),
        OptSpec::new(&["dscp-class"], Arity::One),
    ],
    build,
};

/// DiffServ class names (RFC 2474, 2597, 3246) and their code points.
pub(crate) const CLASSES: &[(&str, u8)] = &[
    ("CS0", 0x00),
    ("CS1", 0x08),
    ("CS2", 0x10),
    ("CS3", 0x18),
    ("CS4", 0x20),
    ("CS5", 0x28),
    ("CS6", 0x30),
    ("CS7", 0x38),
    ("BE", 0x00),
    ("AF11", 0x0a),
    ("AF12", 0x0c),
    ("AF13", 0x0e),
    ("AF21", 0x12),
    ("AF22", 0x14),
    ("AF23", 0x16),
    ("AF31", 0x1a),
    ("AF32", 0x1c),
    ("AF33", 0x1e),
    ("AF41", 0x22),
    ("AF42", 0x24),
    ("AF43", 0x26),
    ("EF", 0x2e),
];

/// A DiffServ class name, case-insensitive.
pub(crate) fn parse_class(tok: &Token) -> Result<u8, RuleError> {
    CLASSES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&tok.text))
        .map(|&(_, v)| v)
        .ok_or_else(|| {
            RuleError::new(tok.span, format!("unknown DSCP class `{}`", tok.text)).with_help(
                "classes are CS0-CS7, BE, AF11-AF13, AF21-AF23, AF31-AF33, AF41-AF43, EF",
            )
        })
}

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut found: Option<&OptOcc> = None;
    for o in opts {
        if let Some(prev) = found {
            return Err(RuleError::new(
                o.span,
                format!(
                    "`--{}` cannot be used together with `--{}`",
                    o.name, prev.name
                ),
            ));
        }
        found = Some(o);
    }
    let Some(o) = found else {
        return Err(cx
            .error("`-m dscp` needs `--dscp` or `--dscp-class`")
            .with_help("for example `-m dscp --dscp-class EF`"));
    };
    let value = match o.name {
        "dscp-class" => parse_class(&o.arg())?,
        _ => parse_uint(&o.arg(), "DSCP value", 0, 63)? as u8,
    };
    Ok(Match::Dscp(Dscp {
        dscp: Neg::inverted(value, o.invert),
    }))
}

pub(crate) fn save(m: &Dscp, _: &SaveCtx, out: &mut String) {
    save_opt_val(
        out,
        m.dscp.invert,
        "dscp",
        format!("0x{:02x}", m.dscp.value),
    );
}
