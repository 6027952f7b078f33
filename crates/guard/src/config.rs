//! The guard's one TOML configuration (`/etc/rampart/guard.toml`):
//! [`GuardConfig`] with its jails ([`JailConfig`], `[jail.NAME]` tables),
//! prefix escalation, connection limits and counter bounds. It holds both
//! what the detection side reads (the jail's `filter` and
//! `filter_options`, `logpath` with globs or `journal`, `journalmatch`,
//! `usedns`, `fail2ban_dir`) and what the decision engine reads (the
//! ban keys). Every struct refuses unknown keys. Jail keys use fail2ban's
//! names (`maxretry`, `findtime`, `bantime`, `ignoreip`, `port`,
//! `protocol`, `usedns`; `bantime.increment` and friends become the table
//! `bantime_increment`), so `rampart import fail2ban` writes them as they
//! are. Durations take fail2ban's forms: seconds (`600`) or a number with a
//! unit (`10m`, `1h`, `1d`, `1w`; also `s`, `mo`, `y`); `-1` as a bantime
//! means forever.
//!
//! [`GuardConfig::load`] reads a file and checks everything (the TOML,
//! the keys, and what [`crate::Engine::new`] validates: networks,
//! formulas, limits, plus `usedns`, `protocol` and filter names), each
//! problem a located [`Diagnostic`] (`path:line:col`, the line, a caret).
//!
//! ```
//! use rampart_guard::GuardConfig;
//! let text = "[jail.sshd]\nfilter = \"sshd\"\nlogpath = [\"/var/log/auth.log\"]\nmaxretry = 0\n";
//! let errors = GuardConfig::load("guard.toml", text).expect_err("maxretry 0");
//! let shown = errors[0].to_string();
//! assert!(shown.starts_with("guard.toml:4:1: error: jail sshd: maxretry: must be at least 1"), "{shown}");
//! let ok = GuardConfig::load("guard.toml", &text.replace("= 0", "= 3")).expect("valid");
//! assert_eq!(ok.jail["sshd"].filter_spec("sshd"), "sshd");
//! ```

use std::collections::BTreeMap;
use std::fmt;

use rampart_syntax::diag::{Diagnostic, SourceFile, Span};
use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch: the engine's clock, always passed in.
pub type Timestamp = u64;

/// The whole guard configuration (`/etc/rampart/guard.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// Decide and log, but mark every action as not to be enforced.
    #[serde(default)]
    pub dry_run: bool,
    /// Never banned, by any jail, limit, escalation or by hand: networks
    /// (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`) and host names (the
    /// daemon resolves them at start and refreshes them). localhost
    /// (`127.0.0.0/8`, `::1`) is always in it.
    #[serde(default)]
    pub ignoreip: Vec<String>,
    /// Also never ban the host's own addresses and the addresses of the
    /// current admin SSH sessions (both supplied by the daemon).
    #[serde(default = "yes")]
    pub ignoreself: bool,
    /// Prefix escalation: many banned members of one /24 (/64) within a
    /// window ban the prefix.
    #[serde(default)]
    pub prefix: PrefixConfig,
    /// Limits on live connections (from conntrack).
    #[serde(default)]
    pub connlimit: Option<ConnLimitConfig>,
    /// Bounds on the engine's memory.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// How long the history of past bans counts for escalation after the
    /// last ban ended (fail2ban keeps it `dbpurgeage` = 1 day).
    #[serde(default = "one_day")]
    pub history: Duration,
    /// Where `fail2ban:NAME` filters are looked up (default
    /// `/etc/fail2ban`; `rampart import fail2ban` writes the directory it
    /// read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail2ban_dir: Option<String>,
    /// How live connections are read from the kernel (used when
    /// `[connlimit]` is set).
    #[serde(default)]
    pub conntrack: ConntrackConfig,
    /// Alert channels and batching (`[alert]`; see docs/guard.md).
    #[serde(default)]
    pub alert: crate::alert::AlertConfig,
    /// The jails, by name.
    #[serde(default)]
    pub jail: BTreeMap<String, JailConfig>,
}

/// The `[conntrack]` table of `guard.toml` (how the source reads the
/// kernel; the limits themselves are `[connlimit]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConntrackConfig {
    /// Seconds between full dumps (events keep the counts live between
    /// them). Default 30.
    #[serde(default = "default_ct_interval")]
    pub dump_interval: u64,
    /// Receive buffer of the event socket in bytes (forced past
    /// `net.core.rmem_max` as root): how large a burst of events can be
    /// before the kernel drops some and a re-dump is needed. Default 32 MiB.
    #[serde(default = "default_ct_buffer")]
    pub event_buffer: usize,
    /// Follow events between dumps (default true); false: dumps only.
    #[serde(default = "yes")]
    pub events: bool,
}

fn default_ct_interval() -> u64 {
    30
}
fn default_ct_buffer() -> usize {
    32 << 20
}

impl Default for ConntrackConfig {
    fn default() -> Self {
        ConntrackConfig {
            dump_interval: default_ct_interval(),
            event_buffer: default_ct_buffer(),
            events: true,
        }
    }
}

/// One jail: which failures count and what a ban costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JailConfig {
    /// fail2ban's jails are off unless enabled; an imported jail keeps
    /// that flag.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The filter: `NAME` (a built-in detector, see `rampart guard list`,
    /// else a fail2ban filter of `fail2ban_dir`), `builtin:NAME`,
    /// `fail2ban:NAME` (`fail2ban_dir/filter.d/NAME.conf`) or a path to a
    /// fail2ban-syntax filter file; fail2ban's `name[k=v]` form is
    /// accepted too. Absent: the jail's name, as in fail2ban.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Filter arguments, as fail2ban's `filter = sshd[mode=aggressive]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter_options: BTreeMap<String, String>,
    /// Log files the filter reads (glob patterns allowed); `journal`
    /// reads the systemd journal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logpath: Vec<String>,
    /// systemd journal matches (`_SYSTEMD_UNIT=sshd.service`), for
    /// journal jails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub journalmatch: Vec<String>,
    /// `yes`, `warn`, `no` or `raw`: whether `<HOST>` may be a host name
    /// (fail2ban: warn).
    #[serde(default = "warn", skip_serializing_if = "is_warn")]
    pub usedns: String,
    /// Failures within `findtime` that trigger a ban (fail2ban: 5).
    #[serde(default = "five")]
    pub maxretry: u32,
    /// The window failures are counted in (fail2ban: 10m). As in fail2ban
    /// the window starts at the first failure and restarts when a failure
    /// comes after it has passed.
    #[serde(default = "ten_minutes")]
    pub findtime: Duration,
    /// The first ban's length (fail2ban: 10m; `-1`: forever).
    #[serde(default = "ten_minutes")]
    pub bantime: Duration,
    /// Longer bans for repeat offenders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bantime_increment: Option<BantimeIncrement>,
    /// Networks and host names this jail never bans (the global
    /// `ignoreip` applies as well).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignoreip: Vec<String>,
    /// Ports the ban applies to (`ssh`, `http,https`, `22`, `8000:8100`),
    /// a list or fail2ban's comma-separated text; names come from
    /// rampart's table, then `/etc/services`. Empty, `0:65535` or
    /// `allports`: the ban drops every packet of the address; otherwise
    /// only `protocol` packets to these ports (see [`BanScope`]).
    #[serde(
        default,
        deserialize_with = "string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub port: Vec<String>,
    /// `tcp`, `udp`, `sctp` or `all` (fail2ban: tcp).
    #[serde(default = "tcp", skip_serializing_if = "is_tcp")]
    pub protocol: String,
}

/// fail2ban's `bantime.increment` options: with `enabled`, each new ban of
/// an address that was banned before lasts `formula(bantime, count)` where
/// `count` is the number of earlier bans (in this jail, or in all jails
/// with `overalljails`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BantimeIncrement {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// fail2ban's `banFactor` (1).
    #[serde(default = "one")]
    pub factor: f64,
    /// fail2ban's formula. Only the two formulas fail2ban ships are
    /// understood (see docs/guard.md); others are refused, as rampart does
    /// not evaluate Python.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formula: Option<String>,
    /// Multipliers by ban count, replacing the formula (`1 5 30 60`); a
    /// count past the end uses the last one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub multipliers: Vec<u64>,
    /// No ban grows past this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxtime: Option<Duration>,
    /// A random 0..rndtime seconds added to each increased ban.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rndtime: Option<Duration>,
    /// Count earlier bans of the address in every jail.
    #[serde(default)]
    pub overalljails: bool,
}

/// Prefix escalation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Distinct banned addresses of one prefix within `window` that ban
    /// the prefix.
    #[serde(default = "five")]
    pub members: u32,
    #[serde(default = "one_hour")]
    pub window: Duration,
    /// IPv4 prefix length (24).
    #[serde(default = "v4_len")]
    pub ipv4: u8,
    /// IPv6 prefix length (64).
    #[serde(default = "v6_len")]
    pub ipv6: u8,
    /// The prefix ban's length before escalation.
    #[serde(default = "one_hour")]
    pub bantime: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bantime_increment: Option<BantimeIncrement>,
}

/// Limits on live connections per source, per prefix, per source and
/// destination port, per destination port (an alert only: a port cannot
/// be banned) and half-open (SYN_RECV) per source: DDoS Deflate's and CSF
/// CT_LIMIT's job. A limit that is absent is not checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnLimitConfig {
    /// Connections of one source address (CSF CT_LIMIT, DDoS Deflate
    /// NO_OF_CONNECTIONS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_source: Option<u32>,
    /// Connections of one /24 (IPv6: /64; the lengths of `[prefix]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_prefix: Option<u32>,
    /// Connections of one source to one destination port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_source_port: Option<u32>,
    /// Connections to one destination port, all sources together: an
    /// alert, not a ban.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_port: Option<u32>,
    /// Half-open connections (SYN_RECV) of one source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syn_recv: Option<u32>,
    /// Count only connections to these destination ports (CSF CT_PORTS);
    /// empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    #[serde(default = "one_hour")]
    pub bantime: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bantime_increment: Option<BantimeIncrement>,
}

/// Memory bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Addresses with failures being counted, all jails together; past it
    /// the oldest are forgotten (and counted as evictions).
    #[serde(default = "tracked")]
    pub max_tracked: usize,
    /// Addresses (and prefixes) whose ban history is remembered for
    /// escalation; past it the oldest are forgotten.
    #[serde(default = "tracked")]
    pub max_history: usize,
}

fn yes() -> bool {
    true
}
fn warn() -> String {
    "warn".into()
}
fn is_warn(s: &str) -> bool {
    s == "warn"
}
fn tcp() -> String {
    "tcp".into()
}
fn is_tcp(s: &str) -> bool {
    s == "tcp"
}

/// fail2ban writes lists as `a, b c`; TOML users write `["a", "b"]`.
fn string_or_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum L {
        One(String),
        Many(Vec<String>),
        Num(u16),
    }
    Ok(match L::deserialize(d)? {
        L::One(s) => s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect(),
        L::Many(v) => v,
        L::Num(n) => vec![n.to_string()],
    })
}
fn one() -> f64 {
    1.0
}
fn five() -> u32 {
    5
}
fn v4_len() -> u8 {
    24
}
fn v6_len() -> u8 {
    64
}
fn tracked() -> usize {
    250_000
}
fn ten_minutes() -> Duration {
    Duration(600)
}
fn one_hour() -> Duration {
    Duration(3600)
}
fn one_day() -> Duration {
    Duration(86_400)
}

impl Default for PrefixConfig {
    fn default() -> Self {
        PrefixConfig {
            enabled: true,
            members: five(),
            window: one_hour(),
            ipv4: v4_len(),
            ipv6: v6_len(),
            bantime: one_hour(),
            bantime_increment: None,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_tracked: tracked(),
            max_history: tracked(),
        }
    }
}

impl Default for JailConfig {
    fn default() -> Self {
        JailConfig {
            enabled: true,
            filter: None,
            filter_options: BTreeMap::new(),
            logpath: Vec::new(),
            journalmatch: Vec::new(),
            usedns: warn(),
            maxretry: five(),
            findtime: ten_minutes(),
            bantime: ten_minutes(),
            bantime_increment: None,
            ignoreip: Vec::new(),
            port: Vec::new(),
            protocol: tcp(),
        }
    }
}

impl Default for BantimeIncrement {
    fn default() -> Self {
        BantimeIncrement {
            enabled: true,
            factor: 1.0,
            formula: None,
            multipliers: Vec::new(),
            maxtime: None,
            rndtime: None,
            overalljails: false,
        }
    }
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            dry_run: false,
            ignoreip: Vec::new(),
            ignoreself: true,
            prefix: PrefixConfig::default(),
            connlimit: None,
            limits: LimitsConfig::default(),
            history: one_day(),
            fail2ban_dir: None,
            conntrack: ConntrackConfig::default(),
            alert: crate::alert::AlertConfig::default(),
            jail: BTreeMap::new(),
        }
    }
}

impl GuardConfig {
    /// Parses the TOML text of a guard configuration (keys and types
    /// only; [`GuardConfig::load`] checks everything). The error names the
    /// line and column (toml's message).
    pub fn from_toml(text: &str) -> Result<GuardConfig, crate::Error> {
        toml::from_str(text).map_err(|e| crate::Error::Config {
            place: "guard configuration".into(),
            message: e.to_string(),
        })
    }

    /// Reads and checks a configuration file's text: the TOML and its
    /// keys, then everything [`crate::Engine::new`] validates, `usedns`,
    /// `protocol`, and each jail's filter name. Every problem is a located
    /// diagnostic (`path:line:col`, the line and a caret); all of them are
    /// returned, not only the first. Filters are not read here (that needs
    /// the files: see `filter::jail::resolve`).
    pub fn load(path: &str, text: &str) -> Result<GuardConfig, Vec<Diagnostic>> {
        let file = SourceFile::new(path, text);
        let cfg: GuardConfig = toml::from_str(text).map_err(|e| {
            let span = e
                .span()
                .map_or(Span::new(0, 0), |r| Span::new(r.start, r.end));
            vec![file.error(span, e.message().trim_end().to_string())]
        })?;
        let mut errs = Vec::new();
        for (name, j) in &cfg.jail {
            let table = format!("jail.{name}");
            if crate::filter::UseDns::parse(&j.usedns).is_none() {
                errs.push(file.error(
                    locate(text, &table, "usedns"),
                    format!("jail {name}: usedns must be yes, warn, no or raw"),
                ));
            }
            if !matches!(j.protocol.as_str(), "tcp" | "udp" | "sctp" | "all") {
                errs.push(file.error(
                    locate(text, &table, "protocol"),
                    format!("jail {name}: protocol must be tcp, udp, sctp or all"),
                ));
            } else if let Err(e) = j.ban_scope() {
                errs.push(file.error(
                    locate(text, &table, "port"),
                    format!("jail {name}: port: {e}"),
                ));
            }
            if let Err(e) = rampart_syntax::fail2ban::split_with_options(&j.filter_spec(name)) {
                errs.push(file.error(
                    locate(text, &table, "filter"),
                    format!("jail {name}: filter: {e}"),
                ));
            }
            if j.enabled && j.logpath.is_empty() {
                errs.push(file.error(
                    locate(text, &table, ""),
                    format!("jail {name}: no logpath (log files, or \"journal\")"),
                ));
            }
        }
        // The engine's own checks stop at the first problem: run them on
        // the global part, then on each jail alone, to find them all.
        let mut probes = vec![GuardConfig {
            jail: BTreeMap::new(),
            ..cfg.clone()
        }];
        for (name, j) in &cfg.jail {
            probes.push(GuardConfig {
                jail: BTreeMap::from([(name.clone(), j.clone())]),
                ..GuardConfig::default()
            });
        }
        for probe in &probes {
            match crate::Engine::new(probe) {
                Ok(_) => {}
                Err(crate::Error::Config { place, message }) => {
                    let (table, key) = place_of(&place);
                    errs.push(
                        file.error(locate(text, &table, &key), format!("{place}: {message}")),
                    );
                }
                Err(e) => errs.push(file.error(Span::new(0, 0), e.to_string())),
            }
        }
        match cfg.alert.check() {
            Ok(()) => {}
            Err(crate::Error::Config { place, message }) => {
                errs.push(file.error(locate(text, "alert", ""), format!("{place}: {message}")));
            }
            Err(e) => errs.push(file.error(Span::new(0, 0), e.to_string())),
        }
        if cfg.conntrack.dump_interval == 0 {
            errs.push(file.error(
                locate(text, "conntrack", "dump_interval"),
                "conntrack.dump_interval: must be at least 1 second".to_string(),
            ));
        }
        errs.sort_by_key(|d| (d.line, d.column));
        if errs.is_empty() {
            Ok(cfg)
        } else {
            Err(errs)
        }
    }
}

/// The packets a jail's bans drop.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BanScope {
    /// Every packet of the address: the jail has no `port`, or its ports
    /// cover `0:65535` (`allports`), with any protocol. fail2ban's
    /// allports actions drop only `protocol`'s packets; rampart drops all.
    All,
    /// Only packets to these destination ports: `(protocol number, first
    /// port, last port)`, sorted, overlapping and touching ranges of one
    /// protocol merged.
    Ports(Vec<(u8, u16, u16)>),
}

impl BanScope {
    /// `tcp/22`, `tcp/80,443 udp/1000-2000`, or `all`.
    pub fn describe(&self) -> String {
        match self {
            BanScope::All => "all".to_string(),
            BanScope::Ports(v) => {
                let mut out: Vec<String> = Vec::new();
                let mut last: Option<u8> = None;
                for &(p, lo, hi) in v {
                    let r = if lo == hi {
                        lo.to_string()
                    } else {
                        format!("{lo}-{hi}")
                    };
                    match (last, out.last_mut()) {
                        (Some(l), Some(o)) if l == p => {
                            o.push(',');
                            o.push_str(&r);
                        }
                        _ => out.push(format!("{}/{r}", proto_name(p))),
                    }
                    last = Some(p);
                }
                out.join(" ")
            }
        }
    }
}

/// `tcp`, `udp`, `sctp` or the number.
pub fn proto_name(p: u8) -> String {
    match p {
        6 => "tcp".into(),
        17 => "udp".into(),
        132 => "sctp".into(),
        n => n.to_string(),
    }
}

/// The port of a service name: rampart's built-in table (the names
/// iptables resolves, so a configuration means the same on every host),
/// then the host's `/etc/services` (any protocol).
pub fn service_port(name: &str) -> Option<u16> {
    let name = name.trim().to_ascii_lowercase();
    if let Some((_, p)) = rampart_syntax::iptables::ext::SERVICES
        .iter()
        .find(|(n, _)| *n == name)
    {
        return Some(*p);
    }
    static ETC: std::sync::OnceLock<Vec<(String, u16)>> = std::sync::OnceLock::new();
    ETC.get_or_init(|| {
        std::fs::read_to_string("/etc/services")
            .map(|t| parse_services(&t))
            .unwrap_or_default()
    })
    .iter()
    .find(|(n, _)| *n == name)
    .map(|(_, p)| *p)
}

/// `/etc/services` lines: `name port/proto [aliases] [# comment]`; every
/// name and alias with its port. Bad lines are skipped.
pub fn parse_services(text: &str) -> Vec<(String, u16)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut w = line.split_whitespace();
        let (Some(name), Some(pp)) = (w.next(), w.next()) else {
            continue;
        };
        let Some(port) = pp.split('/').next().and_then(|p| p.parse::<u16>().ok()) else {
            continue;
        };
        out.push((name.to_ascii_lowercase(), port));
        out.extend(w.map(|a| (a.to_ascii_lowercase(), port)));
    }
    out
}

/// One `port` entry: a number, a service name, `LO:HI` (or `LO-HI`) with
/// either side a number or a name, or `allports`.
fn port_range(entry: &str) -> Result<(u16, u16), String> {
    let e = entry.trim();
    if e.eq_ignore_ascii_case("allports") {
        return Ok((0, u16::MAX));
    }
    let one = |t: &str| -> Result<u16, String> {
        let t = t.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return t
                .parse::<u16>()
                .map_err(|_| format!("port `{t}` is over 65535"));
        }
        service_port(t).ok_or_else(|| {
            format!(
                "`{t}` is not a port number or a service name (rampart's table or /etc/services)"
            )
        })
    };
    // A service name may hold a dash (`ftp-data`): try the whole entry
    // first.
    if let Ok(p) = one(e) {
        return Ok((p, p));
    }
    let range = |a: &str, b: &str| -> Result<(u16, u16), String> {
        let (lo, hi) = (one(a)?, one(b)?);
        if lo > hi {
            return Err(format!("port range `{e}` ends before it starts"));
        }
        Ok((lo, hi))
    };
    if let Some((a, b)) = e.split_once(':') {
        return range(a, b);
    }
    // `LO-HI`: names may hold dashes too (`ftp-data-ftp`); the first
    // split whose both sides resolve wins.
    let mut first_err = None;
    for (i, _) in e.match_indices('-') {
        match range(&e[..i], &e[i + 1..]) {
            Ok(r) => return Ok(r),
            Err(err) => {
                first_err.get_or_insert(err);
            }
        }
    }
    match first_err {
        Some(err) if e.matches('-').count() == 1 => Err(err),
        _ => one(e).map(|p| (p, p)),
    }
}

impl JailConfig {
    /// The packets this jail's bans drop, from `port` and `protocol`
    /// (see [`BanScope`]); an error names the bad entry.
    pub fn ban_scope(&self) -> Result<BanScope, String> {
        let protos: &[u8] = match self.protocol.as_str() {
            "tcp" => &[6],
            "udp" => &[17],
            "sctp" => &[132],
            "all" => &[6, 17, 132],
            p => return Err(format!("protocol `{p}`: must be tcp, udp, sctp or all")),
        };
        let mut ranges = Vec::new();
        let mut errs = Vec::new();
        for entry in &self.port {
            for part in entry.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match port_range(part) {
                    Ok(r) => ranges.push(r),
                    Err(e) => errs.push(e),
                }
            }
        }
        if !errs.is_empty() {
            return Err(errs.join("; "));
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::new();
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(m) if u32::from(lo) <= u32::from(m.1) + 1 => m.1 = m.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        if merged.is_empty() || merged == [(0, u16::MAX)] {
            return Ok(BanScope::All);
        }
        Ok(BanScope::Ports(
            protos
                .iter()
                .flat_map(|&p| merged.iter().map(move |&(lo, hi)| (p, lo, hi)))
                .collect(),
        ))
    }

    /// The filter to use with its options, as fail2ban writes it
    /// (`sshd[mode=aggressive]`): `filter` (else the jail's name) and
    /// `filter_options`.
    pub fn filter_spec(&self, jail: &str) -> String {
        let base = self.filter.as_deref().unwrap_or(jail).trim();
        if self.filter_options.is_empty() {
            return base.to_string();
        }
        let opts: Vec<String> = self
            .filter_options
            .iter()
            .map(|(k, v)| {
                if v.contains(',') || v.contains(']') {
                    format!("{k}=\"{v}\"")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        match base.strip_suffix(']') {
            Some(b) => format!("{b}, {}]", opts.join(", ")),
            None => format!("{base}[{}]", opts.join(", ")),
        }
    }
}

/// An engine error's place (`jail sshd: bantime_increment.factor`,
/// `prefix: window`, `ignoreip`) as a TOML table and key.
fn place_of(place: &str) -> (String, String) {
    let (head, key) = place.split_once(": ").unwrap_or(("", place));
    let key = key.split(':').next().unwrap_or("").trim().to_string();
    if let Some(j) = head.strip_prefix("jail ") {
        return (format!("jail.{j}"), key);
    }
    if head.is_empty() {
        // A top-level key (ignoreip, history) or a table (prefix: ...).
        return (String::new(), key);
    }
    (head.to_string(), key)
}

/// The span of `key` (its first dotted part) in table `table` of the
/// TOML text (`""`: the top level): the key's line, or the header of a
/// sub-table named after it (`[jail.sshd.bantime_increment]`), else the
/// table's header (the key was left to its default), else the start of
/// the file.
fn locate(text: &str, table: &str, key: &str) -> Span {
    let first = key.split('.').next().unwrap_or("");
    let norm = |h: &str| -> String {
        h.split('.')
            .map(|p| p.trim().trim_matches('"'))
            .collect::<Vec<_>>()
            .join(".")
    };
    let sub = if table.is_empty() {
        first.to_string()
    } else {
        format!("{table}.{first}")
    };
    let mut current = String::new();
    let mut header: Option<Span> = None;
    let mut off = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        let whole = Span::new(off + indent, off + line.trim_end().len());
        if let Some(h) = t.strip_prefix('[') {
            current = norm(h.trim_start_matches('[').split(']').next().unwrap_or(""));
            if current == table {
                header = Some(whole);
            }
            if !first.is_empty() && current == sub {
                return whole;
            }
        } else if current == table && !first.is_empty() {
            let k = t
                .split(|c: char| c == '=' || c == '.' || c.is_whitespace())
                .next()
                .unwrap_or("")
                .trim_matches('"');
            if k == first {
                return Span::new(off + indent, off + indent + k.len());
            }
        }
        off += line.len();
    }
    header.unwrap_or(Span::new(0, 0))
}

/// A length of time in whole seconds; negative means forever (fail2ban's
/// `bantime = -1`). Written as an integer of seconds or a string with
/// fail2ban's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub i64);

impl Duration {
    /// `None` for forever.
    pub fn seconds(self) -> Option<u64> {
        u64::try_from(self.0).ok()
    }

    /// Parses fail2ban's forms: `600`, `10m`, `1h30m`, `2d`, `1w`, `-1`.
    pub fn parse(s: &str) -> Result<Duration, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("empty duration".into());
        }
        if let Ok(n) = t.parse::<i64>() {
            return Ok(Duration(n));
        }
        let (neg, body) = match t.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, t),
        };
        let mut total: i64 = 0;
        let mut rest = body.trim_start();
        if rest.is_empty() {
            return Err(format!("{s:?}: no number"));
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(format!("{s:?}: expected a number at {rest:?}"));
            }
            let n: i64 = rest[..digits]
                .parse()
                .map_err(|_| format!("{s:?}: number too large"))?;
            rest = rest[digits..].trim_start();
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..unit_len];
            let mult: i64 = match unit.to_ascii_lowercase().as_str() {
                "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
                "m" | "min" | "mins" | "minute" | "minutes" => 60,
                "h" | "hour" | "hours" => 3600,
                "d" | "day" | "days" => 86_400,
                "w" | "week" | "weeks" => 604_800,
                "mo" | "mon" | "month" | "months" => 2_592_000,
                "y" | "year" | "years" => 31_536_000,
                other => {
                    return Err(format!(
                        "{s:?}: unknown unit {other:?} (s, m, h, d, w, mo, y)"
                    ))
                }
            };
            total = n
                .checked_mul(mult)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("{s:?}: too long"))?;
            rest = rest[unit_len..].trim_start();
        }
        Ok(Duration(if neg { -total } else { total }))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Duration {
    /// Whole weeks, days, hours or minutes as fail2ban writes them
    /// (`"1h"`), other values as seconds.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v > 0 {
            for (unit, n) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
                if v % n == 0 {
                    return s.serialize_str(&format!("{}{unit}", v / n));
                }
            }
        }
        s.serialize_i64(v)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("seconds, or a duration such as \"10m\", \"1h\", \"2d\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
                Ok(Duration(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
                i64::try_from(v)
                    .map(Duration)
                    .map_err(|_| E::custom("duration too long"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_fail2ban_forms() {
        for (s, v) in [
            ("600", 600),
            ("10m", 600),
            ("1h", 3600),
            ("1h30m", 5400),
            ("2d", 172_800),
            ("1w", 604_800),
            ("-1", -1),
            ("5 min", 300),
        ] {
            assert_eq!(Duration::parse(s), Ok(Duration(v)), "{s}");
        }
        for bad in ["", "m", "10x", "1h-", "99999999999999999999d"] {
            assert!(Duration::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_full_config_parses_and_unknown_keys_are_refused() {
        let text = r#"
dry_run = true
ignoreip = ["10.0.0.0/8", "office.example.com"]
history = "2d"

[prefix]
members = 3
window = "30m"

[connlimit]
per_source = 150
syn_recv = 30
ports = [80, 443]
bantime = "1h"

[limits]
max_tracked = 1000

[jail.sshd]
filter = "sshd"
logpath = ["/var/log/auth.log"]
maxretry = 3
findtime = "10m"
bantime = "1h"
port = "ssh"
protocol = "tcp"
ignoreip = ["192.0.2.0/24"]
bantime_increment = { factor = 2, multipliers = [1, 5, 30], maxtime = "1w", rndtime = "5m", overalljails = true }
"#;
        let c = GuardConfig::from_toml(text).expect("parses");
        assert!(c.dry_run);
        assert_eq!(c.history, Duration(172_800));
        let j = &c.jail["sshd"];
        assert_eq!(j.maxretry, 3);
        assert_eq!(j.bantime, Duration(3600));
        let inc = j.bantime_increment.as_ref().expect("increment");
        assert_eq!(inc.factor, 2.0);
        assert_eq!(inc.multipliers, [1, 5, 30]);
        assert_eq!(inc.maxtime, Some(Duration(604_800)));
        assert_eq!(c.connlimit.as_ref().and_then(|l| l.per_source), Some(150));

        // An unknown key in every table is refused, naming it.
        let tables = [
            "",
            "[prefix]\n",
            "[connlimit]\n",
            "[limits]\n",
            "[jail.x]\n",
            "[jail.x.bantime_increment]\n",
        ];
        for t in tables {
            let bad = format!("{t}bogus_key = 1\n");
            let e = GuardConfig::from_toml(&bad).expect_err(&bad).to_string();
            assert!(e.contains("bogus_key"), "{bad}: {e}");
        }
    }

    #[test]
    fn one_schema_holds_detection_and_decision_keys() {
        let text = r#"fail2ban_dir = "/etc/fail2ban"
ignoreip = ["192.0.2.0/24"]

[jail.sshd]
filter = "fail2ban:sshd"
filter_options = { mode = "aggressive" }
logpath = ["/var/log/auth.log", "/var/log/auth*.log"]
usedns = "no"
port = "ssh, 2222"
maxretry = 3
bantime = "1h"

[jail.sshd.bantime_increment]
multipliers = [1, 2, 4]
maxtime = "1w"

[jail.journal-sshd]
filter = "sshd"
logpath = ["journal"]
journalmatch = ["_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd"]
protocol = "all"
"#;
        let c = GuardConfig::load("g.toml", text).expect("valid");
        let j = &c.jail["sshd"];
        assert_eq!(j.filter_spec("sshd"), "fail2ban:sshd[mode=aggressive]");
        assert_eq!(j.port, ["ssh", "2222"]);
        assert_eq!(j.usedns, "no");
        assert_eq!(c.jail["journal-sshd"].journalmatch.len(), 3);
        assert_eq!(c.jail["journal-sshd"].filter_spec("x"), "sshd");
        assert_eq!(JailConfig::default().filter_spec("postfix"), "postfix");
        // It prints back to the same configuration.
        let back = GuardConfig::load("g2.toml", &toml::to_string(&c).expect("prints"))
            .expect("reads back");
        assert_eq!(back, c);
    }

    #[test]
    fn every_problem_is_located_with_its_line_and_a_caret() {
        let text = "ignoreip = [\"10.0.0.0/33\"]\n[jail.a]\nlogpath = [\"/x\"]\nmaxretry = 0\n[jail.b]\nlogpath = [\"/y\"]\nusedns = \"maybe\"\nprotocol = \"icmp\"\n[jail.b.bantime_increment]\nformula = \"ban.Time * 3\"\n[jail.c]\nfilter = \"sshd\"\n";
        let errs = GuardConfig::load("g.toml", text).expect_err("bad");
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        let all = shown.join("");
        for want in [
            "g.toml:1:1: error: ignoreip",
            "g.toml:4:1: error: jail a: maxretry: must be at least 1",
            "g.toml:7:1: error: jail b: usedns must be yes, warn, no or raw",
            "g.toml:8:1: error: jail b: protocol must be tcp, udp, sctp or all",
            "g.toml:9:1: error: jail b: bantime_increment.formula",
            "g.toml:11:1: error: jail c: no logpath",
        ] {
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
        assert!(all.contains("maxretry = 0\n"), "{all}");
        assert!(all.contains("^"), "{all}");
        // TOML errors: unknown keys and bad values, with toml's span.
        let e = GuardConfig::load("g.toml", "[jail.a]\nlogpath = [\"/x\"]\nmaxretyr = 3\n")
            .expect_err("unknown");
        let s = e[0].to_string();
        assert!(
            s.starts_with("g.toml:3:1: error: unknown field `maxretyr`"),
            "{s}"
        );
        let e = GuardConfig::load("g.toml", "[jail.a]\nbantime = \"3 fortnights\"\n")
            .expect_err("unit");
        assert!(e[0].to_string().contains("unknown unit"), "{}", e[0]);
    }

    #[test]
    fn ports_and_protocol_become_the_ban_scope() {
        let scope = |port: &[&str], proto: &str| {
            JailConfig {
                port: port.iter().map(|p| p.to_string()).collect(),
                protocol: proto.into(),
                ..JailConfig::default()
            }
            .ban_scope()
        };
        assert_eq!(scope(&[], "tcp"), Ok(BanScope::All));
        assert_eq!(scope(&["0:65535"], "tcp"), Ok(BanScope::All));
        assert_eq!(scope(&["allports"], "udp"), Ok(BanScope::All));
        assert_eq!(
            scope(&["ssh"], "tcp"),
            Ok(BanScope::Ports(vec![(6, 22, 22)]))
        );
        // fail2ban's comma-separated text, names, ranges, merging.
        let s = scope(&["http,https", "443", "8000:8100", "ftp-data-ftp"], "all").expect("ok");
        assert_eq!(
            s,
            BanScope::Ports(
                [6u8, 17, 132]
                    .iter()
                    .flat_map(|&p| [(p, 20, 21), (p, 80, 80), (p, 443, 443), (p, 8000, 8100)])
                    .collect()
            )
        );
        assert_eq!(
            BanScope::Ports(vec![(6, 80, 80), (6, 443, 443), (17, 1000, 2000)]).describe(),
            "tcp/80,443 udp/1000-2000"
        );
        let e = scope(&["ssh, nosuchservice", "70000", "90:80"], "tcp").expect_err("bad");
        assert!(e.contains("`nosuchservice` is not a port"), "{e}");
        assert!(e.contains("`70000` is over 65535"), "{e}");
        assert!(e.contains("`90:80` ends before it starts"), "{e}");
        let services = parse_services("# c\nssh 22/tcp\nwww 80/tcp http # web\nbad x/tcp\n");
        assert_eq!(
            services,
            [
                ("ssh".to_string(), 22),
                ("www".to_string(), 80),
                ("http".to_string(), 80)
            ]
        );
        // `guard check` names the line of `port`.
        let errs = GuardConfig::load(
            "g.toml",
            "[jail.w]\nlogpath = [\"/x\"]\nport = \"http, htps\"\n",
        )
        .expect_err("bad port");
        let shown = errs[0].to_string();
        assert!(
            shown.starts_with("g.toml:3:1: error: jail w: port: `htps` is not a port"),
            "{shown}"
        );
    }

    proptest::proptest! {
        #[test]
        fn random_ports_and_services_never_panic(
            port in proptest::collection::vec(".{0,24}", 0..4),
            proto in "(tcp|udp|sctp|all|x)",
            services in ".{0,200}",
        ) {
            let _ = parse_services(&services);
            let j = JailConfig { port, protocol: proto, ..JailConfig::default() };
            if let Ok(BanScope::Ports(v)) = j.ban_scope() {
                proptest::prop_assert!(v.windows(2).all(|w| w[0] < w[1]));
                proptest::prop_assert!(v.iter().all(|r| r.1 <= r.2));
            }
        }
    }

    #[test]
    fn durations_print_as_fail2ban_writes_them() {
        let s = toml::to_string(&JailConfig {
            bantime: Duration(3600),
            findtime: Duration(90),
            ..JailConfig::default()
        })
        .expect("prints");
        assert!(s.contains("bantime = \"1h\""), "{s}");
        assert!(s.contains("findtime = 90"), "{s}");
    }

    #[test]
    fn defaults_are_fail2ban_defaults() {
        let j = JailConfig::default();
        assert_eq!(
            (j.maxretry, j.findtime, j.bantime),
            (5, Duration(600), Duration(600))
        );
        let round: GuardConfig =
            toml::from_str(&toml::to_string(&GuardConfig::default()).expect("prints"))
                .expect("parses");
        assert_eq!(round, GuardConfig::default());
    }
}
