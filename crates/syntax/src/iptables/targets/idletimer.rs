//! `-j IDLETIMER --timeout SECS --label NAME [--alarm]` (revision 1).

use crate::iptables::ext::*;
use rampart_model::targets::idletimer::Idletimer;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "IDLETIMER",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["timeout"], Arity::One),
        OptSpec::new(&["label"], Arity::One),
        OptSpec::new(&["alarm"], Arity::None),
    ],
    build,
};

/// Longest label (`MAX_IDLETIMER_LABEL_SIZE - 1`).
const LABEL_MAX: usize = 27;
/// The kernel refuses timeouts of `INT_MAX / 1000` seconds and more.
const TIMEOUT_MAX: u64 = (i32::MAX / 1000) as u64 - 1;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    let mut t = Idletimer::default();
    let (mut timeout, mut label) = (None, None);
    for o in opts {
        o.check_invert(false)?;
        let tok = o.arg();
        match o.name {
            "timeout" => timeout = Some(parse_uint(&tok, "timeout", 1, TIMEOUT_MAX)? as u32),
            "label" => {
                if tok.text.is_empty()
                    || tok.text.len() > LABEL_MAX
                    || tok.text.contains('/')
                    || tok.text == "."
                    || tok.text == ".."
                {
                    return Err(RuleError::new(
                        tok.span,
                        format!("bad timer label `{}`", tok.text),
                    )
                    .with_help(format!(
                        "a label is 1 to {LABEL_MAX} bytes, without `/`, not `.` or `..`"
                    )));
                }
                label = Some(tok.text.clone());
            }
            _ => t.alarm = true,
        }
    }
    let (Some(timeout), Some(label)) = (timeout, label) else {
        return Err(cx
            .error("`IDLETIMER` needs --timeout and --label")
            .with_help("e.g. `-j IDLETIMER --timeout 60 --label wan`"));
    };
    t.timeout = timeout;
    t.label = label;
    Ok(Target::Idletimer(t))
}

pub(crate) fn save(t: &Idletimer, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, false, "timeout", t.timeout);
    save_opt_val(out, false, "label", &t.label);
    if t.alarm {
        save_opt(out, false, "alarm");
    }
}
