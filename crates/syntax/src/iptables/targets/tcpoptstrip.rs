//! `-j TCPOPTSTRIP [--strip-options LIST]` (mangle table, `-p tcp`).
//! LIST holds option numbers 2-255 or the names wscale, mss,
//! sack-permitted, sack, timestamp, md5; iptables-save prints numbers.

use super::tcpmss::require_tcp;
use crate::iptables::ext::*;
use rampart_model::targets::tcpoptstrip::Tcpoptstrip;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "TCPOPTSTRIP",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["strip-options"], Arity::One)],
    build,
};

const NAMES: [(&str, u8); 6] = [
    ("wscale", 3),
    ("mss", 2),
    ("sack-permitted", 4),
    ("sack", 5),
    ("timestamp", 8),
    ("md5", 19),
];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    cx.require_table(&[TableKind::Mangle])?;
    require_tcp(cx)?;
    let mut options: Vec<u8> = Vec::new();
    for o in opts {
        o.check_invert(false)?;
        let tok = o.arg();
        for word in tok.text.split(',') {
            let n = match NAMES.iter().find(|(n, _)| *n == word) {
                Some(&(_, n)) => n,
                None => parse_uint(&Token::new(word, tok.span), "TCP option", 0, 255)
                    .map_err(|e| {
                        e.with_help("use a number 2-255 or wscale, mss, sack-permitted, sack, timestamp, md5")
                    })? as u8,
            };
            if n < 2 {
                return Err(RuleError::new(
                    tok.span,
                    format!("TCP option {n} (end of list / no-op) cannot be stripped"),
                ));
            }
            if options.contains(&n) {
                return Err(RuleError::new(
                    tok.span,
                    format!("TCP option `{word}` given more than once"),
                ));
            }
            options.push(n);
        }
    }
    options.sort_unstable();
    Ok(Target::Tcpoptstrip(Tcpoptstrip { options }))
}

pub(crate) fn save(t: &Tcpoptstrip, _: &SaveCtx, out: &mut String) {
    if t.options.is_empty() {
        return;
    }
    let list: Vec<String> = t.options.iter().map(u8::to_string).collect();
    save_opt_val(out, false, "strip-options", list.join(","));
}
