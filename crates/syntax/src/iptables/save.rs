//! Reading iptables-save / iptables-restore files (v4 and v6) and rule-only
//! fragments ("-A INPUT ..." lines pasted from a sysconfig file).
//!
//! Every error is reported with its place, and reading goes on with the
//! next line so one run shows all the errors of a file.

use crate::diag::{Diagnostic, Diagnostics, Parsed, SourceFile, Span};
use crate::iptables::apply::{apply, check_jumps, ApplyOptions};
use crate::iptables::cmd::{parse_command, CmdContext};
use crate::iptables::ext::{parse_uint, RuleError, Token};
use crate::iptables::lex::split_line;
use rampart_model::{ChainPolicy, Counters, Family, Policy, TableKind};

/// Reads an iptables-save file of the given family into a policy.
pub fn parse_save(file: &SourceFile, family: Family) -> Parsed<Policy> {
    let mut policy = Policy::default();
    let mut diags = Diagnostics::default();
    parse_save_into(file, family, &mut policy, &mut diags);
    Parsed {
        value: policy,
        diagnostics: diags,
    }
}

/// Like [`parse_save`], adding to an existing policy.
pub fn parse_save_into(
    file: &SourceFile,
    family: Family,
    policy: &mut Policy,
    diags: &mut Diagnostics,
) {
    let mut section: Option<(TableKind, Span)> = None;
    let mut saw_section = false;
    let mut offset = 0usize;
    let err = |d: &mut Diagnostics, e: RuleError| {
        let mut diag = file.error(e.span, e.message);
        if let Some(h) = e.help {
            diag = diag.with_help(h);
        }
        d.push(diag);
    };
    for raw in file.text.split_inclusive('\n') {
        let base = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        let lead = line.len() - trimmed.len();
        let start = base + lead;
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let word_end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        let first_span = Span::new(start, start + word_end);
        if let Some(name) = trimmed.strip_prefix('*') {
            let name = name.trim();
            if let Some((t, s)) = section {
                let (l, _) = file.line_col(s.start);
                diags.push(
                    file.error(
                        first_span,
                        format!(
                            "table `{}` (line {l}) has no COMMIT before this table starts",
                            t.name()
                        ),
                    )
                    .with_help("add a COMMIT line at the end of each table"),
                );
            }
            match TableKind::from_name(name) {
                Some(kind) => {
                    // A table section replaces what the table held.
                    policy
                        .tables
                        .retain(|t| !(t.family == family && t.kind == kind));
                    policy.table_mut(family, kind);
                    section = Some((kind, first_span));
                    saw_section = true;
                }
                None => {
                    section = None;
                    diags.push(
                        file.error(first_span, format!("unknown table `{name}`"))
                            .with_help("tables are filter, nat, mangle, raw and security"),
                    );
                }
            }
            continue;
        }
        if trimmed == "COMMIT" {
            if section.is_none() {
                diags.push(file.error(first_span, "COMMIT without a `*table` line before it"));
            }
            section = None;
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix(':') {
            let Some((kind, _)) = section else {
                diags.push(file.error(first_span, "chain line outside of a `*table` section"));
                continue;
            };
            if let Err(e) = chain_line(rest, start + 1, family, kind, policy) {
                err(diags, e);
            }
            continue;
        }
        // A rule or command line, optionally with `[p:b]` counters first.
        let mut tokens = match split_line(trimmed, start) {
            Ok(t) => t,
            Err(e) => {
                err(diags, e);
                continue;
            }
        };
        let mut counters = None;
        if let Some(first) = tokens.first() {
            if first.text.starts_with('[') {
                match parse_counters(first) {
                    Ok(c) => counters = Some(c),
                    Err(e) => {
                        err(diags, e);
                        continue;
                    }
                }
                tokens.remove(0);
            }
        }
        let fragment = !saw_section;
        let cx = CmdContext {
            family,
            table: section.map_or(TableKind::Filter, |(k, _)| k),
            allow_table_option: section.is_none(),
        };
        if section.is_none() && saw_section {
            diags.push(
                file.error(
                    first_span,
                    "rule outside of a `*table` ... `COMMIT` section",
                )
                .with_help("put it before the COMMIT line of its table"),
            );
            continue;
        }
        match parse_command(&tokens, &cx) {
            Ok(mut inv) => {
                for w in std::mem::take(&mut inv.warnings) {
                    let mut d = file.warning(w.span, w.message);
                    if let Some(h) = w.help {
                        d = d.with_help(h);
                    }
                    diags.push(d);
                }
                if let Some(c) = counters {
                    set_counters(&mut inv, c);
                }
                let opts = ApplyOptions {
                    auto_create_chains: fragment,
                    check_jumps_now: !fragment,
                };
                if let Err(e) = apply(
                    policy,
                    family,
                    inv,
                    Some(file.origin(Span::new(start, start))),
                    opts,
                ) {
                    err(diags, e);
                }
            }
            Err(e) => err(diags, e),
        }
    }
    if let Some((t, s)) = section {
        diags.push(
            file.error(s, format!("table `{}` is never committed", t.name()))
                .with_help("add a COMMIT line at the end of the table; without it iptables-restore applies nothing"),
        );
    }
    if !saw_section {
        for (origin, chain, kind) in check_jumps(policy) {
            let span = origin.as_ref().map_or(Span::default(), |o| {
                Span::new(file.line_start(o.line), file.line_start(o.line))
            });
            diags.push(
                file.error(
                    span,
                    format!(
                        "rule jumps to `{chain}`, which is not a chain of the {} table",
                        kind.name()
                    ),
                )
                .with_help(format!("add the rules of `{chain}` or a `-N {chain}` line")),
            );
        }
    }
}

fn set_counters(inv: &mut crate::iptables::cmd::Invocation, c: Counters) {
    use crate::iptables::cmd::Command;
    match &mut inv.command {
        Command::Append { rules, .. } | Command::Insert { rules, .. } => {
            for r in rules {
                r.counters = Some(c);
            }
        }
        Command::Replace { rule, .. } => rule.counters = Some(c),
        _ => {}
    }
}

/// `[packets:bytes]`.
fn parse_counters(tok: &Token) -> Result<Counters, RuleError> {
    let bad = || {
        RuleError::new(tok.span, format!("invalid counters `{}`", tok.text))
            .with_help("counters are written `[PACKETS:BYTES]`")
    };
    let inner = tok
        .text
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(bad)?;
    let (p, b) = inner.split_once(':').ok_or_else(bad)?;
    Ok(Counters {
        packets: parse_uint(&Token::new(p, tok.span), "packet count", 0, u64::MAX)?,
        bytes: parse_uint(&Token::new(b, tok.span), "byte count", 0, u64::MAX)?,
    })
}

/// `NAME POLICY [p:b]` after the `:`.
fn chain_line(
    rest: &str,
    base: usize,
    family: Family,
    kind: TableKind,
    policy: &mut Policy,
) -> Result<(), RuleError> {
    let toks = split_line(rest, base)?;
    if let Some(name) = toks.first() {
        crate::iptables::cmd::check_chain_name(name)?;
    }
    let Some(name) = toks.first() else {
        return Err(RuleError::new(
            Span::new(base - 1, base),
            "chain line without a name",
        ));
    };
    let pol = toks.get(1).ok_or_else(|| {
        RuleError::new(name.span, "chain line needs a policy").with_help(
            "write `:NAME ACCEPT|DROP [0:0]` for built-in chains, `:NAME - [0:0]` for user chains",
        )
    })?;
    let counters = match toks.get(2) {
        Some(t) => Some(parse_counters(t)?),
        None => None,
    };
    if let Some(t) = toks.get(3) {
        return Err(RuleError::new(
            t.span,
            format!("unexpected `{}` after the counters", t.text),
        ));
    }
    let table = policy.table_mut(family, kind);
    let builtin = table.is_builtin(&name.text);
    let p = match pol.text.as_str() {
        "-" => None,
        "ACCEPT" => Some(ChainPolicy::Accept),
        "DROP" => Some(ChainPolicy::Drop),
        other => {
            return Err(
                RuleError::new(pol.span, format!("invalid policy `{other}`"))
                    .with_help("a policy is ACCEPT, DROP, or `-` for a user chain"),
            )
        }
    };
    if builtin && p.is_none() {
        return Err(RuleError::new(
            pol.span,
            format!(
                "built-in chain `{}` needs a policy (ACCEPT or DROP)",
                name.text
            ),
        ));
    }
    if !builtin && p.is_some() {
        if rampart_model::Hook::from_name(&name.text).is_some() {
            return Err(RuleError::new(
                name.span,
                format!(
                    "`{}` is not a built-in chain of the {} table",
                    name.text,
                    kind.name()
                ),
            ));
        }
        return Err(RuleError::new(
            pol.span,
            format!("user chain `{}` cannot have a policy", name.text),
        )
        .with_help("write `-` instead of the policy"));
    }
    if !builtin && !table.add_user_chain(&name.text) {
        return Err(RuleError::new(
            name.span,
            format!("chain `{}` declared twice", name.text),
        ));
    }
    if let Some(c) = table.chain_mut(&name.text) {
        // `[0:0]` is what every tool prints for "no counters": keep None.
        c.counters = counters.filter(|c| *c != Counters::default());
        if builtin {
            c.policy = p;
        }
    }
    Ok(())
}

/// Guesses the family of an iptables-save file: the `ip6tables-save`
/// header, else the first address it finds.
pub fn detect_family(text: &str) -> Family {
    for line in text.lines().take(5) {
        if line.starts_with('#') && line.contains("ip6tables") {
            return Family::Ipv6;
        }
        if line.starts_with('#') && line.contains("iptables") {
            return Family::Ipv4;
        }
    }
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for w in words.windows(2) {
            if matches!(
                w[0],
                "-s" | "-d" | "--source" | "--destination" | "--to-destination" | "--to-source"
            ) {
                let a = w[1].trim_start_matches('!');
                if a.contains("::")
                    || a.split('/')
                        .next()
                        .is_some_and(|x| x.matches(':').count() >= 2)
                {
                    return Family::Ipv6;
                }
                if a.split('/')
                    .next()
                    .is_some_and(|x| x.parse::<std::net::Ipv4Addr>().is_ok())
                {
                    return Family::Ipv4;
                }
            }
            if w[0] == "-p" && matches!(w[1], "ipv6-icmp" | "icmpv6") {
                return Family::Ipv6;
            }
        }
    }
    Family::Ipv4
}

/// A diagnostic from a rule error located in `file`.
pub fn to_diagnostic(file: &SourceFile, e: RuleError, warning: bool) -> Diagnostic {
    let mut d = if warning {
        file.warning(e.span, e.message)
    } else {
        file.error(e.span, e.message)
    };
    if let Some(h) = e.help {
        d = d.with_help(h);
    }
    d
}
