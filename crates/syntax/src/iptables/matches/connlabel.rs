//! `-m connlabel [!] --label N [--set]`.
//!
//! Labels are given by bit number (0-127). Label names would come from
//! `/etc/xtables/connlabel.conf`, host state that rampart does not read, so
//! they are refused with a hint.

use crate::iptables::ext::*;
use rampart_model::matches::connlabel::Connlabel;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "connlabel",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["label"], Arity::One),
        OptSpec::new(&["set"], Arity::None),
    ],
    build,
};

/// `XT_CONNLABEL_MAXBIT`.
const MAX_BIT: u64 = 127;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut m = Connlabel::default();
    let mut label = false;
    for o in opts {
        o.check_invert(o.name == "label")?;
        match o.name {
            "label" => {
                let t = o.arg();
                let numeric = t.text.bytes().next().is_some_and(|b| b.is_ascii_digit());
                if !numeric {
                    return Err(RuleError::new(
                        t.span,
                        format!("connlabel name `{}` cannot be resolved", t.text),
                    )
                    .with_help("give the label's bit number (0-127); rampart does not read /etc/xtables/connlabel.conf"));
                }
                let bit = parse_uint(&t, "label bit", 0, MAX_BIT)? as u16;
                m.label = Neg::inverted(bit, o.invert);
                label = true;
            }
            "set" => m.set = true,
            _ => {}
        }
    }
    if !label {
        return Err(cx.error("`-m connlabel` needs `--label N`"));
    }
    Ok(Match::Connlabel(m))
}

pub(crate) fn save(m: &Connlabel, _: &SaveCtx, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "{} --label \"{}\"",
        if m.label.invert { " !" } else { "" },
        m.label.value
    );
    if m.set {
        out.push_str(" --set");
    }
}
