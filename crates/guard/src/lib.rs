//! # rampart-guard
//!
//! The ban engine of `rampart guard`, without I/O (sans-I/O in the style of
//! smoltcp and rustls): the caller feeds it failures found in logs
//! ([`Engine::on_failure`]), conntrack snapshots
//! ([`Engine::on_conn_counts`]), the passing of time ([`Engine::on_tick`])
//! and commands ([`Engine::ban`], [`Engine::unban`]), always with `now`;
//! it returns [`Action`]s — ban this network until then, unban that one,
//! alert — for the caller to record (rampart-store) and apply (the
//! kernel's ban set).
//!
//! Decisions follow fail2ban's jail semantics (`maxretry` failures within
//! `findtime` ban for `bantime`; `bantime_increment` grows repeat
//! offenders' bans with fail2ban's formula or multipliers, capped by
//! `maxtime`), add prefix escalation (many banned members of a /24 or /64
//! ban the prefix and fold the members in; they come back when the prefix
//! ends early) and connection limits, and keep one invariant above all:
//! **the whitelist always wins** — no action ever covers a whitelisted
//! address; a prefix that holds one is split around it.
//!
//! ```
//! use rampart_guard::{Action, Engine, GuardConfig};
//!
//! let config = GuardConfig::from_toml(r#"
//!     ignoreip = ["192.0.2.0/24"]
//!     [jail.sshd]
//!     maxretry = 3
//!     findtime = "10m"
//!     bantime = "1h"
//! "#).expect("valid configuration");
//! let mut engine = Engine::new(&config).expect("valid configuration");
//! let attacker = "198.51.100.7".parse().expect("an address");
//! let t = 1_700_000_000;
//! assert!(engine.on_failure(t, "sshd", attacker, "Failed password").is_empty());
//! assert!(engine.on_failure(t + 5, "sshd", attacker, "Failed password").is_empty());
//! let actions = engine.on_failure(t + 9, "sshd", attacker, "Failed password");
//! let Action::Ban(ban) = &actions[0] else { panic!("a ban") };
//! assert_eq!(ban.net.to_string(), "198.51.100.7");
//! assert_eq!(ban.until, t + 9 + 3600);
//!
//! // The whitelist wins.
//! let office = "192.0.2.10".parse().expect("an address");
//! for i in 0..10 {
//!     assert!(engine.on_failure(t + i, "sshd", office, "").is_empty());
//! }
//!
//! // An hour later the ban ends.
//! let actions = engine.on_tick(t + 9 + 3600);
//! assert!(matches!(&actions[0], Action::Unban(u) if u.net == ban.net));
//! ```

mod aging;
pub mod alert;
pub mod config;
pub mod conntrack;
pub mod counter;
mod engine;
pub mod escalate;
pub mod filter;
mod net;
pub mod whitelist;

pub use aging::AgingMap;
pub use config::{
    BanScope, BantimeIncrement, ConnLimitConfig, Duration, GuardConfig, JailConfig, Timestamp,
};
pub use conntrack::{ConnEntry, ConnParseError, TcpState};
pub use counter::ConnCounts;
pub use engine::{
    Action, ActiveBan, Alert, AlertKind, Ban, Engine, Metrics, PastBans, Source, StoredBan, Unban,
    UnbanCause, FOREVER,
};
pub use net::{Net, NetParseError};
pub use whitelist::{Group, Whitelist};

/// Errors of the guard engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is wrong; `place` names the jail and key.
    #[error("{place}: {message}")]
    Config { place: String, message: String },
    /// A ban by hand of a network the whitelist covers entirely.
    #[error("{net} is whitelisted: not banned")]
    Whitelisted { net: Net },
    #[error("{net} is not banned")]
    NotBanned { net: Net },
}
