//! `ipset` commands (in scripts and in `ipset save` / `ipset restore`
//! files) carried out on the sets of a [`Policy`], and the `ipset save`
//! printer.
//!
//! Elements are parsed into one typed [`ElemPart`] per dimension of the
//! set type, with the family of the set checked, and errors located at the
//! element.

use crate::diag::{Diagnostics, Parsed, SourceFile, Span};
use crate::iptables::ext::{parse_port, parse_u32, parse_uint, RuleError, Token};
use crate::iptables::lex::split_line;
use crate::iptables::save::to_diagnostic;
use rampart_model::set::SetOptions;
use rampart_model::{
    ElemPart, Family, IpNet, IpSet, MacAddr, Origin, Policy, Protocol, SetElement, SetKind,
};
use std::fmt::Write as _;
use std::net::IpAddr;

/// Longest set name ipset accepts (IPSET_MAXNAMELEN - 1).
const MAX_NAME: usize = 31;

/// An error from an ipset command. `runtime` errors are the ones ipset
/// reports when the state does not allow the command (a set that already
/// exists, an element that is not in the set), as opposed to a command
/// that is malformed.
#[derive(Debug, Clone)]
pub(crate) struct IpsetError {
    pub err: RuleError,
    pub runtime: bool,
}

impl From<RuleError> for IpsetError {
    fn from(err: RuleError) -> Self {
        IpsetError {
            err,
            runtime: false,
        }
    }
}

fn runtime(err: RuleError) -> IpsetError {
    IpsetError { err, runtime: true }
}

/// What an ipset command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The sets were changed (or the command was a no-op by `-exist`).
    Done,
    /// A command that only reads (`list`, `test`, `help`, `version`).
    ReadOnly,
    /// `ipset save`: prints the sets.
    Save,
    /// `ipset restore`: reads commands from stdin or `-file`.
    Restore { file: Option<Token> },
    /// `destroy`, `del` or `flush`: a deletion (the caller may soften
    /// its runtime errors).
    Deletion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sub {
    Create,
    Add,
    Del,
    Destroy,
    Flush,
    Rename,
    Swap,
    List,
    Save,
    Restore,
    Test,
    Info,
}

fn subcommand(s: &str) -> Option<Sub> {
    Some(match s {
        "create" | "n" | "-N" | "--create" => Sub::Create,
        "add" | "a" | "-A" | "--add" => Sub::Add,
        "del" | "d" | "-D" | "--del" => Sub::Del,
        "destroy" | "x" | "-X" | "--destroy" => Sub::Destroy,
        "flush" | "f" | "-F" | "--flush" => Sub::Flush,
        "rename" | "e" | "-E" | "--rename" => Sub::Rename,
        "swap" | "w" | "-W" | "--swap" => Sub::Swap,
        "list" | "l" | "-L" | "--list" => Sub::List,
        "save" | "s" | "-S" | "--save" => Sub::Save,
        "restore" | "r" | "-R" | "--restore" => Sub::Restore,
        "test" | "t" | "-T" | "--test" => Sub::Test,
        "help" | "-h" | "-H" | "--help" | "version" | "-v" | "-V" | "--version" => Sub::Info,
        _ => return None,
    })
}

/// Carries out one ipset command (the words after `ipset`, or one line of
/// an `ipset restore` file) on `policy`. `at` is where the command starts
/// (for errors without a better place); `origin` is stamped on new sets.
pub(crate) fn run(
    words: &[Token],
    at: Span,
    policy: &mut Policy,
    origin: Option<Origin>,
) -> Result<Outcome, IpsetError> {
    // Global options may appear anywhere.
    let mut exist = false;
    let mut file = None;
    let mut args: Vec<&Token> = Vec::new();
    let mut it = words.iter();
    while let Some(t) = it.next() {
        match t.text.as_str() {
            "-exist" | "--exist" | "-!" => exist = true,
            "-q" | "-quiet" | "--quiet" | "-n" | "-name" | "--name" | "-t" | "-terse"
            | "--terse" | "-s" | "-sorted" | "--sorted" | "-r" | "-resolve" | "--resolve" => {}
            "-o" | "-output" | "--output" => {
                it.next();
            }
            "-f" | "-file" | "--file" => {
                file = it.next().cloned();
            }
            _ => args.push(t),
        }
    }
    let Some((first, rest)) = args.split_first() else {
        return Err(RuleError::new(at, "`ipset` without a command")
            .with_help("e.g. `ipset create NAME hash:ip` or `ipset add NAME 192.0.2.1`")
            .into());
    };
    let Some(sub) = subcommand(&first.text) else {
        return Err(RuleError::new(
            first.span,
            format!("unknown ipset command `{}`", first.text),
        )
        .with_help("ipset commands are create, add, del, destroy, flush, rename, swap, list, save, restore and test")
        .into());
    };
    match sub {
        Sub::Create => create(first, rest, policy, origin, exist),
        Sub::Add => add(first, rest, policy, exist),
        Sub::Del => del(first, rest, policy, exist),
        Sub::Destroy => {
            max_args(rest, 1)?;
            match rest.first() {
                None => policy.sets.clear(),
                Some(n) => {
                    let Some(i) = policy.sets.iter().position(|s| s.name == n.text) else {
                        return Err(runtime(no_set(n)));
                    };
                    policy.sets.remove(i);
                }
            }
            Ok(Outcome::Deletion)
        }
        Sub::Flush => {
            max_args(rest, 1)?;
            match rest.first() {
                None => policy.sets.iter_mut().for_each(|s| s.elements.clear()),
                Some(n) => existing(policy, n).map_err(runtime)?.elements.clear(),
            }
            Ok(Outcome::Deletion)
        }
        Sub::Rename | Sub::Swap => {
            let (a, b) = two_names(first, rest)?;
            existing(policy, a).map_err(runtime)?;
            if sub == Sub::Rename {
                check_name(b)?;
                if policy.set(&b.text).is_some() {
                    return Err(runtime(RuleError::new(
                        b.span,
                        format!("set `{}` already exists", b.text),
                    )));
                }
                if let Some(s) = policy.set_mut(&a.text) {
                    s.name = b.text.clone();
                }
            } else {
                existing(policy, b).map_err(runtime)?;
                for s in &mut policy.sets {
                    if s.name == a.text {
                        s.name = b.text.clone();
                    } else if s.name == b.text {
                        s.name = a.text.clone();
                    }
                }
            }
            Ok(Outcome::Done)
        }
        Sub::List | Sub::Test | Sub::Info => Ok(Outcome::ReadOnly),
        Sub::Save => Ok(Outcome::Save),
        Sub::Restore => Ok(Outcome::Restore { file }),
    }
}

fn max_args(rest: &[&Token], n: usize) -> Result<(), RuleError> {
    match rest.get(n) {
        Some(t) => Err(RuleError::new(t.span, format!("unexpected `{}`", t.text))),
        None => Ok(()),
    }
}

fn two_names<'a>(cmd: &Token, rest: &[&'a Token]) -> Result<(&'a Token, &'a Token), RuleError> {
    match rest {
        [a, b] => Ok((a, b)),
        [_, _, x, ..] => Err(RuleError::new(x.span, format!("unexpected `{}`", x.text))),
        _ => Err(RuleError::new(
            cmd.span,
            format!("`{}` needs two set names", cmd.text),
        )),
    }
}

fn no_set(name: &Token) -> RuleError {
    RuleError::new(name.span, format!("set `{}` does not exist", name.text)).with_help(format!(
        "create it first with `ipset create {} TYPE`",
        name.text
    ))
}

fn existing<'a>(policy: &'a mut Policy, name: &Token) -> Result<&'a mut IpSet, RuleError> {
    policy.set_mut(&name.text).ok_or_else(|| no_set(name))
}

fn check_name(name: &Token) -> Result<(), RuleError> {
    if name.text.is_empty() || name.text.len() > MAX_NAME {
        return Err(
            RuleError::new(name.span, format!("invalid set name `{}`", name.text))
                .with_help(format!("a set name has 1 to {MAX_NAME} characters")),
        );
    }
    Ok(())
}

fn set_kind(t: &Token) -> Result<SetKind, RuleError> {
    let alias = match t.text.as_str() {
        "iphash" => Some(SetKind::HashIp),
        "nethash" => Some(SetKind::HashNet),
        "ipporthash" => Some(SetKind::HashIpPort),
        "ipmap" => Some(SetKind::BitmapIp),
        "macipmap" => Some(SetKind::BitmapIpMac),
        "portmap" => Some(SetKind::BitmapPort),
        "setlist" => Some(SetKind::ListSet),
        _ => None,
    };
    alias
        .or_else(|| SetKind::from_name(&t.text))
        .ok_or_else(|| {
            RuleError::new(t.span, format!("unknown set type `{}`", t.text)).with_help(format!(
                "set types are {}",
                SetKind::ALL.map(|k| k.name()).join(", ")
            ))
        })
}

/// Does the type hold addresses (and so have a family)?
fn has_addresses(kind: SetKind) -> bool {
    kind.name()
        .split_once(':')
        .is_some_and(|(_, d)| d.split(',').any(|x| x == "ip" || x == "net"))
}

fn is_bitmap(kind: SetKind) -> bool {
    kind.name().starts_with("bitmap:")
}

fn create(
    cmd: &Token,
    rest: &[&Token],
    policy: &mut Policy,
    origin: Option<Origin>,
    exist: bool,
) -> Result<Outcome, IpsetError> {
    let (Some(name), Some(ty)) = (rest.first(), rest.get(1)) else {
        return Err(
            RuleError::new(cmd.span, "`create` needs a set name and a type")
                .with_help("e.g. `ipset create blocklist hash:net`")
                .into(),
        );
    };
    check_name(name)?;
    let kind = set_kind(ty)?;
    let mut family = None;
    let mut timeout = None;
    let mut options = SetOptions::default();
    let mut i = 2;
    let value = |i: &mut usize, opt: &Token| -> Result<Token, RuleError> {
        *i += 1;
        rest.get(*i)
            .map(|t| (*t).clone())
            .ok_or_else(|| RuleError::new(opt.span, format!("option `{}` needs a value", opt.text)))
    };
    while let Some(&opt) = rest.get(i) {
        match opt.text.as_str() {
            "family" => {
                let v = value(&mut i, opt)?;
                family = Some(match v.text.as_str() {
                    "inet" | "ipv4" => (Family::Ipv4, v.span),
                    "inet6" | "ipv6" => (Family::Ipv6, v.span),
                    _ => {
                        return Err(RuleError::new(
                            v.span,
                            format!("unknown family `{}`", v.text),
                        )
                        .with_help("the family is `inet` or `inet6`")
                        .into())
                    }
                });
            }
            "timeout" => {
                let v = value(&mut i, opt)?;
                timeout = Some(parse_uint(&v, "timeout", 0, 2_147_483)? as u32);
            }
            "hashsize" => {
                let v = value(&mut i, opt)?;
                options.hashsize = Some(parse_u32(&v, "hashsize")?);
            }
            "maxelem" => {
                let v = value(&mut i, opt)?;
                options.maxelem = Some(parse_u32(&v, "maxelem")?);
            }
            "netmask" => {
                let v = value(&mut i, opt)?;
                options.netmask = Some(parse_uint(&v, "netmask", 1, 128)? as u8);
            }
            "range" => {
                let v = value(&mut i, opt)?;
                options.range = Some(v.text.clone());
            }
            // Accepted for compatibility, not kept in the model.
            "size" | "markmask" | "bucketsize" | "initval" | "resize" | "probes" | "gc" => {
                value(&mut i, opt)?;
            }
            "counters" => options.counters = true,
            "comment" => options.comment = true,
            "skbinfo" => options.skbinfo = true,
            "forceadd" => options.forceadd = true,
            _ => {
                return Err(RuleError::new(
                    opt.span,
                    format!("unknown option `{}` for `ipset create`", opt.text),
                )
                .with_help("create options are family, timeout, hashsize, maxelem, netmask, range, counters, comment, skbinfo and forceadd")
                .into())
            }
        }
        i += 1;
    }
    let family = if has_addresses(kind) {
        match family {
            Some((Family::Ipv6, span)) if is_bitmap(kind) => {
                return Err(
                    RuleError::new(span, format!("a `{}` set is IPv4 only", kind.name())).into(),
                )
            }
            Some((f, _)) => Some(f),
            None => Some(Family::Ipv4),
        }
    } else {
        if let Some((_, span)) = family {
            return Err(RuleError::new(
                span,
                format!("a `{}` set has no address family", kind.name()),
            )
            .into());
        }
        None
    };
    if is_bitmap(kind) && options.range.is_none() {
        return Err(
            RuleError::new(ty.span, format!("a `{}` set needs `range`", kind.name()))
                .with_help(if kind == SetKind::BitmapPort {
                    "e.g. `range 0-1023`"
                } else {
                    "e.g. `range 192.168.0.0/16`"
                })
                .into(),
        );
    }
    if let Some(old) = policy.set(&name.text) {
        if exist && old.kind == kind && old.family == family {
            return Ok(Outcome::Done);
        }
        return Err(runtime(
            RuleError::new(name.span, format!("set `{}` already exists", name.text)).with_help(
                if exist {
                    "it exists with another type or family"
                } else {
                    "use `-exist` to ignore an identical existing set, or destroy it first"
                },
            ),
        ));
    }
    policy.sets.push(IpSet {
        name: name.text.clone(),
        kind,
        family,
        timeout,
        options,
        elements: Vec::new(),
        origin,
    });
    Ok(Outcome::Done)
}

/// The element and its options after `add NAME` / `del NAME`.
fn element(
    cmd: &Token,
    rest: &[&Token],
    policy: &Policy,
    adding: bool,
) -> Result<SetElement, IpsetError> {
    let (Some(name), Some(elem)) = (rest.first(), rest.get(1)) else {
        return Err(RuleError::new(
            cmd.span,
            format!("`{}` needs a set name and an element", cmd.text),
        )
        .into());
    };
    let set = policy.set(&name.text).ok_or_else(|| no_set(name))?;
    let parts = parse_element(elem, set, policy)?;
    let mut e = SetElement {
        parts,
        timeout: None,
        comment: None,
        nomatch: false,
    };
    let mut i = 2;
    while let Some(&opt) = rest.get(i) {
        let needs = |what: &str| {
            RuleError::new(
                opt.span,
                format!("set `{}` was created without `{what}`", set.name),
            )
            .with_help(format!("add `{what}` to its create line"))
        };
        let mut value = || -> Result<Token, RuleError> {
            i += 1;
            rest.get(i).map(|t| (*t).clone()).ok_or_else(|| {
                RuleError::new(opt.span, format!("option `{}` needs a value", opt.text))
            })
        };
        match opt.text.as_str() {
            "timeout" if adding => {
                let v = value()?;
                if set.timeout.is_none() {
                    return Err(needs("timeout").into());
                }
                e.timeout = Some(parse_uint(&v, "timeout", 0, 2_147_483)? as u32);
            }
            "comment" if adding => {
                let v = value()?;
                if !set.options.comment {
                    return Err(needs("comment").into());
                }
                e.comment = Some(v.text.clone());
            }
            "nomatch" => {
                if !set.kind.name().starts_with("hash:net") {
                    return Err(RuleError::new(
                        opt.span,
                        format!("`nomatch` is only for hash:net types, not `{}`", set.kind.name()),
                    )
                    .into());
                }
                e.nomatch = true;
            }
            "packets" | "bytes" | "skbmark" | "skbprio" | "skbqueue" | "before" | "after"
                if adding =>
            {
                value()?;
            }
            _ => {
                return Err(RuleError::new(
                    opt.span,
                    format!("unexpected `{}` after the element", opt.text),
                )
                .with_help("element options are timeout, comment, nomatch, packets, bytes and skbmark/skbprio/skbqueue")
                .into())
            }
        }
        i += 1;
    }
    Ok(e)
}

fn add(
    cmd: &Token,
    rest: &[&Token],
    policy: &mut Policy,
    exist: bool,
) -> Result<Outcome, IpsetError> {
    let e = element(cmd, rest, policy, true)?;
    let (Some(name), Some(elem)) = (rest.first(), rest.get(1)) else {
        return Ok(Outcome::Done);
    };
    let set = existing(policy, name)?;
    match set.elements.iter_mut().find(|x| x.parts == e.parts) {
        Some(old) if exist => {
            old.timeout = e.timeout.or(old.timeout);
            old.comment = e.comment.or(old.comment.take());
            old.nomatch = e.nomatch;
        }
        Some(_) => {
            return Err(runtime(
                RuleError::new(
                    elem.span,
                    format!("`{}` is already in set `{}`", elem.text, name.text),
                )
                .with_help("use `-exist` to ignore elements already added"),
            ))
        }
        // An explicit timeout is kept; the set's default is implied.
        None => set.elements.push(e),
    }
    Ok(Outcome::Done)
}

fn del(
    cmd: &Token,
    rest: &[&Token],
    policy: &mut Policy,
    exist: bool,
) -> Result<Outcome, IpsetError> {
    let e = element(cmd, rest, policy, false)?;
    let (Some(name), Some(elem)) = (rest.first(), rest.get(1)) else {
        return Ok(Outcome::Done);
    };
    let set = existing(policy, name)?;
    match set.elements.iter().position(|x| x.parts == e.parts) {
        Some(i) => {
            set.elements.remove(i);
        }
        None if exist => {}
        None => {
            return Err(runtime(RuleError::new(
                elem.span,
                format!("`{}` is not in set `{}`", elem.text, name.text),
            )))
        }
    }
    Ok(Outcome::Deletion)
}

/// What an element of this set type looks like, for help texts.
fn element_shape(kind: SetKind) -> String {
    let dims = kind.name().split_once(':').map_or("", |(_, d)| d);
    dims.split(',')
        .map(|d| match d {
            "ip" => "ADDR",
            "net" => "NET",
            "port" => "[PROTO:]PORT",
            "mac" => "MAC",
            "iface" => "IFACE",
            "mark" => "MARK",
            "set" => "SETNAME",
            _ => "?",
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses one element of `set` into its parts.
fn parse_element(tok: &Token, set: &IpSet, policy: &Policy) -> Result<Vec<ElemPart>, RuleError> {
    let dims: Vec<&str> = set
        .kind
        .name()
        .split_once(':')
        .map_or(vec![], |(_, d)| d.split(',').collect());
    let texts: Vec<&str> = tok.text.split(',').collect();
    if texts.len() != dims.len() {
        return Err(RuleError::new(
            tok.span,
            format!(
                "element `{}` has {} part(s), a `{}` set needs {}",
                tok.text,
                texts.len(),
                set.kind.name(),
                dims.len()
            ),
        )
        .with_help(format!("write it as `{}`", element_shape(set.kind))));
    }
    let mut parts = Vec::new();
    for (d, text) in dims.iter().zip(texts) {
        let part = match *d {
            "ip" | "net" => parse_addr_part(text, tok.span, set)?,
            "port" => parse_port_part(text, tok.span)?,
            "mac" => ElemPart::Mac(MacAddr::parse(text).ok_or_else(|| {
                RuleError::new(tok.span, format!("invalid MAC address `{text}`"))
                    .with_help("write it as `aa:bb:cc:dd:ee:ff`")
            })?),
            "iface" => {
                let name = text.strip_prefix("physdev:").unwrap_or(text);
                if name.is_empty() || name.len() > rampart_model::Iface::MAX_LEN {
                    return Err(RuleError::new(
                        tok.span,
                        format!("invalid interface name `{text}`"),
                    )
                    .with_help("an interface name has 1 to 15 characters"));
                }
                ElemPart::Iface(text.to_string())
            }
            "mark" => ElemPart::Mark(parse_u32(&Token::new(text, tok.span), "mark")?),
            "set" => {
                match policy.set(text) {
                    None => {
                        return Err(RuleError::new(
                            tok.span,
                            format!("set `{text}` does not exist"),
                        )
                        .with_help("create the member set before adding it to a list:set"))
                    }
                    Some(m) if m.kind == SetKind::ListSet => {
                        return Err(RuleError::new(
                            tok.span,
                            format!("set `{text}` is a list:set and cannot be a member of one"),
                        ))
                    }
                    Some(_) => {}
                }
                ElemPart::SetName(text.to_string())
            }
            _ => {
                return Err(RuleError::new(
                    tok.span,
                    format!("set type `{}` is not supported", set.kind.name()),
                ))
            }
        };
        parts.push(part);
    }
    Ok(parts)
}

fn parse_ip(text: &str, span: Span, set: &IpSet) -> Result<IpAddr, RuleError> {
    let addr: IpAddr = text.parse().map_err(|_| {
        if text.chars().any(|c| c.is_ascii_alphabetic()) && !text.contains(':') {
            RuleError::new(span, format!("host name `{text}` cannot be used"))
                .with_help("rampart does not resolve names; give the address")
        } else {
            RuleError::new(span, format!("invalid address `{text}`"))
        }
    })?;
    let want = set.family.unwrap_or(Family::Ipv4);
    let is = if addr.is_ipv4() {
        Family::Ipv4
    } else {
        Family::Ipv6
    };
    if is != want {
        let (fam, opt) = match want {
            Family::Ipv4 => ("IPv4", "inet6"),
            Family::Ipv6 => ("IPv6", "inet"),
        };
        return Err(RuleError::new(
            span,
            format!(
                "`{text}` is not an {fam} address, and set `{}` is {fam}",
                set.name
            ),
        )
        .with_help(format!("put it in a set created with `family {opt}`")));
    }
    Ok(addr)
}

fn parse_addr_part(text: &str, span: Span, set: &IpSet) -> Result<ElemPart, RuleError> {
    if let Some((a, b)) = text.split_once('-') {
        let a = parse_ip(a, span, set)?;
        let b = parse_ip(b, span, set)?;
        if a > b {
            return Err(RuleError::new(
                span,
                format!("invalid range `{text}`: start is greater than end"),
            ));
        }
        return Ok(ElemPart::Range(a, b));
    }
    let (a, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr = parse_ip(a, span, set)?;
    let net = match len {
        None => IpNet::host(addr),
        Some(l) => {
            let n: u8 = l
                .parse()
                .map_err(|_| RuleError::new(span, format!("invalid prefix length `/{l}`")))?;
            IpNet::new(addr, n)
                .ok_or_else(|| RuleError::new(span, format!("prefix length `/{l}` is too long")))?
        }
    };
    if net.prefix_len() == Some(0) {
        return Err(RuleError::new(
            span,
            format!("`{text}`: a prefix length of 0 is not allowed in a set"),
        ));
    }
    Ok(ElemPart::Net(net))
}

fn parse_port_part(text: &str, span: Span) -> Result<ElemPart, RuleError> {
    let (proto, ports) = match text.split_once(':') {
        Some((p, rest)) => {
            let proto = Protocol::parse(p).ok_or_else(|| {
                RuleError::new(span, format!("unknown protocol `{p}` in `{text}`"))
            })?;
            if matches!(proto.0, 1 | 58) {
                return Err(RuleError::new(
                    span,
                    format!("ICMP elements like `{text}` are not supported"),
                ));
            }
            // tcp is ipset's default and is stored as `None`.
            (
                if proto == Protocol::TCP {
                    None
                } else {
                    Some(proto.0)
                },
                rest,
            )
        }
        None => (None, text),
    };
    let port = |p: &str| parse_port(&Token::new(p, span));
    let (first, last) = match ports.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => {
            let p = port(ports)?;
            (p, p)
        }
    };
    if first > last {
        return Err(RuleError::new(
            span,
            format!("invalid port range `{text}`: start is greater than end"),
        ));
    }
    Ok(ElemPart::Port { proto, first, last })
}

/// Reads an `ipset save` / `ipset restore` file (`create ...` and
/// `add ...` lines, also `-N`/`-A` and the other commands ipset restore
/// accepts, `-exist` anywhere) into the sets of a policy.
///
/// ```
/// use rampart_syntax::{diag::SourceFile, script};
/// let file = SourceFile::new("sets.ipset", "create bad hash:net family inet hashsize 1024 maxelem 65536\nadd bad 192.0.2.0/24\n");
/// let parsed = script::parse_ipset_save(&file);
/// assert!(parsed.diagnostics.is_empty());
/// assert_eq!(parsed.value.sets[0].elements.len(), 1);
/// ```
pub fn parse_ipset_save(file: &SourceFile) -> Parsed<Policy> {
    let mut policy = Policy::default();
    let mut diags = Diagnostics::default();
    parse_ipset_save_into(file, &mut policy, &mut diags);
    Parsed {
        value: policy,
        diagnostics: diags,
    }
}

/// Like [`parse_ipset_save`], adding to an existing policy.
pub fn parse_ipset_save_into(file: &SourceFile, policy: &mut Policy, diags: &mut Diagnostics) {
    let mut offset = 0;
    for raw in file.text.split_inclusive('\n') {
        let base = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "COMMIT" {
            continue;
        }
        let start = base + (line.len() - trimmed.len());
        let tokens = match split_line(trimmed, start) {
            Ok(t) => t,
            Err(e) => {
                diags.push(to_diagnostic(file, e, false));
                continue;
            }
        };
        let at = tokens.first().map_or(Span::new(start, start), |t| t.span);
        if let Some(first) = tokens.first() {
            if matches!(
                subcommand(&first.text),
                Some(Sub::List | Sub::Save | Sub::Restore | Sub::Test | Sub::Info)
            ) {
                diags.push(file.error(
                    first.span,
                    format!("`{}` cannot be used in an ipset restore file", first.text),
                ));
                continue;
            }
        }
        if let Err(e) = run(&tokens, at, policy, Some(file.origin(at))) {
            diags.push(to_diagnostic(file, e.err, false));
        }
    }
}

/// Prints the sets of a policy in `ipset save` format: a `create` line per
/// set followed by its `add` lines.
///
/// ```
/// use rampart_syntax::{diag::SourceFile, script};
/// let text = "create bad hash:net family inet hashsize 1024\nadd bad 192.0.2.0/24\nadd bad 198.51.100.7\n";
/// let parsed = script::parse_ipset_save(&SourceFile::new("s", text));
/// assert_eq!(script::ipset_save_text(&parsed.value), text);
/// ```
pub fn ipset_save_text(policy: &Policy) -> String {
    let mut out = String::new();
    for set in &policy.sets {
        if !set.kind.is_ipset() {
            // Native `port`/`iface` sets exist only as nftables sets.
            let _ = writeln!(
                out,
                "# set {} of type \"{}\" has no ipset type (nftables only); not written",
                set.name,
                set.kind.name()
            );
            continue;
        }
        let _ = write!(out, "create {} {}", set.name, set.kind.name());
        if let Some(f) = set.family.filter(|_| !is_bitmap(set.kind)) {
            out.push_str(match f {
                Family::Ipv4 => " family inet",
                Family::Ipv6 => " family inet6",
            });
        }
        let o = &set.options;
        if let Some(r) = &o.range {
            let _ = write!(out, " range {r}");
        }
        if let Some(n) = o.netmask {
            let _ = write!(out, " netmask {n}");
        }
        if let Some(n) = o.hashsize {
            let _ = write!(out, " hashsize {n}");
        }
        if let Some(n) = o.maxelem {
            let _ = write!(out, " maxelem {n}");
        }
        if let Some(t) = set.timeout {
            let _ = write!(out, " timeout {t}");
        }
        for (on, name) in [
            (o.counters, "counters"),
            (o.comment, "comment"),
            (o.skbinfo, "skbinfo"),
            (o.forceadd, "forceadd"),
        ] {
            if on {
                out.push(' ');
                out.push_str(name);
            }
        }
        out.push('\n');
        for e in &set.elements {
            let _ = writeln!(out, "add {} {}", set.name, element_text(e, set.kind));
        }
    }
    out
}

/// One element as `ipset` writes it after `add NAME`: the parts joined by
/// `,`, then `timeout`, `nomatch` and `comment`.
pub fn element_text(e: &SetElement, kind: SetKind) -> String {
    let mut out = String::new();
    for (i, p) in e.parts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        print_part(&mut out, p, kind);
    }
    if let Some(t) = e.timeout {
        let _ = write!(out, " timeout {t}");
    }
    if e.nomatch {
        out.push_str(" nomatch");
    }
    if let Some(c) = &e.comment {
        let _ = write!(out, " comment \"{}\"", c.replace(['"', '\\'], ""));
    }
    out
}

fn print_part(out: &mut String, p: &ElemPart, kind: SetKind) {
    match p {
        ElemPart::Net(n) if n.is_host() => {
            let _ = write!(out, "{}", n.addr());
        }
        ElemPart::Net(n) => {
            let _ = write!(out, "{n}");
        }
        ElemPart::Range(a, b) => {
            let _ = write!(out, "{a}-{b}");
        }
        ElemPart::Port { proto, first, last } => {
            if kind != SetKind::BitmapPort || proto.is_some() {
                match proto.map(Protocol) {
                    None => out.push_str("tcp:"),
                    Some(p) => match p.name() {
                        Some(n) => {
                            let _ = write!(out, "{n}:");
                        }
                        None => {
                            let _ = write!(out, "{}:", p.0);
                        }
                    },
                }
            }
            let _ = write!(out, "{first}");
            if last != first {
                let _ = write!(out, "-{last}");
            }
        }
        ElemPart::Mac(m) => {
            let _ = write!(out, "{m}");
        }
        ElemPart::Iface(i) | ElemPart::SetName(i) => out.push_str(i),
        ElemPart::Mark(m) => {
            let _ = write!(out, "0x{m:08x}");
        }
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests panic on purpose
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Token> {
        split_line(s, 0).unwrap_or_default()
    }

    fn go(p: &mut Policy, s: &str) -> Result<Outcome, IpsetError> {
        run(&toks(s), Span::default(), p, None)
    }

    #[test]
    fn typed_elements() {
        let mut p = Policy::default();
        go(&mut p, "create a hash:net,port family inet6").unwrap();
        go(&mut p, "add a 2001:db8::/32,udp:1000-2000").unwrap();
        assert_eq!(
            p.sets[0].elements[0].parts[1],
            ElemPart::Port {
                proto: Some(17),
                first: 1000,
                last: 2000
            }
        );
        let e = go(&mut p, "add a 192.0.2.1,80").unwrap_err();
        assert!(e.err.message.contains("not an IPv6"), "{}", e.err.message);
        go(&mut p, "create m hash:ip,mac").unwrap();
        go(&mut p, "add m 10.0.0.1-10.0.0.9,00:11:22:33:44:55").unwrap();
        go(&mut p, "create l list:set").unwrap();
        go(&mut p, "add l m").unwrap();
        assert!(go(&mut p, "add l nosuch").is_err());
    }

    #[test]
    fn state_errors_are_runtime() {
        let mut p = Policy::default();
        let e = go(&mut p, "add nosuch 1.2.3.4").unwrap_err();
        assert!(e.err.help.unwrap().contains("ipset create nosuch"));
        go(&mut p, "-N s iphash").unwrap();
        assert!(go(&mut p, "create s hash:ip").unwrap_err().runtime);
        go(&mut p, "create s hash:ip -exist").unwrap();
        go(&mut p, "-A s 1.2.3.4").unwrap();
        assert!(go(&mut p, "add s 1.2.3.4").unwrap_err().runtime);
        go(&mut p, "add -exist s 1.2.3.4").unwrap();
        assert_eq!(go(&mut p, "del s 1.2.3.4").unwrap(), Outcome::Deletion);
        assert!(go(&mut p, "del s 1.2.3.4").unwrap_err().runtime);
        go(&mut p, "destroy s").unwrap();
        assert!(p.sets.is_empty());
    }

    #[test]
    fn save_round_trip() {
        let text = "create b bitmap:port range 0-1023\nadd b 22\ncreate p hash:ip,port family inet timeout 300 comment\nadd p 10.0.0.1,udp:53 timeout 10 comment \"dns\"\nadd p 10.0.0.2,tcp:80-90\ncreate k hash:ip,mark family inet\nadd k 10.0.0.1,0x0000002a\n";
        let parsed = parse_ipset_save(&SourceFile::new("s", text));
        assert!(parsed.diagnostics.is_empty(), "{}", parsed.diagnostics);
        assert_eq!(ipset_save_text(&parsed.value), text);
    }
}
