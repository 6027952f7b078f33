//! `-j CT` (raw table): `--notrack`, `--helper`, `--timeout`,
//! `--ctevents`, `--expevents`, `--zone`/`--zone-orig`/`--zone-reply`
//! (revision 2 of the target, which iptables 1.8.9 uses).

use crate::iptables::ext::*;
use rampart_model::targets::ct::{Ct, CtEvent, CtZone, ExpEvent, ZoneDir, ZoneId};

pub(crate) static EXT: TargetExt = TargetExt {
    name: "CT",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["notrack"], Arity::None),
        OptSpec::new(&["helper"], Arity::One),
        OptSpec::new(&["timeout"], Arity::One),
        OptSpec::new(&["ctevents"], Arity::One),
        OptSpec::new(&["expevents"], Arity::One),
        OptSpec::new(&["zone-orig"], Arity::One),
        OptSpec::new(&["zone-reply"], Arity::One),
        OptSpec::new(&["zone"], Arity::One),
    ],
    build,
};

/// Longest helper name (`char helper[16]`).
const HELPER_MAX: usize = 15;
/// Longest timeout policy name (`char timeout[32]`).
const TIMEOUT_MAX: usize = 31;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    cx.require_table(&[TableKind::Raw])?;
    at_most_once(opts)?;
    let mut ct = Ct::default();
    let mut zone_opt: Option<&OptOcc> = None;
    for o in opts {
        o.check_invert(false)?;
        match o.name {
            "notrack" => ct.notrack = true,
            "helper" => ct.helper = Some(name_arg(o, HELPER_MAX, "helper")?),
            "timeout" => ct.timeout = Some(name_arg(o, TIMEOUT_MAX, "timeout policy")?),
            "ctevents" => {
                ct.ctevents = parse_events(&o.arg(), &CtEvent::ALL, |e| e.name())?;
            }
            "expevents" => {
                ct.expevents = parse_events(&o.arg(), &ExpEvent::ALL, |e| e.name())?;
            }
            _ => {
                if let Some(first) = zone_opt.replace(o) {
                    return Err(RuleError::new(
                        o.span,
                        format!("`--{}` cannot be combined with `--{}`", o.name, first.name),
                    )
                    .with_help("give one zone option"));
                }
                let dir = match o.name {
                    "zone-orig" => ZoneDir::Orig,
                    "zone-reply" => ZoneDir::Reply,
                    _ => ZoneDir::Both,
                };
                let tok = o.arg();
                let id = if tok.text.eq_ignore_ascii_case("mark") {
                    ZoneId::Mark
                } else {
                    ZoneId::Id(
                        parse_uint(&tok, "zone", 0, u64::from(u16::MAX))
                            .map_err(|e| e.with_help("a zone is a number 0-65535 or `mark`"))?
                            as u16,
                    )
                };
                ct.zone = Some(CtZone { dir, id });
            }
        }
    }
    Ok(Target::Ct(ct))
}

/// A helper or timeout policy name that fits the kernel's buffer.
fn name_arg(o: &OptOcc, max: usize, what: &str) -> Result<String, RuleError> {
    let tok = o.arg();
    if tok.text.is_empty() {
        return Err(RuleError::new(tok.span, format!("empty {what} name")));
    }
    if tok.text.len() > max {
        return Err(RuleError::new(
            tok.span,
            format!("{what} name `{}` is longer than {max} bytes", tok.text),
        ));
    }
    Ok(tok.text.clone())
}

/// A comma list of event names, returned sorted without repeats.
fn parse_events<E: Copy + Ord>(
    tok: &Token,
    all: &[E],
    name: fn(E) -> &'static str,
) -> Result<Vec<E>, RuleError> {
    let mut out = Vec::new();
    for word in tok.text.split(',') {
        let e = all
            .iter()
            .copied()
            .find(|&e| name(e) == word)
            .ok_or_else(|| {
                let names: Vec<&str> = all.iter().map(|&e| name(e)).collect();
                RuleError::new(tok.span, format!("unknown event type `{word}`"))
                    .with_help(format!("events are {}", names.join(", ")))
            })?;
        out.push(e);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn save_events<E: Copy>(out: &mut String, opt: &str, events: &[E], name: fn(E) -> &'static str) {
    if events.is_empty() {
        return;
    }
    let names: Vec<&str> = events.iter().map(|&e| name(e)).collect();
    save_opt_val(out, false, opt, names.join(","));
}

pub(crate) fn save(ct: &Ct, _: &SaveCtx, out: &mut String) {
    if ct.notrack {
        save_opt(out, false, "notrack");
    }
    if let Some(h) = &ct.helper {
        save_opt_val(out, false, "helper", h);
    }
    if let Some(t) = &ct.timeout {
        save_opt_val(out, false, "timeout", t);
    }
    save_events(out, "ctevents", &ct.ctevents, CtEvent::name);
    save_events(out, "expevents", &ct.expevents, ExpEvent::name);
    if let Some(z) = ct.zone {
        let opt = match z.dir {
            ZoneDir::Both => "zone",
            ZoneDir::Orig => "zone-orig",
            ZoneDir::Reply => "zone-reply",
        };
        match z.id {
            ZoneId::Mark => save_opt_val(out, false, opt, "mark"),
            // Zone 0 is the default zone; iptables does not print it.
            ZoneId::Id(0) => {}
            ZoneId::Id(n) => save_opt_val(out, false, opt, n),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failing unwrap is a failing test
mod tests {
    use super::*;
    use crate::diag::Span;

    #[test]
    fn events_are_printed_in_kernel_order() {
        let tok = Token::new("mark,new,new,reply", Span::new(0, 0));
        let ev = parse_events(&tok, &CtEvent::ALL, CtEvent::name).unwrap();
        let mut s = String::new();
        save(
            &Ct {
                ctevents: ev,
                ..Default::default()
            },
            &SaveCtx {
                family: Family::Ipv4,
            },
            &mut s,
        );
        assert_eq!(s, " --ctevents new,reply,mark");
    }

    #[test]
    fn unknown_and_empty_events_are_errors() {
        for bad in ["new,,reply", "NEW", "bogus", ""] {
            let tok = Token::new(bad, Span::new(0, 0));
            assert!(parse_events(&tok, &CtEvent::ALL, CtEvent::name).is_err());
        }
    }

    #[test]
    fn zone_zero_is_not_printed_but_mark_is() {
        let cx = SaveCtx {
            family: Family::Ipv4,
        };
        let mut s = String::new();
        let mut ct = Ct {
            zone: Some(CtZone {
                dir: ZoneDir::Orig,
                id: ZoneId::Id(0),
            }),
            ..Default::default()
        };
        save(&ct, &cx, &mut s);
        assert_eq!(s, "");
        ct.zone = Some(CtZone {
            dir: ZoneDir::Reply,
            id: ZoneId::Mark,
        });
        save(&ct, &cx, &mut s);
        assert_eq!(s, " --zone-reply mark");
    }
}
