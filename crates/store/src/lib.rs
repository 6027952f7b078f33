//! # rampart-store
//!
//! The ban store of `rampart guard`: every decision of the engine
//! (rampart-guard's [`Action`]s) is recorded here, the active bans are
//! read back at start to be restored with their remaining time, and the
//! history of past bans feeds escalation across restarts.
//!
//! [`BanStore`] is the interface; [`PgStore`] implements it over
//! PostgreSQL for fleets (hosts sharing their bans); [`SqliteStore`] over one
//! SQLite file in WAL mode with `synchronous=FULL` by default: when
//! [`BanStore::record`] returns, the transaction is committed and on disk,
//! so an acknowledged ban survives a SIGKILL of the daemon (and a power
//! loss). A batch of actions (one engine call, or a flood's worth) is one
//! transaction, which is what makes 100k+ bans per second possible.
//!
//! The schema has a version table and ordered migrations; a file that is
//! not a database, a corrupt one or one from a newer rampart is a clear
//! error, never a panic, and the file is left as it is.
//!
//! ```
//! use rampart_guard::{Action, Engine, GuardConfig};
//! use rampart_store::{BanStore, Durability, SqliteStore};
//!
//! let dir = std::env::temp_dir().join(format!("rampart-store-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).expect("temp dir");
//! let path = dir.join("bans.db");
//! let mut store = SqliteStore::open(&path, Durability::Full).expect("opens");
//!
//! let config = GuardConfig::from_toml("[jail.sshd]\nmaxretry = 1\nbantime = \"1h\"\n").expect("valid");
//! let mut engine = Engine::new(&config).expect("valid");
//! let t = 1_700_000_000;
//! let actions = engine.on_failure(t, "sshd", "198.51.100.7".parse().expect("ip"), "Failed password");
//! store.record(&actions).expect("committed");
//!
//! // After a restart: the ban comes back with its remaining time.
//! drop(store);
//! let mut store = SqliteStore::open(&path, Durability::Full).expect("opens");
//! let rows = store.active_bans(t + 600).expect("reads");
//! let mut fresh = Engine::new(&config).expect("valid");
//! let restored = fresh.restore(t + 600, rows);
//! let Action::Ban(b) = &restored[0] else { panic!("a ban") };
//! assert_eq!(b.remaining(t + 600), Some(3000));
//! # std::fs::remove_dir_all(&dir).ok();
//! ```

mod pg;
mod schema;
mod sqlite;

pub use pg::PgStore;
pub use sqlite::{Durability, SqliteStore};

use rampart_guard::{Action, Net, PastBans, StoredBan, Timestamp};

/// Where bans are recorded.
pub trait BanStore {
    /// Records one batch of actions (bans, unbans, alerts) in one
    /// transaction. When it returns `Ok`, the batch is committed: these
    /// bans are acknowledged.
    fn record(&mut self, actions: &[Action]) -> Result<(), StoreError>;

    /// The bans still due at `now` (and the members folded into prefix
    /// bans), for [`rampart_guard::Engine::restore`].
    fn active_bans(&mut self, now: Timestamp) -> Result<Vec<StoredBan>, StoreError>;

    /// How many times `net` was banned since `since` (in `jail`, or in
    /// any jail); dry-run bans do not count.
    fn ban_count(
        &mut self,
        net: &Net,
        jail: Option<&str>,
        since: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Bans since `since` per network and jail, for
    /// [`rampart_guard::Engine::seed_history`].
    fn past_bans(&mut self, since: Timestamp) -> Result<Vec<PastBans>, StoreError>;

    /// Deletes the history older than `before` (and the rows of bans that
    /// ended before it), in one transaction; returns how many rows went.
    /// The daemon calls it with `now - history` (the escalation window of
    /// the guard config): older bans no longer count for escalation, and
    /// the store stays bounded under a flood.
    fn purge_history(&mut self, before: Timestamp) -> Result<u64, StoreError>;
}

/// Errors of the ban store. Each names the database file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{path}: cannot open the ban database: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: not an SQLite database (the file was left as it is; move it away to start a new one)")]
    NotADatabase { path: String },
    #[error("{path}: the ban database is corrupt: {detail} (the file was left as it is)")]
    Corrupt { path: String, detail: String },
    #[error("{path}: schema version {found} is newer than this rampart knows ({known}); upgrade rampart")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("{path}: {op}: {source}")]
    Sqlite {
        path: String,
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("PostgreSQL {target}: {op}: {source}")]
    Postgres {
        target: String,
        op: &'static str,
        #[source]
        source: postgres::Error,
    },
    #[error("{path}: bad row in {table}: {detail}")]
    BadRow {
        path: String,
        table: &'static str,
        detail: String,
    },
}
