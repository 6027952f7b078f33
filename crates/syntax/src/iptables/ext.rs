//! The extension framework: how a match or target extension declares its
//! options, how the command parser hands it what it found, and the shared
//! helpers for parsing and printing option values the way iptables does.
//!
//! An extension is a `static` [`MatchExt`] or [`TargetExt`] plus a `save`
//! function; both are listed in [`super::registry`]. The command parser
//! collects every option of a loaded extension as an [`OptOcc`] (name,
//! `!`, arguments with spans) and, when the whole command line is read,
//! calls the extension's `build` with a [`RuleCtx`] (family, table, chain,
//! protocol) to validate and produce the typed model value.

use crate::diag::Span;
pub use crate::iptables::lex::Token;
pub use rampart_model::{Family, Hook, Match, Neg, PortRange, Protocol, TableKind, Target};

/// A problem in one command line, located by span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub span: Span,
    pub message: String,
    pub help: Option<String>,
}

impl RuleError {
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        RuleError {
            span,
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// How many arguments an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// A flag, e.g. `--syn`.
    None,
    /// One argument, e.g. `--dport 22`.
    One,
    /// Two arguments, e.g. `--tcp-flags SYN,ACK SYN`.
    Two,
    /// An argument when the next word does not start with `-`,
    /// e.g. `--reap` style options of some extensions.
    Optional,
}

/// One option of an extension. `names[0]` is the canonical name (as
/// printed); the others are aliases (`--destination-port` for `--dport`).
#[derive(Debug, Clone, Copy)]
pub struct OptSpec {
    pub names: &'static [&'static str],
    pub args: Arity,
}

impl OptSpec {
    pub const fn new(names: &'static [&'static str], args: Arity) -> Self {
        OptSpec { names, args }
    }
}

/// One occurrence of an extension option in a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOcc {
    /// Canonical name, without `--`.
    pub name: &'static str,
    /// `! --opt` (or the old `--opt ! arg`).
    pub invert: bool,
    pub args: Vec<Token>,
    /// The option word itself.
    pub span: Span,
}

impl OptOcc {
    /// The first argument. Arity `One`/`Two` options always have one; for
    /// others this returns an empty token at the option.
    pub fn arg(&self) -> Token {
        self.args
            .first()
            .cloned()
            .unwrap_or_else(|| Token::new("", Span::new(self.span.end, self.span.end)))
    }

    /// The second argument (arity `Two`).
    pub fn arg2(&self) -> Token {
        self.args
            .get(1)
            .cloned()
            .unwrap_or_else(|| Token::new("", Span::new(self.span.end, self.span.end)))
    }

    /// Span of the option and its arguments.
    pub fn full_span(&self) -> Span {
        self.args.iter().fold(self.span, |s, a| s.to(a.span))
    }

    /// Error "option `--x` does not take `!`" unless `allowed`.
    pub fn check_invert(&self, allowed: bool) -> Result<(), RuleError> {
        if self.invert && !allowed {
            Err(RuleError::new(
                self.span,
                format!("option `--{}` cannot be inverted with `!`", self.name),
            ))
        } else {
            Ok(())
        }
    }
}

/// What an extension's `build` knows about the rule it is in.
#[derive(Debug, Clone)]
pub struct RuleCtx<'a> {
    pub family: Family,
    pub table: TableKind,
    pub chain: &'a str,
    /// The built-in chain's hook; `None` for a user chain (hook checks are
    /// then left to the chains that jump to it, as iptables does).
    pub hook: Option<Hook>,
    /// `-p` of the rule (final value, even when given after `-m`).
    pub protocol: Option<Neg<Protocol>>,
    /// The extension name as the user wrote it (`-m NAME` / `-j NAME`).
    pub name: &'a str,
    /// Span of that name word.
    pub name_span: Span,
}

impl RuleCtx<'_> {
    /// Error at the extension name.
    pub fn error(&self, message: impl Into<String>) -> RuleError {
        RuleError::new(self.name_span, message)
    }

    /// The rule's protocol when it is given and not inverted.
    pub fn proto(&self) -> Option<Protocol> {
        self.protocol.filter(|p| !p.invert).map(|p| p.value)
    }

    /// Error unless the rule says `-p` one of `protos` (not inverted).
    pub fn require_proto(&self, protos: &[Protocol]) -> Result<Protocol, RuleError> {
        match self.proto() {
            Some(p) if protos.contains(&p) => Ok(p),
            _ => {
                let names: Vec<String> = protos
                    .iter()
                    .map(|p| format!("`-p {}`", p.name().unwrap_or("?")))
                    .collect();
                Err(self
                    .error(format!(
                        "`{}` needs {} in the same rule",
                        self.name,
                        names.join(" or ")
                    ))
                    .with_help(format!("add {} before `-m {}`", names[0], self.name)))
            }
        }
    }

    /// Error unless the rule is in one of `tables`.
    pub fn require_table(&self, tables: &[TableKind]) -> Result<(), RuleError> {
        if tables.contains(&self.table) {
            return Ok(());
        }
        let names: Vec<&str> = tables.iter().map(|t| t.name()).collect();
        Err(self.error(format!(
            "`{}` is only valid in the {} table{}, not in `{}`",
            self.name,
            names.join(" or "),
            if names.len() > 1 { "s" } else { "" },
            self.table.name()
        )))
    }

    /// Error when the rule is in a built-in chain whose hook is not one of
    /// `hooks` (user chains pass).
    pub fn require_hook(&self, hooks: &[Hook]) -> Result<(), RuleError> {
        match self.hook {
            Some(h) if !hooks.contains(&h) => {
                let names: Vec<&str> = hooks.iter().map(|h| h.name()).collect();
                Err(self.error(format!(
                    "`{}` can only be used in {}, not in {}",
                    self.name,
                    names.join(", "),
                    h.name()
                )))
            }
            _ => Ok(()),
        }
    }
}

/// What printers know.
#[derive(Debug, Clone, Copy)]
pub struct SaveCtx {
    pub family: Family,
}

/// Builds the model value of a match from its options.
pub type MatchBuild = fn(&[OptOcc], &RuleCtx) -> Result<Match, RuleError>;
/// Builds the model value of a target from its options.
pub type TargetBuild = fn(&[OptOcc], &RuleCtx) -> Result<Target, RuleError>;

/// A match extension (`-m NAME`).
#[derive(Debug)]
pub struct MatchExt {
    pub name: &'static str,
    /// Other names accepted for it (e.g. `icmpv6` for `icmp6`).
    pub aliases: &'static [&'static str],
    /// `None`: both families.
    pub family: Option<Family>,
    pub options: &'static [OptSpec],
    pub build: MatchBuild,
}

/// A target extension (`-j NAME`).
#[derive(Debug)]
pub struct TargetExt {
    pub name: &'static str,
    /// Other names accepted for it (e.g. `icmpv6` for `icmp6`).
    pub aliases: &'static [&'static str],
    pub family: Option<Family>,
    pub options: &'static [OptSpec],
    pub build: TargetBuild,
}

// ---------------------------------------------------------------------------
// Shared helpers for extension builders.
// ---------------------------------------------------------------------------

/// Error when an option occurs more than once.
pub fn at_most_once(opts: &[OptOcc]) -> Result<(), RuleError> {
    for (i, o) in opts.iter().enumerate() {
        if opts[..i].iter().any(|p| p.name == o.name) {
            return Err(RuleError::new(
                o.span,
                format!("option `--{}` given more than once", o.name),
            ));
        }
    }
    Ok(())
}

/// The last occurrence of an option.
pub fn find<'a>(opts: &'a [OptOcc], name: &str) -> Option<&'a OptOcc> {
    opts.iter().rev().find(|o| o.name == name)
}

/// Parses an unsigned number (decimal, or `0x` hex) within `min..=max`.
pub fn parse_uint(tok: &Token, what: &str, min: u64, max: u64) -> Result<u64, RuleError> {
    let t = tok.text.trim();
    let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if t.len() > 1 && t.starts_with('0') && t.bytes().all(|b| b.is_ascii_digit()) {
        // strtoul with base 0 reads a leading 0 as octal.
        u64::from_str_radix(&t[1..], 8).ok()
    } else if t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty() {
        t.parse().ok()
    } else {
        None
    };
    match v {
        Some(v) if v >= min && v <= max => Ok(v),
        Some(_) => Err(RuleError::new(
            tok.span,
            format!("{what} `{}` is out of range {min}-{max}", tok.text),
        )),
        None => Err(RuleError::new(
            tok.span,
            format!("{what} `{}` is not a number", tok.text),
        )),
    }
}

/// A `u32` value.
pub fn parse_u32(tok: &Token, what: &str) -> Result<u32, RuleError> {
    parse_uint(tok, what, 0, u64::from(u32::MAX)).map(|v| v as u32)
}

/// `VALUE[/MASK]` as in `--mark 0x1/0xff`; the mask defaults to all ones.
pub fn parse_value_mask(tok: &Token, what: &str) -> Result<(u32, u32), RuleError> {
    match tok.text.split_once('/') {
        Some((v, m)) => {
            let vt = Token::new(v, tok.span);
            let mt = Token::new(m, tok.span);
            Ok((parse_u32(&vt, what)?, parse_u32(&mt, "mask")?))
        }
        None => Ok((parse_u32(tok, what)?, u32::MAX)),
    }
}

/// Prints `0xVALUE[/0xMASK]` as iptables-save does for marks (mask omitted
/// when all ones).
pub fn save_value_mask(out: &mut String, value: u32, mask: u32) {
    use std::fmt::Write;
    if mask == u32::MAX {
        let _ = write!(out, "0x{value:x}");
    } else {
        let _ = write!(out, "0x{value:x}/0x{mask:x}");
    }
}

/// Well-known service names iptables resolves through /etc/services.
pub const SERVICES: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("dns", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("tftp", 69),
    ("http", 80),
    ("www", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("auth", 113),
    ("ntp", 123),
    ("netbios-ns", 137),
    ("netbios-dgm", 138),
    ("netbios-ssn", 139),
    ("imap", 143),
    ("imap2", 143),
    ("snmp", 161),
    ("snmp-trap", 162),
    ("bgp", 179),
    ("ldap", 389),
    ("https", 443),
    ("microsoft-ds", 445),
    ("isakmp", 500),
    ("syslog", 514),
    ("submissions", 465),
    ("smtps", 465),
    ("submission", 587),
    ("ldaps", 636),
    ("rsync", 873),
    ("imaps", 993),
    ("pop3s", 995),
    ("openvpn", 1194),
    ("ms-sql-s", 1433),
    ("ipsec-nat-t", 4500),
    ("mysql", 3306),
    ("ms-wbt-server", 3389),
    ("sieve", 4190),
    ("postgresql", 5432),
    ("x11", 6000),
    ("http-alt", 8080),
    ("webcache", 8080),
];

/// A port number or service name.
pub fn parse_port(tok: &Token) -> Result<u16, RuleError> {
    let t = tok.text.as_str();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return match t.parse::<u32>() {
            Ok(p) if p <= 65535 => Ok(p as u16),
            _ => Err(RuleError::new(
                tok.span,
                format!("port `{t}` is out of range 0-65535"),
            )),
        };
    }
    SERVICES
        .iter()
        .find(|(n, _)| *n == t)
        .map(|&(_, p)| p)
        .ok_or_else(|| {
            RuleError::new(tok.span, format!("invalid port or service name `{t}`"))
                .with_help("use a number 0-65535 or a name from /etc/services")
        })
}

/// A port range as iptables writes it: `P`, `A:B`, `A:` (to 65535), `:B`
/// (from 0) or `:` (all). `sep` is `:` for tcp/udp and `-` in NAT targets.
pub fn parse_port_range_sep(tok: &Token, sep: char) -> Result<PortRange, RuleError> {
    let text = tok.text.as_str();
    let range = match text.split_once(sep) {
        None => PortRange::single(parse_port(tok)?),
        Some((a, b)) => {
            let first = if a.is_empty() {
                0
            } else {
                parse_port(&Token::new(a, tok.span))?
            };
            let last = if b.is_empty() {
                65535
            } else {
                parse_port(&Token::new(b, tok.span))?
            };
            PortRange::new(first, last).ok_or_else(|| {
                RuleError::new(
                    tok.span,
                    format!("invalid port range `{text}`: start is greater than end"),
                )
            })?
        }
    };
    Ok(range)
}

/// `parse_port_range_sep` with `:`.
pub fn parse_port_range(tok: &Token) -> Result<PortRange, RuleError> {
    parse_port_range_sep(tok, ':')
}

/// Appends ` STRING`, quoted the way iptables-save quotes strings
/// (`xtables_save_string`): bare when it is non-empty and made only of
/// letters, digits, `_` and `-`; otherwise in double quotes with `"`, `\`
/// and `'` escaped by a backslash.
pub fn save_string(out: &mut String, s: &str) {
    out.push(' ');
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Appends ` [!] --name` (iptables-save puts `!` before the option).
pub fn save_opt(out: &mut String, invert: bool, name: &str) {
    if invert {
        out.push_str(" !");
    }
    out.push_str(" --");
    out.push_str(name);
}

/// Appends ` [!] --name value`.
pub fn save_opt_val(out: &mut String, invert: bool, name: &str, value: impl std::fmt::Display) {
    use std::fmt::Write;
    save_opt(out, invert, name);
    let _ = write!(out, " {value}");
}
