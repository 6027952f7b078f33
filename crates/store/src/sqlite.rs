//! [`SqliteStore`]: the ban store over one SQLite file (WAL).

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension};

use rampart_guard::{Action, Net, PastBans, Source, StoredBan, Timestamp, UnbanCause};

use crate::schema::{from_ts, ts};
use crate::schema::{MIGRATIONS, VERSION};
use crate::{BanStore, StoreError};

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// `synchronous=FULL`: the WAL is fsynced at every commit. An
    /// acknowledged ban survives a killed daemon and a power loss.
    Full,
    /// `synchronous=NORMAL`: the WAL is written at every commit and
    /// fsynced at checkpoints. An acknowledged ban survives a killed
    /// daemon (the data is in the kernel's page cache), not a power loss.
    Normal,
}

/// Active states in `bans.active`.
const ENDED: i64 = 0;
const ACTIVE: i64 = 1;
const FOLDED: i64 = 2;

/// The SQLite ban store.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    path: String,
    /// The live rows, read at the first [`BanStore::record`]; `None`
    /// again after a failed batch (read anew).
    live: Option<LiveRows>,
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` and migrates it to the
    /// current schema. Never deletes or rewrites a file it cannot read.
    pub fn open(path: &Path, durability: Durability) -> Result<SqliteStore, StoreError> {
        let p = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: p.clone(),
            source: e,
        })?;
        let mut s = SqliteStore {
            conn,
            path: p,
            live: None,
        };
        s.setup(durability)?;
        s.migrate_to(VERSION)?;
        Ok(s)
    }

    /// Opens without migrating past `version` (tests build old databases
    /// with it).
    #[doc(hidden)]
    pub fn open_at_version(path: &Path, version: i64) -> Result<SqliteStore, StoreError> {
        let p = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: p.clone(),
            source: e,
        })?;
        let mut s = SqliteStore {
            conn,
            path: p,
            live: None,
        };
        s.setup(Durability::Full)?;
        s.migrate_to(version)?;
        Ok(s)
    }

    /// The raw connection, for tests and reports.
    #[doc(hidden)]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.read_version()
    }

    fn err(&self, op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| classify(&self.path, op, e)
    }

    fn setup(&mut self, durability: Durability) -> Result<(), StoreError> {
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        // journal_mode answers with a row; it is also the first read of
        // the file, where "not a database" shows.
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(self.err("setting WAL mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!("cannot switch to WAL mode (journal mode is {mode})"),
            });
        }
        // A larger page cache (64 MB) and fewer automatic checkpoints (every ~16 MB
        // of WAL instead of 4 MB) for floods; the WAL is still synced at
        // every commit.
        self.conn
            .execute_batch(&format!(
                "PRAGMA synchronous={sync}; PRAGMA busy_timeout=5000; \
                 PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=4000;"
            ))
            .map_err(self.err("setting pragmas"))?;
        Ok(())
    }

    fn read_version(&self) -> Result<i64, StoreError> {
        let has_table: Option<String> = self
            .conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("reading the schema"))?;
        if has_table.is_none() {
            let tables: i64 = self
                .conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(self.err("reading the schema"))?;
            if tables > 0 {
                return Err(StoreError::Corrupt {
                    path: self.path.clone(),
                    detail: "an SQLite database without rampart's schema_version table (another program's database?)".into(),
                });
            }
            return Ok(0);
        }
        self.conn
            .query_row(
                "SELECT coalesce(max(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .map_err(self.err("reading the schema version"))
    }

    fn migrate_to(&mut self, target: i64) -> Result<(), StoreError> {
        let current = self.read_version()?;
        if current > VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: current,
                known: VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            if version <= current || version > target {
                continue;
            }
            let path = self.path.clone();
            let tx = self
                .conn
                .transaction()
                .map_err(|e| classify(&path, "starting a migration", e))?;
            tx.execute_batch(sql)
                .map_err(|e| classify(&path, "migrating the schema", e))?;
            tx.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?1, strftime('%s','now'))",
                params![version],
            )
            .map_err(|e| classify(&path, "migrating the schema", e))?;
            tx.commit()
                .map_err(|e| classify(&path, "committing a migration", e))?;
        }
        Ok(())
    }

    /// `PRAGMA quick_check`: `Ok` when SQLite finds the file sound.
    pub fn check(&self) -> Result<(), StoreError> {
        let r: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(self.err("checking the database"))?;
        if r == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: r,
            })
        }
    }
}

/// The live row (active or folded) of each (network, part of prefix).
type LiveRows = HashMap<(Net, Option<Net>), i64>;

impl SqliteStore {
    /// Reads the live rows (through the `bans_active` index).
    fn load_live(&self) -> Result<LiveRows, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id, net, prefix FROM bans WHERE active <> 0 ORDER BY id")
            .map_err(self.err("reading live bans"))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .map_err(self.err("reading live bans"))?;
        let mut map = LiveRows::new();
        for row in rows {
            let (id, net, prefix) = row.map_err(self.err("reading live bans"))?;
            let bad = |e: rampart_guard::NetParseError| StoreError::BadRow {
                path: self.path.clone(),
                table: "bans",
                detail: e.to_string(),
            };
            let net: Net = net.parse().map_err(bad)?;
            let prefix = match prefix.as_deref() {
                None | Some("") => None,
                Some(p) => Some(p.parse::<Net>().map_err(bad)?),
            };
            map.insert((net, prefix), id);
        }
        Ok(map)
    }
}

/// One batch in one transaction (see [`BanStore::record`]). Every ban is
/// a history row (appended) and either a new `bans` row (appended) or an
/// update of the network's live row, found in `live` by its rowid.
fn record_in(
    conn: &mut Connection,
    path: &str,
    live: &mut LiveRows,
    actions: &[Action],
) -> Result<(), StoreError> {
    let e = |op: &'static str| move |err| classify(path, op, err);
    let tx = conn.transaction().map_err(e("starting a transaction"))?;
    {
        let mut history = tx
            .prepare_cached(
                "INSERT INTO history (at, kind, net, prefix, jail, reason, source, until, hits, dry_run)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(e("preparing"))?;
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO bans (net, prefix, jail, reason, source, since, until, hits, count, active)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)",
            )
            .map_err(e("preparing"))?;
        // A ban of a network that has a live row (banned again, or a
        // folded member coming back) updates it.
        let mut reban = tx
            .prepare_cached(
                "UPDATE bans SET active = 1, folded_into = NULL, until = max(until, ?2),
                     hits = max(hits, ?3) WHERE id = ?1",
            )
            .map_err(e("preparing"))?;
        let mut fold = tx
            .prepare_cached("UPDATE bans SET active = 2, folded_into = ?2 WHERE id = ?1")
            .map_err(e("preparing"))?;
        let mut end = tx
            .prepare_cached("UPDATE bans SET active = 0, ended = ?2 WHERE id = ?1")
            .map_err(e("preparing"))?;
        let mut end_members = tx
            .prepare_cached(
                "UPDATE bans SET active = 0, ended = ?2 WHERE folded_into = ?1 AND active = 2
                 RETURNING net, prefix",
            )
            .map_err(e("preparing"))?;
        let mut net_text = String::new();
        let mut prefix_text = String::new();
        // Alerts carry no time: they take the batch's latest.
        let mut batch_time = 0i64;
        for a in actions {
            match a {
                Action::Ban(b) => {
                    batch_time = batch_time.max(ts(b.since));
                    text(&mut net_text, Some(b.net));
                    text(&mut prefix_text, b.prefix);
                    let kind = if b.restored { "restore" } else { "ban" };
                    history
                        .execute(params![
                            ts(b.since),
                            kind,
                            net_text,
                            b.prefix.map(|_| prefix_text.as_str()),
                            &*b.jail,
                            b.reason,
                            b.source.as_str(),
                            ts(b.until),
                            b.hits,
                            b.dry_run
                        ])
                        .map_err(e("recording history"))?;
                    if b.dry_run {
                        continue;
                    }
                    match live.get(&(b.net, b.prefix)) {
                        Some(&id) => {
                            reban
                                .execute(params![id, ts(b.until), b.hits])
                                .map_err(e("recording a ban"))?;
                        }
                        None => {
                            insert
                                .execute(params![
                                    net_text,
                                    prefix_text,
                                    &*b.jail,
                                    b.reason,
                                    b.source.as_str(),
                                    ts(b.since),
                                    ts(b.until),
                                    b.hits,
                                    b.count
                                ])
                                .map_err(e("recording a ban"))?;
                            live.insert((b.net, b.prefix), tx.last_insert_rowid());
                        }
                    }
                }
                Action::Unban(u) => {
                    batch_time = batch_time.max(ts(u.at));
                    text(&mut net_text, Some(u.net));
                    let (kind, into) = match u.cause {
                        UnbanCause::Folded { into } => ("fold", Some(into.to_string())),
                        UnbanCause::Expired => ("expire", None),
                        UnbanCause::Manual => ("unban", None),
                        UnbanCause::Whitelisted => ("whitelisted", None),
                        _ => ("unban", None),
                    };
                    history
                        .execute(params![
                            ts(u.at),
                            kind,
                            net_text,
                            u.prefix.map(|p| p.to_string()),
                            None::<String>,
                            into,
                            None::<String>,
                            None::<i64>,
                            None::<i64>,
                            u.dry_run
                        ])
                        .map_err(e("recording history"))?;
                    if u.dry_run {
                        continue;
                    }
                    let key = (u.net, u.prefix);
                    if let Some(into) = into {
                        if let Some(&id) = live.get(&key) {
                            fold.execute(params![id, into])
                                .map_err(e("folding a ban"))?;
                        }
                    } else {
                        if let Some(id) = live.remove(&key) {
                            end.execute(params![id, ts(u.at)])
                                .map_err(e("ending a ban"))?;
                        }
                        // The members folded into it end with it (the
                        // engine sends back those still due).
                        let logical = u.prefix.unwrap_or(u.net).to_string();
                        let mut rows = end_members
                            .query(params![logical, ts(u.at)])
                            .map_err(e("ending folded bans"))?;
                        while let Some(r) = rows.next().map_err(e("ending folded bans"))? {
                            let net: String = r.get(0).map_err(e("ending folded bans"))?;
                            let prefix: Option<String> =
                                r.get(1).map_err(e("ending folded bans"))?;
                            let bad = |x: rampart_guard::NetParseError| StoreError::BadRow {
                                path: path.to_string(),
                                table: "bans",
                                detail: x.to_string(),
                            };
                            let net: Net = net.parse().map_err(bad)?;
                            let prefix = match prefix.as_deref() {
                                None | Some("") => None,
                                Some(p) => Some(p.parse::<Net>().map_err(bad)?),
                            };
                            live.remove(&(net, prefix));
                        }
                    }
                }
                Action::Alert(al) => {
                    history
                        .execute(params![
                            batch_time,
                            "alert",
                            None::<String>,
                            None::<String>,
                            None::<String>,
                            al.message,
                            None::<String>,
                            None::<i64>,
                            None::<i64>,
                            false
                        ])
                        .map_err(e("recording an alert"))?;
                }
                _ => {}
            }
        }
    }
    tx.commit().map_err(e("committing"))
}

/// Writes a network as stored (`''` for none) into a reused buffer.
fn text(buf: &mut String, net: Option<Net>) {
    use std::fmt::Write as _;
    buf.clear();
    if let Some(n) = net {
        let _ = write!(buf, "{n}");
    }
}

fn classify(path: &str, op: &'static str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase {
            path: path.to_string(),
        },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path: path.to_string(),
            detail: e.to_string(),
        },
        _ => StoreError::Sqlite {
            path: path.to_string(),
            op,
            source: e,
        },
    }
}

impl BanStore for SqliteStore {
    fn record(&mut self, actions: &[Action]) -> Result<(), StoreError> {
        if self.live.is_none() {
            self.live = Some(self.load_live()?);
        }
        let SqliteStore { conn, path, live } = self;
        let Some(map) = live.as_mut() else {
            return Ok(());
        };
        let r = record_in(conn, path, map, actions);
        if r.is_err() {
            // The transaction rolled back: the map may hold rows it added.
            *live = None;
        }
        r
    }

    fn purge_history(&mut self, before: Timestamp) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| classify(&path, "starting a transaction", e))?;
        let mut n = tx
            .execute("DELETE FROM history WHERE at < ?1", params![ts(before)])
            .map_err(|e| classify(&path, "purging the history", e))?;
        // Ended bans are history too (nothing reads them but reports).
        n += tx
            .execute(
                "DELETE FROM bans WHERE active = 0 AND coalesce(ended, until) < ?1",
                params![ts(before)],
            )
            .map_err(|e| classify(&path, "purging ended bans", e))?;
        tx.commit()
            .map_err(|e| classify(&path, "committing the purge", e))?;
        Ok(n as u64)
    }

    fn active_bans(&mut self, now: Timestamp) -> Result<Vec<StoredBan>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT net, prefix, folded_into, since, until, jail, source, reason, hits, count, active
                 FROM bans WHERE active <> 0 AND until > ?1 ORDER BY id",
            )
            .map_err(self.err("reading active bans"))?;
        let rows = st
            .query_map(params![ts(now)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, i64>(8)?,
                    r.get::<_, i64>(9)?,
                    r.get::<_, i64>(10)?,
                ))
            })
            .map_err(self.err("reading active bans"))?;
        let bad = |detail: String| StoreError::BadRow {
            path: self.path.clone(),
            table: "bans",
            detail,
        };
        let parse = |s: &str| s.parse::<Net>().map_err(|e| bad(e.to_string()));
        let mut out = Vec::new();
        for row in rows {
            let (net, prefix, folded, since, until, jail, source, reason, hits, count, active) =
                row.map_err(self.err("reading active bans"))?;
            if active != ACTIVE && active != FOLDED && active != ENDED {
                return Err(bad(format!("active = {active}")));
            }
            out.push(StoredBan {
                net: parse(&net)?,
                prefix: prefix
                    .as_deref()
                    .filter(|p| !p.is_empty())
                    .map(parse)
                    .transpose()?,
                folded_into: folded.as_deref().map(parse).transpose()?,
                since: from_ts(since),
                until: from_ts(until),
                jail,
                source: Source::parse(&source).ok_or_else(|| bad(format!("source {source:?}")))?,
                reason,
                hits: u32::try_from(hits).unwrap_or(u32::MAX),
                count: u32::try_from(count).unwrap_or(u32::MAX),
            });
        }
        Ok(out)
    }

    fn ban_count(
        &mut self,
        net: &Net,
        jail: Option<&str>,
        since: Timestamp,
    ) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row(
                // A carved prefix ban is one row per part: count it once.
                "SELECT count(*) FROM (SELECT DISTINCT at, jail FROM history
                 WHERE kind = 'ban' AND coalesce(prefix, net) = ?1 AND at >= ?2 AND dry_run = 0
                   AND (?3 IS NULL OR jail = ?3))",
                params![net.to_string(), ts(since), jail],
                |r| r.get(0),
            )
            .map_err(self.err("counting bans"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn past_bans(&mut self, since: Timestamp) -> Result<Vec<PastBans>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT coalesce(prefix, net) AS logical, jail, count(DISTINCT at), max(until) FROM history
                 WHERE kind = 'ban' AND dry_run = 0 AND at >= ?1 GROUP BY logical, jail",
            )
            .map_err(self.err("reading the history"))?;
        let rows = st
            .query_map(params![ts(since)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(self.err("reading the history"))?;
        let mut out = Vec::new();
        for row in rows {
            let (net, jail, count, until) = row.map_err(self.err("reading the history"))?;
            out.push(PastBans {
                net: net
                    .parse()
                    .map_err(|e: rampart_guard::NetParseError| StoreError::BadRow {
                        path: self.path.clone(),
                        table: "history",
                        detail: e.to_string(),
                    })?,
                jail,
                count: u32::try_from(count).unwrap_or(u32::MAX),
                last_until: from_ts(until),
            });
        }
        Ok(out)
    }
}
