//! `-m devgroup`: `[!] --src-group VALUE[/MASK]`, `[!] --dst-group
//! VALUE[/MASK]`.
//!
//! iptables also reads names from `/etc/iproute2/group` and prints the name
//! of a group found there. rampart does not read host files; it knows the
//! one entry iproute2 ships (`0 default`), so `default` reads as 0 and group
//! 0 prints as `default`, as iptables does on a stock system.

use crate::iptables::ext::*;
use rampart_model::matches::devgroup::Devgroup;
use rampart_model::matches::mark::MarkMask;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "devgroup",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["src-group"], Arity::One),
        OptSpec::new(&["dst-group"], Arity::One),
    ],
    build,
};

/// Group names of iproute2's stock `group` file.
const NAMES: &[(&str, u32)] = &[("default", 0)];

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Devgroup::default();
    for o in opts {
        let g = Some(Neg::inverted(parse_group(&o.arg())?, o.invert));
        // The kernel refuses a group of an interface the hook does not have.
        let (field, bad): (_, &[Hook]) = match o.name {
            "src-group" => (&mut m.src_group, &[Hook::Output, Hook::Postrouting]),
            _ => (&mut m.dst_group, &[Hook::Prerouting, Hook::Input]),
        };
        if let Some(h) = cx.hook.filter(|h| bad.contains(h)) {
            return Err(RuleError::new(
                o.span,
                format!(
                    "`--{}` cannot be used in {}: there is no {} interface",
                    o.name,
                    h.name(),
                    if o.name == "src-group" {
                        "input"
                    } else {
                        "output"
                    }
                ),
            ));
        }
        *field = g;
    }
    if opts.is_empty() {
        return Err(cx
            .error("`-m devgroup` needs `--src-group` or `--dst-group`")
            .with_help("for example `-m devgroup --src-group 0x1`"));
    }
    Ok(Match::Devgroup(m))
}

fn parse_group(tok: &Token) -> Result<MarkMask, RuleError> {
    if let Some(&(_, id)) = NAMES.iter().find(|(n, _)| *n == tok.text) {
        return Ok(MarkMask::exact(id));
    }
    if !tok.text.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(
            RuleError::new(tok.span, format!("unknown device group `{}`", tok.text))
                .with_help("give the group number (VALUE[/MASK]); names other than `default` differ between hosts"),
        );
    }
    let (value, mask) = parse_value_mask(tok, "device group")?;
    Ok(MarkMask { value, mask })
}

fn save_group(out: &mut String, g: &Neg<MarkMask>, name: &str) {
    save_opt(out, g.invert, name);
    out.push(' ');
    let v = g.value;
    match NAMES
        .iter()
        .find(|&&(_, id)| v.mask == u32::MAX && id == v.value)
    {
        Some((n, _)) => out.push_str(n),
        None => save_value_mask(out, v.value, v.mask),
    }
}

pub(crate) fn save(m: &Devgroup, _: &SaveCtx, out: &mut String) {
    if let Some(g) = &m.src_group {
        save_group(out, g, "src-group");
    }
    if let Some(g) = &m.dst_group {
        save_group(out, g, "dst-group");
    }
}
