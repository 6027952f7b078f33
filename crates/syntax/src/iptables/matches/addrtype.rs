//! `-m addrtype` (revision 1): `[!] --src-type T[,T...]`,
//! `[!] --dst-type T[,T...]`, `--limit-iface-in`, `--limit-iface-out`.

use crate::iptables::ext::*;
use rampart_model::matches::addrtype::{AddrType, Addrtype};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "addrtype",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["src-type"], Arity::One),
        OptSpec::new(&["dst-type"], Arity::One),
        OptSpec::new(&["limit-iface-in"], Arity::None),
        OptSpec::new(&["limit-iface-out"], Arity::None),
    ],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Addrtype::default();
    let mut iface_in = None;
    let mut iface_out = None;
    for o in opts {
        match o.name {
            "src-type" => m.src_type = Some(Neg::inverted(parse_types(&o.arg())?, o.invert)),
            "dst-type" => m.dst_type = Some(Neg::inverted(parse_types(&o.arg())?, o.invert)),
            "limit-iface-in" => {
                o.check_invert(false)?;
                iface_in = Some(o);
            }
            "limit-iface-out" => {
                o.check_invert(false)?;
                iface_out = Some(o);
            }
            _ => {}
        }
    }
    if let (Some(_), Some(o)) = (iface_in, iface_out) {
        return Err(RuleError::new(
            o.span,
            "`--limit-iface-in` and `--limit-iface-out` cannot be used together",
        ));
    }
    if m.src_type.is_none() && m.dst_type.is_none() {
        return Err(cx
            .error("`-m addrtype` needs `--src-type` or `--dst-type`")
            .with_help("for example `-m addrtype --dst-type LOCAL`"));
    }
    if let Some(o) = iface_in {
        check_hook(cx, o, &[Hook::Prerouting, Hook::Input, Hook::Forward])?;
        m.limit_iface_in = true;
    }
    if let Some(o) = iface_out {
        check_hook(cx, o, &[Hook::Postrouting, Hook::Output, Hook::Forward])?;
        m.limit_iface_out = true;
    }
    Ok(Match::Addrtype(m))
}

/// The kernel refuses `--limit-iface-in` where there is no input interface
/// and `--limit-iface-out` where there is no output interface.
fn check_hook(cx: &RuleCtx, o: &OptOcc, hooks: &[Hook]) -> Result<(), RuleError> {
    match cx.hook {
        Some(h) if !hooks.contains(&h) => {
            let names: Vec<&str> = hooks.iter().map(|h| h.name()).collect();
            Err(RuleError::new(
                o.span,
                format!(
                    "`--{}` can only be used in {}, not in {}",
                    o.name,
                    names.join(", "),
                    h.name()
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// A comma list of type names, case-insensitive; sorted and deduplicated
/// (the kernel keeps a bit mask).
fn parse_types(tok: &Token) -> Result<Vec<AddrType>, RuleError> {
    let mut types = Vec::new();
    for name in tok.text.split(',') {
        let t = AddrType::from_name(name).ok_or_else(|| {
            let all: Vec<&str> = AddrType::ALL.iter().map(|t| t.name()).collect();
            RuleError::new(tok.span, format!("unknown address type `{name}`"))
                .with_help(format!("address types are {}", all.join(", ")))
        })?;
        types.push(t);
    }
    types.sort();
    types.dedup();
    Ok(types)
}

fn save_types(out: &mut String, invert: bool, name: &str, types: &[AddrType]) {
    let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
    save_opt_val(out, invert, name, names.join(","));
}

pub(crate) fn save(m: &Addrtype, _: &SaveCtx, out: &mut String) {
    if let Some(t) = &m.src_type {
        save_types(out, t.invert, "src-type", &t.value);
    }
    if let Some(t) = &m.dst_type {
        save_types(out, t.invert, "dst-type", &t.value);
    }
    if m.limit_iface_in {
        save_opt(out, false, "limit-iface-in");
    }
    if m.limit_iface_out {
        save_opt(out, false, "limit-iface-out");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;

    #[test]
    fn types_are_sorted_in_kernel_order() {
        let t =
            parse_types(&Token::new("local,unicast,LOCAL", Span::new(0, 19))).expect("must parse");
        assert_eq!(t, vec![AddrType::Unicast, AddrType::Local]);
        let mut out = String::new();
        save_types(&mut out, true, "dst-type", &t);
        assert_eq!(out, " ! --dst-type UNICAST,LOCAL");
    }

    #[test]
    fn empty_and_unknown_names_fail() {
        assert!(parse_types(&Token::new("", Span::new(0, 0))).is_err());
        assert!(parse_types(&Token::new("LOCAL,", Span::new(0, 6))).is_err());
        assert!(parse_types(&Token::new("wrong", Span::new(0, 5))).is_err());
    }
}
