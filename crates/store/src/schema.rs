//! The schema and its migrations, applied in order, each in its own
//! transaction that also records its number in `schema_version`.

use rampart_guard::{Timestamp, FOREVER};

/// Migration `i` brings the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: bans.
    "CREATE TABLE schema_version (
        version INTEGER NOT NULL PRIMARY KEY,
        applied_at INTEGER NOT NULL
    );
    CREATE TABLE bans (
        id INTEGER PRIMARY KEY,
        net TEXT NOT NULL,
        jail TEXT NOT NULL,
        reason TEXT NOT NULL,
        source TEXT NOT NULL,
        since INTEGER NOT NULL,
        until INTEGER NOT NULL,
        hits INTEGER NOT NULL,
        active INTEGER NOT NULL
    );
    CREATE INDEX bans_net ON bans(net);",
    // 2: carved prefixes ('' when the row is not a part of one) and folded
    // members, the ban count, the end time, one live row per network (a
    // unique partial index: a ban of a network already banned updates its
    // row), and the history of every decision (backfilled from the bans).
    "ALTER TABLE bans ADD COLUMN prefix TEXT NOT NULL DEFAULT '';
    ALTER TABLE bans ADD COLUMN folded_into TEXT;
    ALTER TABLE bans ADD COLUMN count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE bans ADD COLUMN ended INTEGER;
    UPDATE bans SET active = 0
        WHERE active <> 0 AND id NOT IN (SELECT max(id) FROM bans WHERE active <> 0 GROUP BY net);
    DROP INDEX bans_net;
    CREATE UNIQUE INDEX bans_live ON bans(net, prefix) WHERE active <> 0;
    CREATE INDEX bans_folded ON bans(folded_into) WHERE active = 2;
    CREATE TABLE history (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        net TEXT,
        prefix TEXT,
        jail TEXT,
        reason TEXT,
        source TEXT,
        until INTEGER,
        hits INTEGER,
        dry_run INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO history (at, kind, net, jail, reason, source, until, hits)
        SELECT since, 'ban', net, jail, reason, source, until, hits FROM bans;",
    // 3: throughput. The unique index on live (net, prefix) was a random
    // B-tree insert per ban; the store now finds the live row of a network
    // in memory (loaded at open through `bans_active`, whose keys are
    // appended in rowid order). The history gets the index the escalation
    // queries (`past_bans`, `ban_count`: bans since a time) and the purge
    // of old history need; its keys grow with time, so it is appended too.
    "DROP INDEX bans_live;
    CREATE INDEX bans_active ON bans(active) WHERE active <> 0;
    CREATE INDEX history_at ON history(at);",
];

/// The version this build writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

/// A time as both backends store it: seconds since the epoch as a signed
/// 64-bit integer, with "forever" as `i64::MAX`.
pub(crate) fn ts(t: Timestamp) -> i64 {
    if t == FOREVER {
        i64::MAX
    } else {
        i64::try_from(t).unwrap_or(i64::MAX)
    }
}

/// The inverse of [`ts`]; a negative stored time reads as 0.
pub(crate) fn from_ts(t: i64) -> Timestamp {
    if t == i64::MAX {
        FOREVER
    } else {
        u64::try_from(t).unwrap_or(0)
    }
}
