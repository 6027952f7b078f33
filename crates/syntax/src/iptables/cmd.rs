//! Parsing one iptables command line (the words after `iptables`, or an
//! `-A ...` line of an iptables-save file) into an [`Invocation`]: a command
//! (`-A`, `-I`, `-D`, `-N`, `-P`, ...) with its table and the rules it
//! carries, built into the model.
//!
//! Options are read the way iptables' getopt loop reads them: generic
//! options (`-p`, `-s`, `-i`, `-j`, ...) anywhere, `!` before an option,
//! `--opt=value` and `-pvalue` forms, unique prefixes of long options, and
//! options of every loaded extension (`-m tcp`, `-j LOG`), the most
//! recently loaded first. A port option after `-p tcp` without `-m tcp`
//! loads the protocol's match implicitly, as iptables does.

use crate::diag::Span;
use crate::iptables::ext::*;
use crate::iptables::registry::{MATCHES, TARGETS};
use rampart_model::{ChainPolicy, Counters, Iface, IpNet, Rule};
use std::net::IpAddr;

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub table: TableKind,
    /// Where `-t` was given, if it was.
    pub table_span: Option<Span>,
    pub command: Command,
    /// Span of the command option (`-A`, `-P`, ...).
    pub command_span: Span,
    /// Span of the `-j`/`-g` target name, when the line has one.
    pub target_span: Option<Span>,
    /// `-4`/`-6` restricted the line to a family it is not for: skip it.
    pub skip: bool,
    /// Things worth saying that are not errors (deprecated syntax, ...).
    pub warnings: Vec<RuleError>,
}

/// A chain name with its span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRef {
    pub name: String,
    pub span: Span,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per command line; boxing buys nothing
#[non_exhaustive]
pub enum Command {
    /// `-A CHAIN rule` (several rules when `-s`/`-d` list several addresses).
    Append { chain: ChainRef, rules: Vec<Rule> },
    /// `-I CHAIN [N] rule` (N is 1-based, default 1).
    Insert {
        chain: ChainRef,
        position: u32,
        rules: Vec<Rule>,
    },
    /// `-D CHAIN rule`.
    DeleteRule { chain: ChainRef, rules: Vec<Rule> },
    /// `-D CHAIN N`.
    DeleteNum { chain: ChainRef, position: u32 },
    /// `-R CHAIN N rule`.
    Replace {
        chain: ChainRef,
        position: u32,
        rule: Rule,
    },
    /// `-C CHAIN rule`: check only, changes nothing.
    Check { chain: ChainRef, rules: Vec<Rule> },
    /// `-N CHAIN`.
    NewChain(ChainRef),
    /// `-X [CHAIN]` (all user chains when none is given).
    DeleteChain(Option<ChainRef>),
    /// `-F [CHAIN]`.
    Flush(Option<ChainRef>),
    /// `-Z [CHAIN [N]]`.
    Zero(Option<ChainRef>),
    /// `-P CHAIN POLICY`.
    Policy {
        chain: ChainRef,
        policy: ChainPolicy,
    },
    /// `-E OLD NEW`.
    Rename { old: ChainRef, new: ChainRef },
    /// `-L`/`-S` and friends: read-only, nothing to import.
    List,
}

/// What the caller knows before reading the line.
#[derive(Debug, Clone, Copy)]
pub struct CmdContext {
    pub family: Family,
    /// Table when the line has no `-t` (filter for commands, the `*table`
    /// of an iptables-save file).
    pub table: TableKind,
    /// Is `-t` allowed? (not inside an iptables-save table section)
    pub allow_table_option: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Generic {
    Append,
    Insert,
    Delete,
    Replace,
    Check,
    List,
    ListRules,
    Flush,
    Zero,
    NewChain,
    DeleteChain,
    Policy,
    Rename,
    Table,
    Protocol,
    Source,
    Destination,
    InIface,
    OutIface,
    Fragment,
    Jump,
    Goto,
    Match,
    Counters,
    Wait,
    WaitInterval,
    Verbose,
    Numeric,
    Exact,
    LineNumbers,
    Modprobe,
    Ipv4,
    Ipv6,
}

/// (long name, short, takes argument, meaning)
const GENERIC: &[(&str, Option<char>, bool, Generic)] = &[
    ("append", Some('A'), true, Generic::Append),
    ("insert", Some('I'), true, Generic::Insert),
    ("delete", Some('D'), true, Generic::Delete),
    ("replace", Some('R'), true, Generic::Replace),
    ("check", Some('C'), true, Generic::Check),
    ("list", Some('L'), false, Generic::List),
    ("list-rules", Some('S'), false, Generic::ListRules),
    ("flush", Some('F'), false, Generic::Flush),
    ("zero", Some('Z'), false, Generic::Zero),
    ("new-chain", Some('N'), true, Generic::NewChain),
    ("delete-chain", Some('X'), false, Generic::DeleteChain),
    ("policy", Some('P'), true, Generic::Policy),
    ("rename-chain", Some('E'), true, Generic::Rename),
    ("table", Some('t'), true, Generic::Table),
    ("protocol", Some('p'), true, Generic::Protocol),
    ("source", Some('s'), true, Generic::Source),
    ("src", None, true, Generic::Source),
    ("destination", Some('d'), true, Generic::Destination),
    ("dst", None, true, Generic::Destination),
    ("in-interface", Some('i'), true, Generic::InIface),
    ("out-interface", Some('o'), true, Generic::OutIface),
    ("fragment", Some('f'), false, Generic::Fragment),
    ("fragments", None, false, Generic::Fragment),
    ("jump", Some('j'), true, Generic::Jump),
    ("goto", Some('g'), true, Generic::Goto),
    ("match", Some('m'), true, Generic::Match),
    ("set-counters", Some('c'), true, Generic::Counters),
    ("wait", Some('w'), false, Generic::Wait),
    ("wait-interval", Some('W'), true, Generic::WaitInterval),
    ("verbose", Some('v'), false, Generic::Verbose),
    ("numeric", Some('n'), false, Generic::Numeric),
    ("exact", Some('x'), false, Generic::Exact),
    ("line-numbers", None, false, Generic::LineNumbers),
    ("modprobe", Some('M'), true, Generic::Modprobe),
    ("ipv4", Some('4'), false, Generic::Ipv4),
    ("ipv6", Some('6'), false, Generic::Ipv6),
];

struct LoadedMatch {
    ext: &'static MatchExt,
    name: Token,
    opts: Vec<OptOcc>,
}

struct LoadedTarget {
    ext: Option<&'static TargetExt>,
    name: Token,
    goto: bool,
    opts: Vec<OptOcc>,
}

#[derive(Default)]
struct State {
    command: Option<(Generic, Span)>,
    chain: Option<ChainRef>,
    extra: Vec<Token>,
    table: Option<(TableKind, Span)>,
    protocol: Option<(Neg<Protocol>, Span)>,
    sources: Option<(bool, Vec<IpNet>, Span)>,
    dests: Option<(bool, Vec<IpNet>, Span)>,
    in_iface: Option<(Neg<Iface>, Span)>,
    out_iface: Option<(Neg<Iface>, Span)>,
    fragment: Option<(bool, Span)>,
    counters: Option<Counters>,
    family_only: Option<Family>,
}

/// Parses one command line (without the leading `iptables` word).
pub fn parse_command(tokens: &[Token], cx: &CmdContext) -> Result<Invocation, RuleError> {
    let mut st = State::default();
    let mut matches: Vec<LoadedMatch> = Vec::new();
    let mut target: Option<LoadedTarget> = None;
    let mut warnings = Vec::new();
    let mut i = 0;
    let mut invert: Option<Span> = None;
    let end_span = tokens
        .last()
        .map_or(Span::default(), |t| Span::new(t.span.end, t.span.end));

    while i < tokens.len() {
        let tok = &tokens[i];
        i += 1;
        if tok.text == "!" {
            if invert.is_some() {
                return Err(RuleError::new(tok.span, "more than one `!` in a row"));
            }
            invert = Some(tok.span);
            continue;
        }
        let inv = invert.take().is_some();
        // Split the word into option name and an attached value.
        let (long, short, attached): (Option<&str>, Option<char>, Option<String>) =
            if let Some(rest) = tok.text.strip_prefix("--") {
                match rest.split_once('=') {
                    Some((n, v)) => (Some(n), None, Some(v.to_string())),
                    None => (Some(rest), None, None),
                }
            } else if let Some(rest) = tok.text.strip_prefix('-') {
                let mut cs = rest.chars();
                match cs.next() {
                    Some(c) => {
                        let v: String = cs.collect();
                        (None, Some(c), (!v.is_empty()).then_some(v))
                    }
                    None => {
                        return Err(RuleError::new(tok.span, "lone `-` is not an option"));
                    }
                }
            } else {
                // A positional word: argument of the command (chain, rule
                // number, policy, new name).
                if inv {
                    return Err(RuleError::new(
                        tok.span,
                        format!("unexpected `!` before `{}`", tok.text),
                    ));
                }
                st.extra.push(tok.clone());
                continue;
            };

        // Generic option?
        let generic = match (long, short) {
            (Some(l), _) => lookup_long_generic(l, &matches, &target, tok)?,
            (None, Some(c)) => GENERIC.iter().find(|g| g.1 == Some(c)).map(|g| (g.3, g.2)),
            _ => None,
        };
        if let Some((g, takes_arg)) = generic {
            // Short flags that take no argument may be bundled: `-nvL`.
            if !takes_arg {
                if let (Some(rest), Some(_)) = (&attached, short) {
                    for c in rest.chars() {
                        let Some(gg) = GENERIC.iter().find(|x| x.1 == Some(c) && !x.2) else {
                            return Err(RuleError::new(
                                tok.span,
                                format!("unknown option `-{c}` in `{}`", tok.text),
                            ));
                        };
                        apply_flag(gg.3, &mut st, tok, inv, cx)?;
                    }
                }
                apply_flag(g, &mut st, tok, inv, cx)?;
                // Optional arguments of flags: `-w 5`, `-Z CHAIN`, `-F CHAIN`, ...
                if g == Generic::Wait
                    && tokens
                        .get(i)
                        .is_some_and(|t| t.text.bytes().all(|b| b.is_ascii_digit()))
                {
                    i += 1;
                }
                continue;
            }
            let arg = match attached {
                Some(v) => Token::new(v, tok.span),
                None => match tokens.get(i) {
                    Some(t) => {
                        i += 1;
                        t.clone()
                    }
                    None => {
                        return Err(RuleError::new(
                            tok.span,
                            format!("option `{}` needs an argument", tok.text),
                        ))
                    }
                },
            };
            // Old-style `-s ! addr`.
            let (inv, arg) = if arg.text == "!"
                && matches!(
                    g,
                    Generic::Protocol
                        | Generic::Source
                        | Generic::Destination
                        | Generic::InIface
                        | Generic::OutIface
                ) {
                warnings.push(
                    RuleError::new(arg.span, "`-x ! value` is deprecated")
                        .with_help("write `! -x value`"),
                );
                match tokens.get(i) {
                    Some(t) => {
                        i += 1;
                        (true, t.clone())
                    }
                    None => return Err(RuleError::new(arg.span, "`!` needs a value after it")),
                }
            } else {
                (inv, arg)
            };
            match g {
                Generic::Match => {
                    if inv {
                        return Err(RuleError::new(tok.span, "`-m` cannot be inverted"));
                    }
                    let ext = find_match(&arg.text, cx.family)
                        .ok_or_else(|| unknown_match(&arg, cx.family))?;
                    matches.push(LoadedMatch {
                        ext,
                        name: arg,
                        opts: Vec::new(),
                    });
                }
                Generic::Jump | Generic::Goto => {
                    if inv {
                        return Err(RuleError::new(tok.span, "a target cannot be inverted"));
                    }
                    if let Some(t) = &target {
                        return Err(RuleError::new(
                            tok.span,
                            format!("more than one target (`{}` already given)", t.name.text),
                        ));
                    }
                    let goto = g == Generic::Goto;
                    let ext = if goto {
                        None
                    } else {
                        find_target(&arg.text, cx.family)
                    };
                    target = Some(LoadedTarget {
                        ext,
                        name: arg,
                        goto,
                        opts: Vec::new(),
                    });
                }
                _ => apply_with_arg(g, &mut st, tok, arg, inv, tokens, &mut i, cx)?,
            }
            continue;
        }

        // Extension option.
        let Some(name) = long else {
            return Err(RuleError::new(
                tok.span,
                format!("unknown option `{}`", tok.text),
            ));
        };
        let mut found = find_ext_option(name, &matches, &target);
        if found.is_none() {
            // Implicit protocol match: `-p tcp --dport 22`.
            if let Some((p, _)) = st.protocol.filter(|(p, _)| !p.invert) {
                if let Some(mname) = implicit_match(p.value, cx.family) {
                    if !matches.iter().any(|m| m.ext.name == mname) {
                        if let Some(ext) = find_match(mname, cx.family) {
                            if ext
                                .options
                                .iter()
                                .any(|o| option_matches(o, name).is_some())
                            {
                                matches.push(LoadedMatch {
                                    ext,
                                    name: Token::new(mname, tok.span),
                                    opts: Vec::new(),
                                });
                                found = find_ext_option(name, &matches, &target);
                            }
                        }
                    }
                }
            }
        }
        let Some((slot, spec, canon)) = found else {
            let implicit = st
                .protocol
                .filter(|(p, _)| !p.invert)
                .and_then(|(p, _)| implicit_match(p.value, cx.family))
                .and_then(|m| find_match(m, cx.family));
            return Err(unknown_option(tok, name, &matches, &target, implicit));
        };
        let mut args = Vec::new();
        let mut inv = inv;
        let nargs = match spec.args {
            Arity::None => 0,
            Arity::One => 1,
            Arity::Two => 2,
            Arity::Optional => usize::from(
                attached.is_some()
                    || tokens
                        .get(i)
                        .is_some_and(|t| !t.text.starts_with('-') && t.text != "!"),
            ),
        };
        let mut attached = attached;
        if spec.args == Arity::None && attached.is_some() {
            {
                return Err(RuleError::new(
                    tok.span,
                    format!("option `--{canon}` takes no value"),
                ));
            }
        }
        for k in 0..nargs {
            if k == 0 {
                if let Some(v) = attached.take() {
                    args.push(Token::new(v, tok.span));
                    continue;
                }
            }
            match tokens.get(i) {
                Some(t) if t.text == "!" && k == 0 && !inv => {
                    // Intrapositioned negation: `--dport ! 22`.
                    warnings.push(
                        RuleError::new(t.span, format!("`--{canon} ! value` is deprecated"))
                            .with_help(format!("write `! --{canon} value`")),
                    );
                    inv = true;
                    i += 1;
                    match tokens.get(i) {
                        Some(t2) => {
                            args.push(t2.clone());
                            i += 1;
                        }
                        None => {
                            return Err(RuleError::new(
                                tok.span,
                                format!("option `--{canon}` needs a value"),
                            ))
                        }
                    }
                }
                Some(t) => {
                    args.push(t.clone());
                    i += 1;
                }
                None => {
                    return Err(RuleError::new(
                        tok.span,
                        format!(
                            "option `--{canon}` needs {}",
                            if nargs == 2 { "two values" } else { "a value" }
                        ),
                    ))
                }
            }
        }
        let occ = OptOcc {
            name: canon,
            invert: inv,
            args,
            span: tok.span,
        };
        match slot {
            Slot::Match(k) => matches[k].opts.push(occ),
            Slot::Target => {
                if let Some(t) = target.as_mut() {
                    t.opts.push(occ);
                }
            }
        }
    }
    if let Some(s) = invert {
        return Err(RuleError::new(
            s,
            "`!` at the end of the line, with nothing to invert",
        ));
    }

    finish(st, matches, target, warnings, cx, end_span)
}

fn lookup_long_generic(
    l: &str,
    matches: &[LoadedMatch],
    target: &Option<LoadedTarget>,
    tok: &Token,
) -> Result<Option<(Generic, bool)>, RuleError> {
    if let Some(g) = GENERIC.iter().find(|g| g.0 == l) {
        return Ok(Some((g.3, g.2)));
    }
    // An exact extension option wins over a generic prefix.
    if find_ext_option(l, matches, target).is_some() {
        return Ok(None);
    }
    let cands: Vec<&(&str, Option<char>, bool, Generic)> =
        GENERIC.iter().filter(|g| g.0.starts_with(l)).collect();
    let distinct: Vec<Generic> = {
        let mut v: Vec<Generic> = cands.iter().map(|g| g.3).collect();
        v.dedup();
        v
    };
    match distinct.len() {
        0 => Ok(None),
        1 if !l.is_empty() => Ok(Some((cands[0].3, cands[0].2))),
        _ => Err(RuleError::new(
            tok.span,
            format!("option `--{l}` is ambiguous"),
        )),
    }
}

#[derive(Clone, Copy)]
enum Slot {
    Match(usize),
    Target,
}

/// Canonical name when `spec` has `name` (exact).
fn option_matches(spec: &OptSpec, name: &str) -> Option<&'static str> {
    spec.names.contains(&name).then(|| spec.names[0])
}

/// Finds the extension that owns `--name`: the target first, then matches
/// from the most recently loaded; exact names first, then a unique prefix.
fn find_ext_option(
    name: &str,
    matches: &[LoadedMatch],
    target: &Option<LoadedTarget>,
) -> Option<(Slot, &'static OptSpec, &'static str)> {
    let mut owners: Vec<(Slot, &'static [OptSpec])> = Vec::new();
    if let Some(t) = target {
        if let Some(ext) = t.ext {
            owners.push((Slot::Target, ext.options));
        }
    }
    for (k, m) in matches.iter().enumerate().rev() {
        owners.push((Slot::Match(k), m.ext.options));
    }
    for (slot, opts) in &owners {
        for spec in opts.iter() {
            if let Some(c) = option_matches(spec, name) {
                return Some((*slot, spec, c));
            }
        }
    }
    if name.len() < 2 {
        return None;
    }
    let mut hit = None;
    for (slot, opts) in &owners {
        for spec in opts.iter() {
            if spec.names.iter().any(|n| n.starts_with(name)) {
                if hit.is_some() {
                    return None;
                }
                hit = Some((*slot, spec, spec.names[0]));
            }
        }
    }
    hit
}

fn unknown_option(
    tok: &Token,
    name: &str,
    matches: &[LoadedMatch],
    target: &Option<LoadedTarget>,
    implicit: Option<&'static MatchExt>,
) -> RuleError {
    let mut err = RuleError::new(tok.span, format!("unknown option `--{name}`"));
    // Suggest the closest option of the loaded extensions, or the extension
    // that would own it.
    let mut best: Option<(usize, String)> = None;
    let mut consider = |cand: &str, owner: &str| {
        let d = edit_distance(name, cand);
        if d <= 2 && best.as_ref().is_none_or(|b| d < b.0) {
            best = Some((d, format!("did you mean `--{cand}` (of `{owner}`)?")));
        }
    };
    for ext in matches.iter().map(|m| m.ext).chain(implicit) {
        for s in ext.options {
            for n in s.names {
                consider(n, ext.name);
            }
        }
    }
    if let Some(t) = target.as_ref().and_then(|t| t.ext) {
        for s in t.options {
            for n in s.names {
                consider(n, t.name);
            }
        }
    }
    if let Some((_, h)) = best {
        return err.with_help(h);
    }
    if let Some(ext) = MATCHES
        .iter()
        .find(|e| e.options.iter().any(|o| o.names.contains(&name)))
    {
        err = err.with_help(format!(
            "`--{name}` belongs to the `{}` match: load it first with `-m {}`",
            ext.name, ext.name
        ));
    } else if let Some(ext) = TARGETS
        .iter()
        .find(|e| e.options.iter().any(|o| o.names.contains(&name)))
    {
        err = err.with_help(format!(
            "`--{name}` belongs to the `{}` target: use it with `-j {}`",
            ext.name, ext.name
        ));
    }
    err
}

/// Levenshtein distance, for "did you mean" suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The match extension registered under `name` (or an alias) for `family`.
pub fn find_match(name: &str, family: Family) -> Option<&'static MatchExt> {
    MATCHES.iter().copied().find(|e| {
        (e.name == name || e.aliases.contains(&name)) && e.family.is_none_or(|f| f == family)
    })
}

/// The target extension registered under `name` for `family`.
pub fn find_target(name: &str, family: Family) -> Option<&'static TargetExt> {
    TARGETS.iter().copied().find(|e| {
        (e.name == name || e.aliases.contains(&name)) && e.family.is_none_or(|f| f == family)
    })
}

fn unknown_match(arg: &Token, family: Family) -> RuleError {
    let other = match family {
        Family::Ipv4 => Family::Ipv6,
        Family::Ipv6 => Family::Ipv4,
    };
    if find_match(&arg.text, other).is_some() {
        return RuleError::new(
            arg.span,
            format!("match `{}` is not available in {}", arg.text, family.tool()),
        )
        .with_help(format!("it is an {} match", other.tool()));
    }
    RuleError::new(arg.span, format!("unknown match extension `{}`", arg.text))
        .with_help("rampart reports extensions it does not know instead of dropping them")
}

/// The match iptables loads by itself for `-p PROTO` options.
fn implicit_match(p: Protocol, family: Family) -> Option<&'static str> {
    Some(match (p.0, family) {
        (6, _) => "tcp",
        (17, _) => "udp",
        (132, _) => "sctp",
        (33, _) => "dccp",
        (1, Family::Ipv4) => "icmp",
        (58, Family::Ipv6) => "icmp6",
        (50, _) => "esp",
        (51, _) => "ah",
        (135, Family::Ipv6) => "mh",
        _ => return None,
    })
}

fn set_command(st: &mut State, g: Generic, tok: &Token) -> Result<(), RuleError> {
    if let Some((_, _)) = st.command {
        return Err(RuleError::new(
            tok.span,
            format!("more than one command (`{}` after another)", tok.text),
        )
        .with_help("give one of -A -I -D -R -C -N -X -F -Z -P -E per line"));
    }
    st.command = Some((g, tok.span));
    Ok(())
}

fn apply_flag(
    g: Generic,
    st: &mut State,
    tok: &Token,
    inv: bool,
    cx: &CmdContext,
) -> Result<(), RuleError> {
    match g {
        Generic::Fragment => {
            if cx.family == Family::Ipv6 {
                return Err(
                    RuleError::new(tok.span, "`-f` is not available in ip6tables")
                        .with_help("use `-m frag`"),
                );
            }
            st.fragment = Some((!inv, tok.span));
        }
        Generic::List
        | Generic::ListRules
        | Generic::Flush
        | Generic::Zero
        | Generic::DeleteChain => {
            if inv {
                return Err(RuleError::new(tok.span, "a command cannot be inverted"));
            }
            set_command(st, g, tok)?;
        }
        Generic::Ipv4 => st.family_only = Some(Family::Ipv4),
        Generic::Ipv6 => st.family_only = Some(Family::Ipv6),
        Generic::Wait
        | Generic::Verbose
        | Generic::Numeric
        | Generic::Exact
        | Generic::LineNumbers => {}
        _ => {
            return Err(RuleError::new(
                tok.span,
                format!("option `{}` needs an argument", tok.text),
            ))
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn apply_with_arg(
    g: Generic,
    st: &mut State,
    tok: &Token,
    arg: Token,
    inv: bool,
    tokens: &[Token],
    i: &mut usize,
    cx: &CmdContext,
) -> Result<(), RuleError> {
    let no_invert = |what: &str| -> Result<(), RuleError> {
        if inv {
            Err(RuleError::new(
                tok.span,
                format!("{what} cannot be inverted"),
            ))
        } else {
            Ok(())
        }
    };
    match g {
        Generic::Append
        | Generic::Insert
        | Generic::Delete
        | Generic::Replace
        | Generic::Check
        | Generic::NewChain
        | Generic::Policy
        | Generic::Rename => {
            no_invert("a command")?;
            set_command(st, g, tok)?;
            check_chain_name(&arg)?;
            st.chain = Some(ChainRef {
                name: arg.text.clone(),
                span: arg.span,
            });
        }
        Generic::Table => {
            no_invert("`-t`")?;
            if !cx.allow_table_option {
                return Err(RuleError::new(
                    tok.span,
                    "`-t` is not allowed inside an iptables-save table section",
                )
                .with_help("the table comes from the `*table` line above"));
            }
            let t = TableKind::from_name(&arg.text).ok_or_else(|| {
                RuleError::new(arg.span, format!("unknown table `{}`", arg.text))
                    .with_help("tables are filter, nat, mangle, raw and security")
            })?;
            if let Some((_, s)) = st.table {
                return Err(RuleError::new(tok.span, "`-t` given more than once")
                    .with_help(format!("first given at offset {}", s.start)));
            }
            st.table = Some((t, tok.span));
        }
        Generic::Protocol => {
            if st.protocol.is_some() {
                return Err(RuleError::new(tok.span, "`-p` given more than once"));
            }
            let p = Protocol::parse(&arg.text).ok_or_else(|| {
                RuleError::new(arg.span, format!("unknown protocol `{}`", arg.text)).with_help(
                    "use a name from /etc/protocols (tcp, udp, icmp, ...) or a number 0-255",
                )
            })?;
            if p.0 == 0 {
                if inv {
                    return Err(RuleError::new(
                        tok.span,
                        format!("`! -p {}` would never match", arg.text),
                    ));
                }
                // `-p all` matches everything: no protocol match.
            } else {
                st.protocol = Some((Neg::inverted(p, inv), arg.span));
            }
        }
        Generic::Source | Generic::Destination => {
            let nets = parse_addresses(&arg, cx.family)?;
            if inv && nets.len() > 1 {
                return Err(
                    RuleError::new(tok.span, "`!` is not allowed with several addresses")
                        .with_help(
                        "write one rule per address, or use an ipset with `-m set ! --match-set`",
                    ),
                );
            }
            let slot = if g == Generic::Source {
                &mut st.sources
            } else {
                &mut st.dests
            };
            if slot.is_some() {
                return Err(RuleError::new(
                    tok.span,
                    format!("`{}` given more than once", tok.text),
                ));
            }
            *slot = Some((inv, nets, arg.span));
        }
        Generic::InIface | Generic::OutIface => {
            let name = arg.text.clone();
            if name.is_empty() || name.len() > Iface::MAX_LEN {
                return Err(RuleError::new(
                    arg.span,
                    format!(
                        "interface name `{name}` must be 1 to {} characters",
                        Iface::MAX_LEN
                    ),
                ));
            }
            // `+` is a wildcard only at the end.
            if name.contains(|c: char| {
                c == '/' || c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\')
            }) || name.strip_suffix('+').unwrap_or(&name).contains('+')
            {
                return Err(RuleError::new(
                    arg.span,
                    format!("invalid interface name `{name}`"),
                ));
            }
            let slot = if g == Generic::InIface {
                &mut st.in_iface
            } else {
                &mut st.out_iface
            };
            if slot.is_some() {
                return Err(RuleError::new(
                    tok.span,
                    format!("`{}` given more than once", tok.text),
                ));
            }
            *slot = Some((Neg::inverted(Iface(name), inv), arg.span));
        }
        Generic::Counters => {
            no_invert("`-c`")?;
            let (p, b) = if let Some((p, b)) = arg.text.split_once(',') {
                (Token::new(p, arg.span), Token::new(b, arg.span))
            } else {
                let b = tokens
                    .get(*i)
                    .cloned()
                    .ok_or_else(|| RuleError::new(tok.span, "`-c` needs packets and bytes"))?;
                *i += 1;
                (arg.clone(), b)
            };
            let packets = parse_uint(&p, "packet count", 0, u64::MAX)?;
            let bytes = parse_uint(&b, "byte count", 0, u64::MAX)?;
            st.counters = Some(Counters { packets, bytes });
        }
        Generic::WaitInterval | Generic::Modprobe => {}
        _ => {
            return Err(RuleError::new(
                tok.span,
                format!("option `{}` takes no argument", tok.text),
            ))
        }
    }
    Ok(())
}

pub(crate) fn check_chain_name(arg: &Token) -> Result<(), RuleError> {
    let n = &arg.text;
    if n.is_empty() || n.len() > 28 {
        return Err(RuleError::new(
            arg.span,
            format!("chain name `{n}` must be 1 to 28 characters"),
        ));
    }
    // Blanks, quotes and backslashes could not be written back into an
    // iptables-save file and read again as the same name.
    if n.starts_with('-')
        || n.starts_with('!')
        || n.chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\'))
    {
        return Err(
            RuleError::new(arg.span, format!("invalid chain name `{n}`")).with_help(
                "chain names cannot start with `-` or `!`, nor hold blanks, quotes or backslashes",
            ),
        );
    }
    Ok(())
}

/// `-s`/`-d` value: comma-separated addresses, each `ADDR`, `ADDR/LEN` or
/// `ADDR/DOTTED-MASK`. Host names are refused (they would need DNS).
pub fn parse_addresses(arg: &Token, family: Family) -> Result<Vec<IpNet>, RuleError> {
    let mut out = Vec::new();
    for part in arg.text.split(',') {
        out.push(parse_net(part, arg.span, family)?);
    }
    Ok(out)
}

/// One `ADDR[/LEN|/MASK]` of the given family.
pub fn parse_net(part: &str, span: Span, family: Family) -> Result<IpNet, RuleError> {
    let (a, m) = match part.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (part, None),
    };
    let addr: IpAddr = a.parse().map_err(|_| {
        if a.is_empty() {
            RuleError::new(span, "empty address")
        } else if a.chars().any(|c| c.is_ascii_alphabetic()) && !a.contains(':') {
            RuleError::new(span, format!("host name `{a}` cannot be used"))
                .with_help("rampart does not resolve names at load time; give the address")
        } else {
            RuleError::new(span, format!("invalid address `{a}`"))
        }
    })?;
    let fam_ok = match family {
        Family::Ipv4 => addr.is_ipv4(),
        Family::Ipv6 => addr.is_ipv6(),
    };
    if !fam_ok {
        return Err(RuleError::new(
            span,
            format!(
                "`{a}` is not an {} address",
                if family == Family::Ipv4 {
                    "IPv4"
                } else {
                    "IPv6"
                }
            ),
        )
        .with_help(format!("this is an {} rule", family.tool())));
    }
    match m {
        None => Ok(IpNet::host(addr)),
        Some(m) if !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) => {
            let len: u8 = m
                .parse()
                .map_err(|_| RuleError::new(span, format!("invalid prefix length `{m}`")))?;
            IpNet::new(addr, len)
                .ok_or_else(|| RuleError::new(span, format!("prefix length `/{m}` is too long")))
        }
        Some(m) => {
            let mask: IpAddr = m
                .parse()
                .map_err(|_| RuleError::new(span, format!("invalid mask `{m}`")))?;
            IpNet::with_mask(addr, mask)
                .ok_or_else(|| RuleError::new(span, format!("mask `{m}` is of the other family")))
        }
    }
}

fn finish(
    st: State,
    matches: Vec<LoadedMatch>,
    target: Option<LoadedTarget>,
    warnings: Vec<RuleError>,
    cx: &CmdContext,
    end_span: Span,
) -> Result<Invocation, RuleError> {
    let table = st.table.map_or(cx.table, |(t, _)| t);
    let table_span = st.table.map(|(_, s)| s);
    let skip = st.family_only.is_some_and(|f| f != cx.family);
    let target_span = target.as_ref().map(|t| t.name.span);
    let Some((cmd, cmd_span)) = st.command else {
        return Err(RuleError::new(end_span, "no command given")
            .with_help("use -A CHAIN, -I CHAIN, -N CHAIN, -P CHAIN POLICY, ..."));
    };
    let chain = st.chain.clone();
    let has_rule_parts = st.protocol.is_some()
        || st.sources.is_some()
        || st.dests.is_some()
        || st.in_iface.is_some()
        || st.out_iface.is_some()
        || st.fragment.is_some()
        || !matches.is_empty()
        || target.is_some();
    let mut extra = st.extra.clone().into_iter();
    let no_rule = |what: &str| -> Result<(), RuleError> {
        if has_rule_parts {
            Err(RuleError::new(
                cmd_span,
                format!("{what} takes no rule options"),
            ))
        } else {
            Ok(())
        }
    };
    let opt_chain = |extra: &mut std::vec::IntoIter<Token>| -> Result<Option<ChainRef>, RuleError> {
        match extra.next() {
            Some(t) => {
                check_chain_name(&t)?;
                Ok(Some(ChainRef {
                    name: t.text,
                    span: t.span,
                }))
            }
            None => Ok(None),
        }
    };
    let position = |t: &Token| -> Result<u32, RuleError> {
        parse_uint(t, "rule number", 1, u64::from(u32::MAX)).map(|v| v as u32)
    };
    let command = match cmd {
        Generic::Append | Generic::Insert | Generic::Delete | Generic::Replace | Generic::Check => {
            let chain = chain.unwrap_or(ChainRef {
                name: String::new(),
                span: cmd_span,
            });
            let pos_tok = extra.next();
            if let Some(t) = extra.next() {
                return Err(RuleError::new(
                    t.span,
                    format!("unexpected word `{}`", t.text),
                ));
            }
            if cmd == Generic::Delete && pos_tok.is_some() && !has_rule_parts {
                let position = position(pos_tok.as_ref().unwrap_or(&Token::new("", cmd_span)))?;
                Command::DeleteNum { chain, position }
            } else {
                if let (Some(t), Generic::Append | Generic::Check | Generic::Delete) =
                    (&pos_tok, cmd)
                {
                    return Err(
                        RuleError::new(t.span, format!("unexpected word `{}`", t.text))
                            .with_help("options start with `-`; is a `-` or `--` missing?"),
                    );
                }
                let rules = build_rules(&st, matches, target, table, &chain.name, cx)?;
                match cmd {
                    Generic::Append => Command::Append { chain, rules },
                    Generic::Insert => {
                        let position = match &pos_tok {
                            Some(t) => position(t)?,
                            None => 1,
                        };
                        Command::Insert {
                            chain,
                            position,
                            rules,
                        }
                    }
                    Generic::Delete => Command::DeleteRule { chain, rules },
                    Generic::Check => Command::Check { chain, rules },
                    _ => {
                        let Some(t) = pos_tok else {
                            return Err(RuleError::new(cmd_span, "`-R` needs a rule number")
                                .with_help("write `-R CHAIN N rule`"));
                        };
                        let position = position(&t)?;
                        let mut rules = rules;
                        if rules.len() != 1 {
                            return Err(RuleError::new(
                                cmd_span,
                                "`-R` needs exactly one rule; several addresses were given",
                            ));
                        }
                        let rule = rules.remove(0);
                        Command::Replace {
                            chain,
                            position,
                            rule,
                        }
                    }
                }
            }
        }
        Generic::NewChain => {
            no_rule("`-N`")?;
            let chain = chain.unwrap_or(ChainRef {
                name: String::new(),
                span: cmd_span,
            });
            if chain.name.len() > 28
                || TARGETS.iter().any(|t| t.name == chain.name)
                || matches!(chain.name.as_str(), "ACCEPT" | "DROP" | "RETURN" | "QUEUE")
            {
                return Err(RuleError::new(
                    chain.span,
                    format!("`{}` cannot be a chain name", chain.name),
                ));
            }
            Command::NewChain(chain)
        }
        Generic::DeleteChain => {
            no_rule("`-X`")?;
            Command::DeleteChain(opt_chain(&mut extra)?)
        }
        Generic::Flush => {
            no_rule("`-F`")?;
            Command::Flush(opt_chain(&mut extra)?)
        }
        Generic::Zero => {
            no_rule("`-Z`")?;
            let c = opt_chain(&mut extra)?;
            let _ = extra.next();
            Command::Zero(c)
        }
        Generic::Policy => {
            no_rule("`-P`")?;
            let chain = chain.unwrap_or(ChainRef {
                name: String::new(),
                span: cmd_span,
            });
            let Some(p) = extra.next() else {
                return Err(RuleError::new(cmd_span, "`-P` needs a policy")
                    .with_help("write `-P CHAIN ACCEPT` or `-P CHAIN DROP`"));
            };
            let policy = match p.text.as_str() {
                "ACCEPT" => ChainPolicy::Accept,
                "DROP" => ChainPolicy::Drop,
                _ => {
                    return Err(
                        RuleError::new(p.span, format!("invalid policy `{}`", p.text))
                            .with_help("a policy is ACCEPT or DROP"),
                    )
                }
            };
            if rampart_model::Hook::from_name(&chain.name)
                .is_none_or(|h| !table.builtin_chains().contains(&h))
            {
                return Err(RuleError::new(chain.span, format!("`{}` is not a built-in chain of the {} table; only built-in chains have a policy", chain.name, table.name())));
            }
            Command::Policy { chain, policy }
        }
        Generic::Rename => {
            no_rule("`-E`")?;
            let old = chain.unwrap_or(ChainRef {
                name: String::new(),
                span: cmd_span,
            });
            let Some(n) = extra.next() else {
                return Err(RuleError::new(cmd_span, "`-E` needs the new name")
                    .with_help("write `-E OLD NEW`"));
            };
            check_chain_name(&n)?;
            Command::Rename {
                old,
                new: ChainRef {
                    name: n.text,
                    span: n.span,
                },
            }
        }
        Generic::List | Generic::ListRules => Command::List,
        _ => return Err(RuleError::new(cmd_span, "not a command")),
    };
    if let Some(t) = extra.next() {
        return Err(
            RuleError::new(t.span, format!("unexpected word `{}`", t.text))
                .with_help("options start with `-`; is a `-` or `--` missing?"),
        );
    }
    Ok(Invocation {
        table,
        table_span,
        command,
        command_span: cmd_span,
        target_span,
        skip,
        warnings,
    })
}

fn build_rules(
    st: &State,
    matches: Vec<LoadedMatch>,
    target: Option<LoadedTarget>,
    table: TableKind,
    chain: &str,
    cx: &CmdContext,
) -> Result<Vec<Rule>, RuleError> {
    let hook = Hook::from_name(chain).filter(|h| table.builtin_chains().contains(h));
    let protocol = st.protocol.map(|(p, _)| p);
    if let (Some(h), Some((i, s))) = (hook, &st.in_iface) {
        if matches!(h, Hook::Output | Hook::Postrouting) && !i.value.matches_all() {
            return Err(RuleError::new(
                *s,
                format!(
                    "`-i` cannot be used in {}: there is no input interface",
                    h.name()
                ),
            ));
        }
    }
    if let (Some(h), Some((o, s))) = (hook, &st.out_iface) {
        if matches!(h, Hook::Input | Hook::Prerouting) && !o.value.matches_all() {
            return Err(RuleError::new(
                *s,
                format!(
                    "`-o` cannot be used in {}: there is no output interface",
                    h.name()
                ),
            ));
        }
    }
    let mut built = Vec::new();
    for m in matches {
        let rcx = RuleCtx {
            family: cx.family,
            table,
            chain,
            hook,
            protocol,
            name: &m.name.text,
            name_span: m.name.span,
        };
        built.push((m.ext.build)(&m.opts, &rcx)?);
    }
    let target = match target {
        None => None,
        Some(t) => Some(build_target(t, table, chain, hook, protocol, cx)?),
    };
    // `-i +` matches every interface: iptables drops it.
    let iface = |x: &Option<(Neg<Iface>, Span)>| {
        x.as_ref()
            .map(|(n, _)| n.clone())
            .filter(|n| n.invert || !n.value.matches_all())
    };
    let base = Rule {
        source: None,
        destination: None,
        in_iface: iface(&st.in_iface),
        out_iface: iface(&st.out_iface),
        protocol,
        fragment: st.fragment.map(|(f, _)| f),
        matches: built,
        target,
        counters: st.counters,
        origin: None,
        lint_allow: Vec::new(),
    };
    let srcs: Vec<Option<Neg<IpNet>>> = match &st.sources {
        Some((inv, nets, _)) => nets.iter().map(|n| Some(Neg::inverted(*n, *inv))).collect(),
        None => vec![None],
    };
    let dsts: Vec<Option<Neg<IpNet>>> = match &st.dests {
        Some((inv, nets, _)) => nets.iter().map(|n| Some(Neg::inverted(*n, *inv))).collect(),
        None => vec![None],
    };
    let mut rules = Vec::with_capacity(srcs.len() * dsts.len());
    for s in &srcs {
        for d in &dsts {
            let mut r = base.clone();
            // A /0 network matches everything; iptables-save omits it.
            r.source = s.filter(|n| n.invert || n.value.prefix_len() != Some(0));
            r.destination = d.filter(|n| n.invert || n.value.prefix_len() != Some(0));
            rules.push(r);
        }
    }
    Ok(rules)
}

fn build_target(
    t: LoadedTarget,
    table: TableKind,
    chain: &str,
    hook: Option<Hook>,
    protocol: Option<Neg<Protocol>>,
    cx: &CmdContext,
) -> Result<Target, RuleError> {
    let name = t.name.text.as_str();
    let plain = |target: Target| -> Result<Target, RuleError> {
        if let Some(o) = t.opts.first() {
            return Err(RuleError::new(o.span, format!("`{name}` takes no options")));
        }
        Ok(target)
    };
    if t.goto {
        if matches!(name, "ACCEPT" | "DROP" | "RETURN" | "QUEUE")
            || find_target(name, cx.family).is_some()
        {
            return Err(RuleError::new(
                t.name.span,
                format!("`-g` needs a user chain, not `{name}`"),
            ));
        }
        check_chain_name(&t.name)?;
        return plain(Target::Goto {
            chain: name.to_string(),
        });
    }
    match name {
        "ACCEPT" => return plain(Target::Accept),
        "DROP" => return plain(Target::Drop),
        "RETURN" => return plain(Target::Return),
        "QUEUE" => return plain(Target::Queue),
        _ => {}
    }
    match t.ext {
        Some(ext) => {
            let rcx = RuleCtx {
                family: cx.family,
                table,
                chain,
                hook,
                protocol,
                name,
                name_span: t.name.span,
            };
            (ext.build)(&t.opts, &rcx)
        }
        None => {
            // A jump to a user chain. Names in upper case that look like a
            // target extension we do not know are reported as such.
            let other = match cx.family {
                Family::Ipv4 => Family::Ipv6,
                Family::Ipv6 => Family::Ipv4,
            };
            if find_target(name, other).is_some() {
                return Err(RuleError::new(
                    t.name.span,
                    format!("target `{name}` is not available in {}", cx.family.tool()),
                ));
            }
            check_chain_name(&t.name)?;
            if name == chain {
                return Err(RuleError::new(
                    t.name.span,
                    format!("chain `{name}` cannot jump to itself"),
                ));
            }
            plain(Target::Jump {
                chain: name.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iptables::lex::split_line;

    fn parse(s: &str) -> Result<Invocation, RuleError> {
        let toks = split_line(s, 0).unwrap();
        parse_command(
            &toks,
            &CmdContext {
                family: Family::Ipv4,
                table: TableKind::Filter,
                allow_table_option: true,
            },
        )
    }

    #[test]
    fn append_with_implicit_tcp() {
        let inv = parse("-A INPUT -p tcp --dport 22 -j ACCEPT").unwrap();
        let Command::Append { chain, rules } = inv.command else {
            panic!()
        };
        assert_eq!(chain.name, "INPUT");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].matches[0].name(), "tcp");
        assert_eq!(rules[0].target, Some(Target::Accept));
    }

    #[test]
    fn comma_lists_expand() {
        let inv = parse(
            "-t nat -A POSTROUTING -s 10.0.0.0/8,192.168.0.0/16 -d 1.1.1.1,2.2.2.2 -j ACCEPT",
        )
        .unwrap();
        assert_eq!(inv.table, TableKind::Nat);
        let Command::Append { rules, .. } = inv.command else {
            panic!()
        };
        assert_eq!(rules.len(), 4);
    }

    #[test]
    fn errors_point_at_the_word() {
        let e = parse("-A INPUT -p tcp --dportt 22 -j ACCEPT").unwrap_err();
        assert_eq!(e.span, Span::new(16, 24));
        assert!(e.help.unwrap().contains("--dport"));
        let e = parse("-A INPUT -m nosuch -j ACCEPT").unwrap_err();
        assert!(e.message.contains("nosuch"), "{}", e.message);
        let e = parse("-A INPUT -s example.com -j ACCEPT").unwrap_err();
        assert!(e.message.contains("host name"));
    }

    #[test]
    fn old_negation_is_accepted_with_a_warning() {
        let inv = parse("-A INPUT -p tcp --dport ! 22 -j DROP").unwrap();
        assert_eq!(inv.warnings.len(), 1);
    }

    #[test]
    fn names_that_would_not_print_back_are_refused() {
        assert!(parse("-A IN\\\\x -j ACCEPT").is_err());
        assert!(parse("-A INPUT -i 'a\"b' -j ACCEPT").is_err());
        assert!(parse("-N 'a b'").is_err());
    }

    #[test]
    fn interface_names_with_multibyte_characters_do_not_panic() {
        assert!(parse("-A INPUT -i l\u{590}\u{495} -j ACCEPT").is_ok());
        assert!(parse("-A INPUT -i e+th\u{590} -j ACCEPT").is_err());
        assert!(parse("-A INPUT -i eth\u{590}+ -j ACCEPT").is_ok());
    }

    #[test]
    fn commands() {
        assert!(matches!(
            parse("-P INPUT DROP").unwrap().command,
            Command::Policy { .. }
        ));
        assert!(matches!(
            parse("-N LOGDROP").unwrap().command,
            Command::NewChain(_)
        ));
        assert!(matches!(
            parse("-D INPUT 3").unwrap().command,
            Command::DeleteNum { position: 3, .. }
        ));
        assert!(matches!(
            parse("-I INPUT 2 -j DROP").unwrap().command,
            Command::Insert { position: 2, .. }
        ));
        assert!(matches!(parse("-F").unwrap().command, Command::Flush(None)));
        assert!(matches!(parse("-nvL").unwrap().command, Command::List));
        assert!(parse("-P FOO DROP").is_err());
    }
}
