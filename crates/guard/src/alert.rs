//! Alerts: the `[alert]` table of guard.toml and the batcher, without I/O.
//!
//! The engine's decisions become [`AlertEvent`]s; a [`Batcher`] (time
//! passed in) gathers them into [`Batch`]es: a batch opens with its first
//! event and closes `window` seconds later, so a flood of a thousand bans
//! makes one message. A batch lists at most `max_events` events; the
//! rest of the window's events are still counted (per kind, per jail, per
//! /24 or /64 prefix, per address) and reported as `omitted`, so every
//! event is in exactly one batch and a message's size is bounded. The
//! daemon (`rampart_daemon::alert`) sends batches to webhooks, by e-mail
//! and as log lines.
//!
//! ```
//! use rampart_guard::alert::{AlertConfig, AlertEvent, Batcher, EventKind};
//!
//! let config = AlertConfig::from_toml(r#"
//!     window = "10s"
//!     [[webhook]]
//!     url = "https://hooks.example.net/rampart"
//!     secret_file = "/etc/rampart/webhook.secret"
//! "#).expect("valid");
//! let mut batcher = Batcher::new(&config);
//! let t = 1_700_000_000;
//! for i in 0..1000u32 {
//!     let net = format!("198.51.{}.{}", i / 250, i % 250).parse().expect("an address");
//!     let event = AlertEvent::new(t, EventKind::Ban, Some(net), "sshd", "5 failures");
//!     assert!(batcher.push(t + u64::from(i) / 200, event).is_none());
//! }
//! let batch = batcher.poll(t + 10).expect("the window closed");
//! assert_eq!(batch.total, 1000);
//! assert_eq!(batch.jails[0].name, "sshd");
//! assert_eq!(batch.prefixes[0].count, 250);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{Duration, Timestamp};
use crate::engine::{Action, AlertKind};
use crate::net::Net;

/// The `[alert]` table of guard.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// A batch closes this long after its first event. Default `10s`.
    #[serde(default = "default_window")]
    pub window: Duration,
    /// Events listed one by one in a batch; the rest are counted only.
    /// Default 1000.
    #[serde(default = "default_max_events")]
    pub max_events: usize,
    /// Entries in each top list (jails, prefixes, addresses). Default 10.
    #[serde(default = "default_top")]
    pub top: usize,
    /// Also alert on ends of bans (off by default: they are many and
    /// expected).
    #[serde(default)]
    pub unbans: bool,
    /// Batches waiting to be sent at most; more are dropped and counted
    /// (and the count is in the next message). Default 64.
    #[serde(default = "default_queue")]
    pub queue: usize,
    #[serde(default)]
    pub webhook: Vec<WebhookConfig>,
    #[serde(default)]
    pub email: Vec<EmailConfig>,
    /// Structured log lines on stderr (journald or syslog takes them).
    #[serde(default)]
    pub log: Option<LogConfig>,
}

/// `[[alert.webhook]]`: a JSON POST of each batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://`.
    pub url: String,
    /// HMAC-SHA256 key: the body's MAC goes in `X-Rampart-Signature:
    /// sha256=<hex>`. Prefer `secret_file`.
    #[serde(default)]
    pub secret: Option<String>,
    /// A file holding the key (its trailing newline is ignored).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Attempts after the first, with exponential backoff from 1 s
    /// (doubling, at most 60 s between two). Default 5.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Per attempt. Default `10s`.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
}

/// `[[alert.email]]`: a text message per batch over SMTP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The SMTP server's host name.
    pub server: String,
    /// Default 587 (submission).
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// `starttls` (default: required), `tls` (implicit TLS, port 465)
    /// or `none` (plain: only to a local relay).
    #[serde(default)]
    pub tls: SmtpTls,
    pub from: String,
    pub to: Vec<String>,
    #[serde(default)]
    pub user: Option<String>,
    /// A file holding the password (its trailing newline is ignored).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Default `10s`.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Attempts after the first. Default 3.
    #[serde(default = "default_email_retries")]
    pub retries: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}

/// `[alert.log]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// One readable line per batch.
    Text,
}

fn default_window() -> Duration {
    Duration(10)
}
fn default_max_events() -> usize {
    1000
}
fn default_top() -> usize {
    10
}
fn default_queue() -> usize {
    64
}
fn default_retries() -> u32 {
    5
}
fn default_email_retries() -> u32 {
    3
}
fn default_timeout() -> Duration {
    Duration(10)
}
fn default_smtp_port() -> u16 {
    587
}

impl Default for AlertConfig {
    fn default() -> AlertConfig {
        AlertConfig {
            window: default_window(),
            max_events: default_max_events(),
            top: default_top(),
            unbans: false,
            queue: default_queue(),
            webhook: Vec::new(),
            email: Vec::new(),
            log: None,
        }
    }
}

impl AlertConfig {
    /// Parses the contents of an `[alert]` table (as its own document)
    /// and checks it.
    pub fn from_toml(text: &str) -> Result<AlertConfig, crate::Error> {
        let config: AlertConfig = toml::from_str(text).map_err(|e| crate::Error::Config {
            place: "alert".into(),
            message: e.to_string(),
        })?;
        config.check()?;
        Ok(config)
    }

    /// Values serde cannot check: every error names its key.
    pub fn check(&self) -> Result<(), crate::Error> {
        let bad = |place: String, message: &str| {
            Err(crate::Error::Config {
                place,
                message: message.into(),
            })
        };
        if self.window.0 <= 0 {
            return bad("alert.window".into(), "must be at least 1 second");
        }
        if self.max_events == 0 {
            return bad("alert.max_events".into(), "must be at least 1");
        }
        if self.queue == 0 {
            return bad("alert.queue".into(), "must be at least 1");
        }
        for (i, w) in self.webhook.iter().enumerate() {
            let place = |key: &str| format!("alert.webhook[{i}].{key}");
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return bad(place("url"), "must start with http:// or https://");
            }
            if w.secret.is_some() && w.secret_file.is_some() {
                return bad(place("secret"), "give secret or secret_file, not both");
            }
            if w.timeout.0 <= 0 {
                return bad(place("timeout"), "must be at least 1 second");
            }
        }
        for (i, e) in self.email.iter().enumerate() {
            let place = |key: &str| format!("alert.email[{i}].{key}");
            if e.server.trim().is_empty() {
                return bad(place("server"), "is empty");
            }
            if e.to.is_empty() {
                return bad(place("to"), "names no recipient");
            }
            for address in std::iter::once(&e.from).chain(&e.to) {
                if !address.contains('@') {
                    return bad(
                        place(if address == &e.from { "from" } else { "to" }),
                        "is not an e-mail address",
                    );
                }
            }
            if e.password_file.is_some() != e.user.is_some() {
                return bad(place("user"), "user and password_file go together");
            }
            if e.timeout.0 <= 0 {
                return bad(place("timeout"), "must be at least 1 second");
            }
        }
        Ok(())
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Ban,
    /// A ban of a whole /24 or /64 (or wider).
    PrefixBan,
    Unban,
    /// An engine notice ([`AlertKind`]): load shedding, a refused ban...
    Notice,
}

/// One decision to report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub time: Timestamp,
    pub kind: EventKind,
    /// The banned network or address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<String>,
    pub jail: String,
    pub reason: String,
    /// Ban end (seconds since the epoch); absent for a permanent ban.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
    #[serde(default)]
    pub hits: u32,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(skip)]
    parsed: Option<Net>,
}

impl AlertEvent {
    pub fn new(
        time: Timestamp,
        kind: EventKind,
        net: Option<Net>,
        jail: &str,
        reason: &str,
    ) -> AlertEvent {
        AlertEvent {
            time,
            kind,
            net: net.map(|n| n.to_string()),
            jail: jail.to_string(),
            reason: reason.to_string(),
            until: None,
            hits: 0,
            dry_run: false,
            parsed: net,
        }
    }

    /// The event an engine action makes; `None` for actions not alerted
    /// (restored bans; unbans unless `unbans`).
    pub fn from_action(now: Timestamp, action: &Action, unbans: bool) -> Option<AlertEvent> {
        match action {
            Action::Ban(ban) if !ban.restored => {
                let kind = if ban.net.is_host() {
                    EventKind::Ban
                } else {
                    EventKind::PrefixBan
                };
                let mut e = AlertEvent::new(now, kind, Some(ban.net), &ban.jail, &ban.reason);
                e.until = (ban.until != crate::FOREVER).then_some(ban.until);
                e.hits = ban.hits;
                e.dry_run = ban.dry_run;
                Some(e)
            }
            Action::Unban(unban) if unbans => {
                let mut e = AlertEvent::new(
                    now,
                    EventKind::Unban,
                    Some(unban.net),
                    "",
                    &format!("{:?}", unban.cause),
                );
                e.dry_run = unban.dry_run;
                Some(e)
            }
            Action::Alert(alert) => {
                let jail = match alert.kind {
                    AlertKind::PrefixBanned | AlertKind::PrefixCarved => "prefix",
                    AlertKind::PortLimit => "conntrack",
                    _ => "engine",
                };
                Some(AlertEvent::new(
                    now,
                    EventKind::Notice,
                    None,
                    jail,
                    &alert.message,
                ))
            }
            _ => None,
        }
    }
}

/// A count in a top list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

/// What one message reports: the window's events, counted and (up to
/// `max_events`) listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// Time of the first and last event.
    pub first: Timestamp,
    pub last: Timestamp,
    /// Events in this batch (listed + omitted).
    pub total: u64,
    pub counts: BTreeMap<EventKind, u64>,
    /// Top jails, /24 or /64 prefixes of banned addresses, and addresses
    /// or networks, most events first (ties by name).
    pub jails: Vec<Count>,
    pub prefixes: Vec<Count>,
    pub addresses: Vec<Count>,
    pub events: Vec<AlertEvent>,
    /// Events counted above but not listed (`max_events` reached).
    pub omitted: u64,
    /// Distinct keys not counted in the top lists because the per-batch
    /// key bound was reached (their events are in `total`).
    #[serde(default)]
    pub uncounted_keys: u64,
}

impl Batch {
    /// A one-line summary: `1000 bans, 2 prefix bans (sshd 990, nginx 12)`.
    pub fn headline(&self) -> String {
        let mut parts = Vec::new();
        for (kind, n) in &self.counts {
            let name = match kind {
                EventKind::Ban => "ban",
                EventKind::PrefixBan => "prefix ban",
                EventKind::Unban => "unban",
                EventKind::Notice => "notice",
            };
            parts.push(format!("{n} {name}{}", if *n == 1 { "" } else { "s" }));
        }
        let mut text = parts.join(", ");
        if !self.jails.is_empty() {
            let jails: Vec<String> = self
                .jails
                .iter()
                .take(3)
                .map(|c| format!("{} {}", c.name, c.count))
                .collect();
            text.push_str(&format!(" ({})", jails.join(", ")));
        }
        text
    }

    /// The readable report (e-mail body, text log).
    pub fn text(&self, listed: usize) -> String {
        let mut out = format!(
            "{}\nfrom {} to {} (seconds since the epoch)\n",
            self.headline(),
            self.first,
            self.last
        );
        for (title, list) in [
            ("jails", &self.jails),
            ("prefixes", &self.prefixes),
            ("addresses", &self.addresses),
        ] {
            if list.is_empty() {
                continue;
            }
            out.push_str(&format!("\ntop {title}:\n"));
            for c in list {
                out.push_str(&format!("  {:>8}  {}\n", c.count, c.name));
            }
        }
        out.push_str("\nevents:\n");
        for e in self.events.iter().take(listed) {
            out.push_str(&format!(
                "  {} {:?} {} [{}] {}{}\n",
                e.time,
                e.kind,
                e.net.as_deref().unwrap_or("-"),
                e.jail,
                e.reason,
                if e.dry_run { " (dry run)" } else { "" }
            ));
        }
        let not_listed = self.total - (self.events.len().min(listed) as u64);
        if not_listed > 0 {
            out.push_str(&format!("  ... and {not_listed} more\n"));
        }
        out
    }
}

/// Keys counted per top list and batch at most (memory stays bounded in
/// a flood of distinct addresses).
const MAX_KEYS: usize = 10_000;

/// Gathers events into batches; see the module documentation.
#[derive(Debug, Clone)]
pub struct Batcher {
    window: u64,
    max_events: usize,
    top: usize,
    open: Option<Open>,
}

#[derive(Debug, Clone)]
struct Open {
    opened: Timestamp,
    last: Timestamp,
    total: u64,
    counts: BTreeMap<EventKind, u64>,
    jails: HashMap<String, u64>,
    prefixes: HashMap<String, u64>,
    addresses: HashMap<String, u64>,
    uncounted: u64,
    events: Vec<AlertEvent>,
}

impl Batcher {
    pub fn new(config: &AlertConfig) -> Batcher {
        Batcher {
            window: config.window.seconds().unwrap_or(u64::MAX).max(1),
            max_events: config.max_events.max(1),
            top: config.top,
            open: None,
        }
    }

    /// Adds an event at `now`. Returns the previous batch when its window
    /// had closed (the event then opens a new one).
    pub fn push(&mut self, now: Timestamp, event: AlertEvent) -> Option<Batch> {
        let closed = self.poll(now);
        let open = self.open.get_or_insert_with(|| Open {
            opened: now,
            last: now,
            total: 0,
            counts: BTreeMap::new(),
            jails: HashMap::new(),
            prefixes: HashMap::new(),
            addresses: HashMap::new(),
            uncounted: 0,
            events: Vec::new(),
        });
        open.last = open.last.max(now);
        open.total += 1;
        *open.counts.entry(event.kind).or_default() += 1;
        if !event.jail.is_empty() {
            bump(&mut open.jails, &event.jail, &mut open.uncounted);
        }
        let net = event
            .parsed
            .or_else(|| event.net.as_deref().and_then(|n| n.parse().ok()));
        if let Some(net) = net {
            bump(&mut open.addresses, &net.to_string(), &mut open.uncounted);
            let len = if net.is_ipv4() { 24 } else { 64 };
            let prefix = if net.prefix_len() <= len {
                net
            } else {
                Net::containing(net.addr(), len)
            };
            bump(&mut open.prefixes, &prefix.to_string(), &mut open.uncounted);
        }
        if open.events.len() < self.max_events {
            open.events.push(event);
        }
        closed
    }

    /// The open batch when its window has closed at `now`.
    pub fn poll(&mut self, now: Timestamp) -> Option<Batch> {
        let due = self.deadline().is_some_and(|d| now >= d);
        if due {
            self.flush()
        } else {
            None
        }
    }

    /// When the open batch closes (for the run loop's timer).
    pub fn deadline(&self) -> Option<Timestamp> {
        self.open
            .as_ref()
            .map(|o| o.opened.saturating_add(self.window))
    }

    /// Closes the open batch now (at shutdown).
    pub fn flush(&mut self) -> Option<Batch> {
        let open = self.open.take()?;
        let top = |map: HashMap<String, u64>| {
            let mut list: Vec<Count> = map
                .into_iter()
                .map(|(name, count)| Count { name, count })
                .collect();
            list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
            list.truncate(self.top);
            list
        };
        let listed = open.events.len() as u64;
        Some(Batch {
            first: open.opened,
            last: open.last,
            total: open.total,
            counts: open.counts,
            jails: top(open.jails),
            prefixes: top(open.prefixes),
            addresses: top(open.addresses),
            events: open.events,
            omitted: open.total - listed,
            uncounted_keys: open.uncounted,
        })
    }
}

fn bump(map: &mut HashMap<String, u64>, key: &str, uncounted: &mut u64) {
    if let Some(n) = map.get_mut(key) {
        *n += 1;
    } else if map.len() < MAX_KEYS {
        map.insert(key.to_string(), 1);
    } else {
        *uncounted += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c = AlertConfig::from_toml("").expect("empty is fine");
        assert_eq!(c, AlertConfig::default());
        assert_eq!(c.window, Duration(10));
        let full = AlertConfig::from_toml(
            r#"
            window = "30s"
            max_events = 50
            [[webhook]]
            url = "http://127.0.0.1:9/x"
            secret = "k"
            retries = 2
            timeout = "5s"
            [[email]]
            server = "smtp.example.net"
            port = 465
            tls = "tls"
            from = "guard@example.net"
            to = ["ops@example.net"]
            user = "guard"
            password_file = "/etc/rampart/smtp.pass"
            [log]
            format = "text"
            "#,
        )
        .expect("valid");
        assert_eq!(full.window, Duration(30));
        assert_eq!(full.email[0].tls, SmtpTls::Tls);
        assert_eq!(full.log.as_ref().map(|l| l.format), Some(LogFormat::Text));
        // An unknown key anywhere is refused.
        for text in [
            "windw = 3",
            "[[webhook]]\nurl = \"http://x\"\nsecrt = \"k\"",
            "[[email]]\nserver=\"s\"\nfrom=\"a@b\"\nto=[\"c@d\"]\nstarttls=true",
            "[log]\nformat=\"json\"\nlevel=1",
        ] {
            let err = AlertConfig::from_toml(text).expect_err(text);
            assert!(err.to_string().contains("unknown field"), "{text}: {err}");
        }
    }

    #[test]
    fn config_values_are_checked() {
        for (text, place) in [
            ("window = 0", "alert.window"),
            ("[[webhook]]\nurl = \"ftp://x\"", "alert.webhook[0].url"),
            (
                "[[webhook]]\nurl = \"http://x\"\nsecret=\"a\"\nsecret_file=\"/b\"",
                "alert.webhook[0].secret",
            ),
            (
                "[[email]]\nserver=\"s\"\nfrom=\"a@b\"\nto=[]",
                "alert.email[0].to",
            ),
            (
                "[[email]]\nserver=\"s\"\nfrom=\"ab\"\nto=[\"c@d\"]",
                "alert.email[0].from",
            ),
            (
                "[[email]]\nserver=\"s\"\nfrom=\"a@b\"\nto=[\"c@d\"]\nuser=\"u\"",
                "alert.email[0].user",
            ),
        ] {
            let err = AlertConfig::from_toml(text).expect_err(text);
            assert!(err.to_string().starts_with(place), "{text}: {err}");
        }
    }

    fn event(t: Timestamp, i: u32) -> AlertEvent {
        let net: Net = format!("203.0.{}.{}", i % 7, i % 250)
            .parse()
            .expect("address");
        let jail = ["sshd", "nginx", "postfix"][(i % 3) as usize];
        AlertEvent::new(t, EventKind::Ban, Some(net), jail, "failures")
    }

    #[test]
    fn window_closes_and_cap_bounds_the_listing() {
        let config = AlertConfig {
            max_events: 10,
            ..AlertConfig::default()
        };
        let mut b = Batcher::new(&config);
        for i in 0..1000 {
            assert!(b.push(100, event(100, i)).is_none());
        }
        assert_eq!(b.deadline(), Some(110));
        assert!(b.poll(109).is_none());
        let batch = b.poll(110).expect("closed");
        assert_eq!(
            (batch.total, batch.events.len(), batch.omitted),
            (1000, 10, 990)
        );
        assert_eq!(batch.jails.iter().map(|c| c.count).sum::<u64>(), 1000);
        assert_eq!(batch.prefixes.len(), 7);
        assert!(
            batch
                .headline()
                .starts_with("1000 bans (sshd 334, nginx 333"),
            "{}",
            batch.headline()
        );
        assert!(batch.text(5).contains("... and 995 more"));
        assert!(b.poll(1000).is_none());
    }

    #[test]
    fn prefix_bans_count_under_their_own_prefix() {
        let mut b = Batcher::new(&AlertConfig::default());
        let net: Net = "2001:db8:1:2::/64".parse().expect("net");
        b.push(
            1,
            AlertEvent::new(1, EventKind::PrefixBan, Some(net), "prefix", "10 members"),
        );
        let batch = b.flush().expect("batch");
        assert_eq!(batch.prefixes[0].name, "2001:db8:1:2::/64");
    }

    proptest! {
        /// Every event lands in exactly one batch (listed or counted), in
        /// the batch whose window holds its time; listings stay bounded.
        #[test]
        fn batches_partition_the_events(
            gaps in proptest::collection::vec(0u64..8, 1..400),
            window in 1i64..20,
            max_events in 1usize..50,
        ) {
            let config = AlertConfig { window: Duration(window), max_events, ..AlertConfig::default() };
            let mut b = Batcher::new(&config);
            let mut batches = Vec::new();
            let mut t = 1000;
            for (i, gap) in gaps.iter().enumerate() {
                t += gap;
                if let Some(batch) = b.poll(t) { batches.push(batch); }
                let mut e = event(t, i as u32);
                e.reason = i.to_string();
                if let Some(batch) = b.push(t, e) { batches.push(batch); }
            }
            batches.extend(b.flush());
            let total: u64 = batches.iter().map(|b| b.total).sum();
            prop_assert_eq!(total, gaps.len() as u64);
            let mut next = 0usize;
            for batch in &batches {
                prop_assert!(batch.events.len() <= max_events);
                prop_assert_eq!(batch.events.len() as u64 + batch.omitted, batch.total);
                prop_assert!(batch.last - batch.first < window as u64);
                // Listed events are the first of their batch, in order.
                for e in &batch.events {
                    prop_assert_eq!(e.reason.parse::<usize>().expect("index"), next);
                    next += 1;
                }
                next += batch.omitted as usize;
            }
            prop_assert_eq!(next, gaps.len());
        }
    }
}
