//! [`PgStore`]: the ban store in PostgreSQL, for fleets: every host of a
//! fleet records into the same database (each row names the host that
//! decided it), and every host restores the fleet's active bans at start.
//! Same trait, same semantics as [`crate::SqliteStore`]; a commit is
//! PostgreSQL's (`synchronous_commit` of the server decides durability).

use postgres::{Client, NoTls, Transaction};

use rampart_guard::{Action, Net, PastBans, Source, StoredBan, Timestamp, UnbanCause};

use crate::schema::{from_ts, ts};
use crate::{BanStore, StoreError};

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &["CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER PRIMARY KEY,
        applied_at BIGINT NOT NULL
    );
    CREATE TABLE bans (
        id BIGSERIAL PRIMARY KEY,
        host TEXT NOT NULL,
        net TEXT NOT NULL,
        prefix TEXT,
        folded_into TEXT,
        jail TEXT NOT NULL,
        reason TEXT NOT NULL,
        source TEXT NOT NULL,
        since BIGINT NOT NULL,
        until BIGINT NOT NULL,
        hits BIGINT NOT NULL,
        count BIGINT NOT NULL,
        active SMALLINT NOT NULL,
        ended BIGINT
    );
    CREATE INDEX bans_net ON bans(net);
    CREATE INDEX bans_live ON bans(until) WHERE active <> 0;
    CREATE INDEX bans_folded ON bans(folded_into) WHERE active = 2;
    CREATE TABLE history (
        id BIGSERIAL PRIMARY KEY,
        host TEXT NOT NULL,
        at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        net TEXT,
        prefix TEXT,
        jail TEXT,
        reason TEXT,
        source TEXT,
        until BIGINT,
        hits BIGINT,
        dry_run BOOLEAN NOT NULL DEFAULT false
    );
    CREATE INDEX history_bans ON history((coalesce(prefix, net)), at) WHERE kind = 'ban';"];

const VERSION: i64 = MIGRATIONS.len() as i64;

/// The PostgreSQL ban store.
pub struct PgStore {
    client: Client,
    target: String,
    host: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .field("host", &self.host)
            .finish()
    }
}

impl PgStore {
    /// Connects with a libpq-style parameter string (`host=/run/postgresql
    /// user=rampart dbname=rampart`), recording as `host` (this machine's
    /// name in the fleet), and migrates the schema (under an advisory lock,
    /// so hosts starting together migrate once).
    pub fn connect(params: &str, host: &str) -> Result<PgStore, StoreError> {
        let target = describe(params);
        let client = Client::connect(params, NoTls).map_err(|e| StoreError::Postgres {
            target: target.clone(),
            op: "connecting",
            source: e,
        })?;
        let mut s = PgStore {
            client,
            target,
            host: host.to_string(),
        };
        s.migrate()?;
        Ok(s)
    }

    pub fn schema_version(&mut self) -> Result<i64, StoreError> {
        let target = self.target.clone();
        let row = self
            .client
            .query_one(
                "SELECT coalesce(max(version), 0)::BIGINT FROM schema_version",
                &[],
            )
            .map_err(pg(&target, "reading the schema version"))?;
        Ok(row.get(0))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let target = self.target.clone();
        let mut tx = self
            .client
            .transaction()
            .map_err(pg(&target, "starting a migration"))?;
        tx.execute("SELECT pg_advisory_xact_lock(7306541)", &[])
            .map_err(pg(&target, "locking for the migration"))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .map_err(pg(&target, "migrating the schema"))?;
        let current: i64 = tx
            .query_one(
                "SELECT coalesce(max(version), 0)::BIGINT FROM schema_version",
                &[],
            )
            .map_err(pg(&target, "reading the schema version"))?
            .get(0);
        if current > VERSION {
            return Err(StoreError::TooNew {
                path: target,
                found: current,
                known: VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let version = i as i32 + 1;
            if i64::from(version) <= current {
                continue;
            }
            tx.batch_execute(sql)
                .map_err(pg(&target, "migrating the schema"))?;
            tx.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES ($1, extract(epoch from now())::BIGINT)",
                &[&version],
            )
            .map_err(pg(&target, "migrating the schema"))?;
        }
        tx.commit().map_err(pg(&target, "committing a migration"))
    }
}

/// The parameters without a password, for messages.
fn describe(params: &str) -> String {
    params
        .split_whitespace()
        .filter(|w| !w.starts_with("password="))
        .collect::<Vec<_>>()
        .join(" ")
}

fn pg<'a>(target: &'a str, op: &'static str) -> impl Fn(postgres::Error) -> StoreError + 'a {
    move |e| StoreError::Postgres {
        target: target.to_string(),
        op,
        source: e,
    }
}

fn record_in(
    tx: &mut Transaction<'_>,
    host: &str,
    target: &str,
    actions: &[Action],
) -> Result<(), StoreError> {
    let e = |op| pg(target, op);
    let history = tx
        .prepare(
            "INSERT INTO history (host, at, kind, net, prefix, jail, reason, source, until, hits, dry_run)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .map_err(e("preparing"))?;
    let revive = tx
        .prepare(
            "UPDATE bans SET active = 1, folded_into = NULL, until = $3
             WHERE net = $1 AND prefix IS NOT DISTINCT FROM $2 AND active <> 0",
        )
        .map_err(e("preparing"))?;
    let insert = tx
        .prepare(
            "INSERT INTO bans (host, net, prefix, jail, reason, source, since, until, hits, count, active)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)",
        )
        .map_err(e("preparing"))?;
    let fold = tx
        .prepare(
            "UPDATE bans SET active = 2, folded_into = $3
             WHERE net = $1 AND prefix IS NOT DISTINCT FROM $2 AND active = 1",
        )
        .map_err(e("preparing"))?;
    let end = tx
        .prepare(
            "UPDATE bans SET active = 0, ended = $3
             WHERE net = $1 AND prefix IS NOT DISTINCT FROM $2 AND active <> 0",
        )
        .map_err(e("preparing"))?;
    let end_members = tx
        .prepare("UPDATE bans SET active = 0, ended = $2 WHERE folded_into = $1 AND active = 2")
        .map_err(e("preparing"))?;
    let mut batch_time = 0i64;
    for a in actions {
        match a {
            Action::Ban(b) => {
                batch_time = batch_time.max(ts(b.since));
                let net = b.net.to_string();
                let prefix = b.prefix.map(|p| p.to_string());
                let kind = if b.restored { "restore" } else { "ban" };
                let (hits, count) = (i64::from(b.hits), i64::from(b.count));
                tx.execute(
                    &history,
                    &[
                        &host,
                        &ts(b.since),
                        &kind,
                        &net,
                        &prefix,
                        &&*b.jail,
                        &b.reason,
                        &b.source.as_str(),
                        &ts(b.until),
                        &hits,
                        &b.dry_run,
                    ],
                )
                .map_err(e("recording history"))?;
                if b.dry_run {
                    continue;
                }
                let revived = tx
                    .execute(&revive, &[&net, &prefix, &ts(b.until)])
                    .map_err(e("restoring a ban"))?;
                if revived == 0 {
                    tx.execute(
                        &insert,
                        &[
                            &host,
                            &net,
                            &prefix,
                            &&*b.jail,
                            &b.reason,
                            &b.source.as_str(),
                            &ts(b.since),
                            &ts(b.until),
                            &hits,
                            &count,
                        ],
                    )
                    .map_err(e("recording a ban"))?;
                }
            }
            Action::Unban(u) => {
                batch_time = batch_time.max(ts(u.at));
                let net = u.net.to_string();
                let prefix = u.prefix.map(|p| p.to_string());
                let (kind, into) = match u.cause {
                    UnbanCause::Folded { into } => ("fold", Some(into.to_string())),
                    UnbanCause::Expired => ("expire", None),
                    UnbanCause::Whitelisted => ("whitelisted", None),
                    _ => ("unban", None),
                };
                let none_i: Option<i64> = None;
                let none_s: Option<String> = None;
                tx.execute(
                    &history,
                    &[
                        &host,
                        &ts(u.at),
                        &kind,
                        &net,
                        &prefix,
                        &none_s,
                        &into,
                        &none_s,
                        &none_i,
                        &none_i,
                        &u.dry_run,
                    ],
                )
                .map_err(e("recording history"))?;
                if u.dry_run {
                    continue;
                }
                if let Some(into) = into {
                    tx.execute(&fold, &[&net, &prefix, &into])
                        .map_err(e("folding a ban"))?;
                } else {
                    tx.execute(&end, &[&net, &prefix, &ts(u.at)])
                        .map_err(e("ending a ban"))?;
                    let logical = u.prefix.unwrap_or(u.net).to_string();
                    tx.execute(&end_members, &[&logical, &ts(u.at)])
                        .map_err(e("ending folded bans"))?;
                }
            }
            Action::Alert(al) => {
                let none_i: Option<i64> = None;
                let none_s: Option<String> = None;
                tx.execute(
                    &history,
                    &[
                        &host,
                        &batch_time,
                        &"alert",
                        &none_s,
                        &none_s,
                        &none_s,
                        &al.message,
                        &none_s,
                        &none_i,
                        &none_i,
                        &false,
                    ],
                )
                .map_err(e("recording an alert"))?;
            }
            _ => {}
        }
    }
    Ok(())
}

impl BanStore for PgStore {
    fn record(&mut self, actions: &[Action]) -> Result<(), StoreError> {
        let target = self.target.clone();
        let host = self.host.clone();
        let mut tx = self
            .client
            .transaction()
            .map_err(pg(&target, "starting a transaction"))?;
        record_in(&mut tx, &host, &target, actions)?;
        tx.commit().map_err(pg(&target, "committing"))
    }

    fn active_bans(&mut self, now: Timestamp) -> Result<Vec<StoredBan>, StoreError> {
        let target = self.target.clone();
        let rows = self
            .client
            .query(
                "SELECT net, prefix, folded_into, since, until, jail, source, reason, hits, count
                 FROM bans WHERE active <> 0 AND until > $1 ORDER BY id",
                &[&ts(now)],
            )
            .map_err(pg(&target, "reading active bans"))?;
        let bad = |detail: String| StoreError::BadRow {
            path: target.clone(),
            table: "bans",
            detail,
        };
        let parse = |s: &str| s.parse::<Net>().map_err(|e| bad(e.to_string()));
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let source: String = r.get(6);
            let prefix: Option<String> = r.get(1);
            let folded: Option<String> = r.get(2);
            out.push(StoredBan {
                net: parse(r.get(0))?,
                prefix: prefix.as_deref().map(parse).transpose()?,
                folded_into: folded.as_deref().map(parse).transpose()?,
                since: from_ts(r.get(3)),
                until: from_ts(r.get(4)),
                jail: r.get(5),
                source: Source::parse(&source).ok_or_else(|| bad(format!("source {source:?}")))?,
                reason: r.get(7),
                hits: u32::try_from(r.get::<_, i64>(8)).unwrap_or(u32::MAX),
                count: u32::try_from(r.get::<_, i64>(9)).unwrap_or(u32::MAX),
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
        let target = self.target.clone();
        let row = self
            .client
            .query_one(
                "SELECT count(*) FROM (SELECT DISTINCT at, jail FROM history
                 WHERE kind = 'ban' AND coalesce(prefix, net) = $1 AND at >= $2 AND NOT dry_run
                   AND ($3::TEXT IS NULL OR jail = $3)) AS b",
                &[&net.to_string(), &ts(since), &jail],
            )
            .map_err(pg(&target, "counting bans"))?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    fn purge_history(&mut self, before: Timestamp) -> Result<u64, StoreError> {
        let target = self.target.clone();
        let host = self.host.clone();
        let mut tx = self
            .client
            .transaction()
            .map_err(pg(&target, "starting a transaction"))?;
        // Each host purges its own rows.
        let mut n = tx
            .execute(
                "DELETE FROM history WHERE host = $1 AND at < $2",
                &[&host, &ts(before)],
            )
            .map_err(pg(&target, "purging the history"))?;
        n += tx
            .execute(
                "DELETE FROM bans WHERE host = $1 AND active = 0 AND coalesce(ended, until) < $2",
                &[&host, &ts(before)],
            )
            .map_err(pg(&target, "purging ended bans"))?;
        tx.commit().map_err(pg(&target, "committing the purge"))?;
        Ok(n)
    }

    fn past_bans(&mut self, since: Timestamp) -> Result<Vec<PastBans>, StoreError> {
        let target = self.target.clone();
        let rows = self
            .client
            .query(
                "SELECT coalesce(prefix, net) AS logical, jail, count(DISTINCT at), max(until) FROM history
                 WHERE kind = 'ban' AND NOT dry_run AND at >= $1 GROUP BY logical, jail",
                &[&ts(since)],
            )
            .map_err(pg(&target, "reading the history"))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let net: String = r.get(0);
            out.push(PastBans {
                net: net
                    .parse()
                    .map_err(|e: rampart_guard::NetParseError| StoreError::BadRow {
                        path: target.clone(),
                        table: "history",
                        detail: e.to_string(),
                    })?,
                jail: r.get(1),
                count: u32::try_from(r.get::<_, i64>(2)).unwrap_or(u32::MAX),
                last_until: from_ts(r.get(3)),
            });
        }
        Ok(out)
    }
}
