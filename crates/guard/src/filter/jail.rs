//! rampart guard's jail configuration (`/etc/rampart/guard.toml`): which
//! logs are read with which filter, and the ban settings the ban engine
//! applies to what the filters find. Documented in `docs/guard.md`; every
//! table refuses unknown keys.
//!
//! ```
//! use rampart_guard::filter::jail::GuardConfig;
//! let cfg = GuardConfig::from_toml("guard.toml", r#"
//! [[jail]]
//! name = "sshd"
//! filter = "sshd"
//! logpath = ["/var/log/auth.log"]
//! maxretry = 5
//! findtime = "10m"
//! bantime = "1h"
//! "#).unwrap();
//! assert_eq!(cfg.jail[0].findtime_secs().unwrap(), 600);
//! ```

use rampart_syntax::diag::{Diagnostic, SourceFile, Span};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// Where `fail2ban:NAME` filters are looked up (default `/etc/fail2ban`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail2ban_dir: Option<String>,
    #[serde(default)]
    pub jail: Vec<JailConfig>,
}

/// One jail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JailConfig {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `NAME` (a built-in detector), `fail2ban:NAME` (a filter of
    /// `fail2ban_dir/filter.d`) or a path to a fail2ban-syntax filter file.
    pub filter: String,
    /// Filter arguments, as fail2ban's `filter = sshd[mode=aggressive]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filter_options: BTreeMap<String, String>,
    /// Log files (glob patterns allowed); `journal` reads the systemd journal.
    #[serde(default)]
    pub logpath: Vec<String>,
    /// Failures within `findtime` that trigger a ban.
    #[serde(default = "default_maxretry")]
    pub maxretry: u32,
    /// fail2ban time syntax: `600`, `10m`, `1h30m`, `2d`, `1w`.
    #[serde(default = "default_findtime")]
    pub findtime: String,
    /// As `findtime`; a negative value bans forever.
    #[serde(default = "default_bantime")]
    pub bantime: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub increment: Option<Increment>,
    /// Addresses and networks never banned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignoreip: Vec<String>,
    /// Ports the ban applies to (numbers, service names, `a:b` ranges);
    /// empty: every port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port: Vec<String>,
    /// `tcp`, `udp`, `sctp` or `all`.
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// `yes`, `warn`, `no` or `raw`: whether `<HOST>` may be a host name.
    #[serde(default = "default_usedns")]
    pub usedns: String,
}

/// fail2ban's `bantime.increment` settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Increment {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    /// fail2ban's Python expression over `ban.Time`, `ban.Count`,
    /// `banFactor` (kept as text; the ban engine evaluates the known forms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formula: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub multipliers: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maxtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rndtime: Option<String>,
    #[serde(default)]
    pub overalljails: bool,
}

fn yes() -> bool {
    true
}
fn default_maxretry() -> u32 {
    5
}
fn default_findtime() -> String {
    "10m".into()
}
fn default_bantime() -> String {
    "10m".into()
}
fn default_protocol() -> String {
    "tcp".into()
}
fn default_usedns() -> String {
    "warn".into()
}

impl GuardConfig {
    /// Parses and checks the file; errors are located diagnostics.
    pub fn from_toml(path: &str, text: &str) -> Result<GuardConfig, Vec<Diagnostic>> {
        let file = SourceFile::new(path, text);
        let cfg: GuardConfig = toml::from_str(text).map_err(|e| {
            let span = e
                .span()
                .map_or(Span::new(0, 0), |r| Span::new(r.start, r.end));
            vec![file.error(span, e.message().to_string())]
        })?;
        let mut errs = Vec::new();
        for j in &cfg.jail {
            let at = text.find(&format!("\"{}\"", j.name)).unwrap_or(0);
            let span = Span::new(at, at + j.name.len() + 2);
            for (what, v) in [("findtime", &j.findtime), ("bantime", &j.bantime)] {
                if let Err(e) = parse_duration(v) {
                    errs.push(file.error(span, format!("jail `{}`: {what}: {e}", j.name)));
                }
            }
            if !matches!(j.protocol.as_str(), "tcp" | "udp" | "sctp" | "all") {
                errs.push(file.error(
                    span,
                    format!("jail `{}`: protocol must be tcp, udp, sctp or all", j.name),
                ));
            }
            if crate::filter::UseDns::parse(&j.usedns).is_none() {
                errs.push(file.error(
                    span,
                    format!("jail `{}`: usedns must be yes, warn, no or raw", j.name),
                ));
            }
        }
        if errs.is_empty() {
            Ok(cfg)
        } else {
            Err(errs)
        }
    }
}

impl JailConfig {
    pub fn findtime_secs(&self) -> Result<i64, String> {
        parse_duration(&self.findtime)
    }
    pub fn bantime_secs(&self) -> Result<i64, String> {
        parse_duration(&self.bantime)
    }
}

/// fail2ban's time syntax (`MyTime.str2seconds`): a number of seconds, or
/// a sum of NUMBER UNIT parts (`s`, `m`, `h`, `d`, `w`, `mo`, `y` and their
/// long forms), e.g. `1h 30m`. Negative means forever (`-1`).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let t = s.trim();
    if let Ok(v) = t.parse::<f64>() {
        return Ok(v as i64);
    }
    let mut total = 0f64;
    let mut rest = t;
    let mut any = false;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n]
            .parse()
            .map_err(|_| format!("`{s}` is not a duration (like 600, 10m, 1h30m, 2d)"))?;
        rest = rest[n..].trim_start();
        let u = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let mult = match rest[..u].to_lowercase().as_str() {
            "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "mi" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            "w" | "wk" | "week" | "weeks" => 604_800.0,
            "mo" | "mon" | "month" | "months" => 2_629_800.0,
            "y" | "yr" | "year" | "years" => 31_557_600.0,
            other => return Err(format!("`{s}`: unknown time unit `{other}`")),
        };
        total += num * mult;
        rest = &rest[u..];
        any = true;
    }
    if !any {
        return Err(format!("`{s}` is not a duration"));
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("600").unwrap(), 600);
        assert_eq!(parse_duration("10m").unwrap(), 600);
        assert_eq!(parse_duration("1h 30m").unwrap(), 5400);
        assert_eq!(parse_duration("1w").unwrap(), 604_800);
        assert_eq!(parse_duration("-1").unwrap(), -1);
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn unknown_keys_are_refused_with_their_place() {
        let e = GuardConfig::from_toml(
            "g.toml",
            "[[jail]]\nname = \"a\"\nfilter = \"sshd\"\nmaxretyr = 3\n",
        )
        .unwrap_err();
        let s = e[0].to_string();
        assert!(
            s.starts_with("g.toml:4:1: error: unknown field `maxretyr`"),
            "{s}"
        );
        let e = GuardConfig::from_toml(
            "g.toml",
            "[[jail]]\nname = \"a\"\nfilter = \"sshd\"\n[jail.increment]\nfactr = 2\n",
        )
        .unwrap_err();
        assert!(e[0].to_string().contains("unknown field `factr`"));
        let e = GuardConfig::from_toml(
            "g.toml",
            "[[jail]]\nname = \"a\"\nfilter = \"sshd\"\nbantime = \"3 fortnights\"\n",
        )
        .unwrap_err();
        assert!(e[0].to_string().contains("unknown time unit"), "{}", e[0]);
    }
}
