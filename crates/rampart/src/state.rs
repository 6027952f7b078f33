//! The state store of applied policies (default `/var/lib/rampart`,
//! `--state-dir` or `RAMPART_STATE_DIR` elsewhere):
//!
//! ```text
//! STATE/lock                 flock(2) held by every command that changes state
//! STATE/current              id of the applied entry ("7\n")
//! STATE/entries/00000007.json one applied state (Entry): source text, format,
//!                            policy model, compiled nft text, its SHA-256, time,
//!                            and the kernel settings it changed (previous values)
//! STATE/pending.json         an unconfirmed `apply --confirm` (Pending)
//! STATE/guard.log            what the detached rollback guard did
//! ```
//!
//! Every file is written atomically (temporary file, fsync, rename, fsync
//! of the directory), so a crash leaves the old or the new file. The last
//! [`KEEP`] entries are kept (plus any that `current` or a pending record
//! still needs). Unreadable or inconsistent state is an error naming the
//! file, never a panic.

use anyhow::{bail, Context, Result};
use rampart_model::Policy;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How many entries the history keeps.
pub const KEEP: usize = 20;
/// Version of the entry and pending formats.
const SCHEMA: u32 = 1;
/// The default state directory.
pub const DEFAULT_DIR: &str = "/var/lib/rampart";

/// The policy the boot unit (`dist/rampart.service`) applies.
pub const BOOT_POLICY: &str = "/etc/rampart/policy.toml";

/// One policy file as it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub path: String,
    pub text: String,
}

/// How an entry came to be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `rampart apply`.
    Apply,
    /// `rampart rollback`.
    Rollback,
    /// The guard of `apply --confirm` (or a later command) rolled back an
    /// unconfirmed apply.
    AutoRollback,
    /// `rampart harden --apply`: kernel settings only, the rules of the
    /// entry before it.
    Harden,
    /// `rampart harden --restore`: kernel settings only.
    HardenRestore,
    /// `rampart set add|del|load|flush`: the current entry with one set's
    /// elements changed (see `set_cmd`).
    Set,
}

impl Kind {
    /// Entries that changed kernel settings only (their rules are those
    /// of their parent).
    pub fn settings_only(self) -> bool {
        matches!(self, Kind::Harden | Kind::HardenRestore)
    }
}

/// One kernel setting an entry changed when it became current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingChange {
    /// sysctl(8) key, `net.ipv4.conf.eth0.rp_filter`.
    pub key: String,
    /// The value before (what a rollback writes back).
    pub previous: String,
    /// The value written.
    pub value: String,
    /// Set when the kernel itself rewrote this key as a side effect of
    /// writing the key named here (`accept_redirects` when `ip_forward`
    /// changes): rampart records its previous value and writes it back
    /// right after that key on a rollback, but never writes it forward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// The `format` of an entry made when no policy was applied (a `harden`
/// before any `apply`): it has no rules, and restoring it removes
/// rampart's tables.
pub const NO_POLICY: &str = "none";

/// One applied policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub schema: u32,
    pub id: u64,
    /// Seconds since the Unix epoch.
    pub time: u64,
    pub kind: Kind,
    /// The entry that was current before this one was applied; for a
    /// rollback, the parent of the entry it restored (so repeated rollbacks
    /// walk further back).
    pub parent: Option<u64>,
    /// For a rollback: the entry it restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restores: Option<u64>,
    /// Input format name (`iptables-save`, `native`, ...).
    pub format: String,
    pub no_optimize: bool,
    /// The file given to `apply` (included files are part of `policy`).
    pub sources: Vec<Source>,
    /// The policy model, re-lowered by `rollback`.
    pub policy: Policy,
    /// The compiled nft text that was applied.
    pub nft: String,
    /// SHA-256 of `nft`, hex.
    pub sha256: String,
    /// The kernel settings this entry changed when it became current, in
    /// the order written, with their previous values: what rolling back
    /// from it writes back (newest first). A rollback entry holds those of
    /// the entry it restored, so repeated rollbacks undo them in turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<SettingChange>,
}

impl Entry {
    /// Whether the entry holds a policy (see [`NO_POLICY`]).
    pub fn has_policy(&self) -> bool {
        self.format != NO_POLICY
    }
}

/// An `apply --confirm` that has not been confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    pub schema: u32,
    /// Names this pending apply; the guard only acts on its own token.
    pub token: String,
    /// Seconds since the Unix epoch after which the apply is rolled back.
    pub deadline: u64,
    /// What to restore: the entry current before the apply (`None`: no
    /// rampart tables, so rollback removes them).
    pub previous: Option<u64>,
    /// The entry that was applied.
    pub applied: u64,
}

/// An open state directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// SHA-256 of `text` as lowercase hex.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `2026-11-14 11:00:00 UTC` for seconds since the epoch.
pub fn fmt_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

impl Store {
    /// Opens `dir`, creating it (mode 0700) when missing.
    pub fn open(dir: &Path) -> Result<Store> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir.join("entries"))
            .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the state lock (released when the value is dropped).
    pub fn lock(&self) -> Result<rampart_sys::process::Lock> {
        let p = self.dir.join("lock");
        rampart_sys::process::lock_exclusive(&p)
            .with_context(|| format!("cannot lock {}", p.display()))
    }

    fn entry_path(&self, id: u64) -> PathBuf {
        self.dir.join("entries").join(format!("{id:08}.json"))
    }

    fn pending_path(&self) -> PathBuf {
        self.dir.join("pending.json")
    }

    /// Ids of the stored entries, oldest first.
    pub fn ids(&self) -> Result<Vec<u64>> {
        let d = self.dir.join("entries");
        let mut ids = Vec::new();
        for e in std::fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))? {
            let name = e?.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = name
                .strip_suffix(".json")
                .and_then(|n| n.parse::<u64>().ok())
            {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// Reads and verifies one entry.
    pub fn entry(&self, id: u64) -> Result<Entry> {
        let p = self.entry_path(id);
        let text = std::fs::read_to_string(&p)
            .with_context(|| format!("state: cannot read entry {id} ({})", p.display()))?;
        let e: Entry = serde_json::from_str(&text)
            .with_context(|| format!("state: {} is corrupt", p.display()))?;
        if e.schema != SCHEMA {
            bail!(
                "state: {} has schema {}, this rampart reads {SCHEMA}",
                p.display(),
                e.schema
            );
        }
        if e.id != id {
            bail!("state: {} claims to be entry {}", p.display(), e.id);
        }
        if sha256_hex(&e.nft) != e.sha256 {
            bail!(
                "state: {} is corrupt: the SHA-256 of its nft text is not the one recorded",
                p.display()
            );
        }
        Ok(e)
    }

    /// The id in `current`, if any policy was applied.
    pub fn current_id(&self) -> Result<Option<u64>> {
        let p = self.dir.join("current");
        match std::fs::read_to_string(&p) {
            Ok(t) => t.trim().parse::<u64>().map(Some).map_err(|_| {
                anyhow::anyhow!(
                    "state: {} is corrupt: expected an entry number, found {:?}",
                    p.display(),
                    t.trim()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
        }
    }

    /// The applied entry, if any.
    pub fn current(&self) -> Result<Option<Entry>> {
        self.current_id()?.map(|id| self.entry(id)).transpose()
    }

    /// Stores a new entry (not yet current) and returns it with its id.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &self,
        time: u64,
        kind: Kind,
        parent: Option<u64>,
        restores: Option<u64>,
        format: &str,
        no_optimize: bool,
        sources: Vec<Source>,
        policy: Policy,
        nft: String,
        settings: Vec<SettingChange>,
    ) -> Result<Entry> {
        let id = self.ids()?.last().map_or(1, |l| l + 1);
        let e = Entry {
            schema: SCHEMA,
            id,
            time,
            kind,
            parent,
            restores,
            format: format.to_string(),
            no_optimize,
            sources,
            policy,
            sha256: sha256_hex(&nft),
            nft,
            settings,
        };
        // Compact: an entry holds every set element of the policy (a
        // million-network set is ~100 MB compact, 2.5 times that pretty).
        let json = serde_json::to_string(&e)?;
        write_atomic(&self.entry_path(id), json.as_bytes())?;
        Ok(e)
    }

    /// Points `current` at `id` and prunes the history.
    pub fn set_current(&self, id: u64) -> Result<()> {
        write_atomic(&self.dir.join("current"), format!("{id}\n").as_bytes())?;
        self.prune()
    }

    /// Forgets an entry that was never applied (the kernel refused it).
    pub fn remove_entry(&self, id: u64) -> Result<()> {
        let p = self.entry_path(id);
        std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
        sync_dir(&self.dir.join("entries"))
    }

    /// Records that no rampart policy is applied.
    pub fn clear_current(&self) -> Result<()> {
        let p = self.dir.join("current");
        match std::fs::remove_file(&p) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot remove {}", p.display())),
        }
    }

    /// Removes all but the last [`KEEP`] entries, keeping the current one,
    /// its parent and what a pending record refers to.
    fn prune(&self) -> Result<()> {
        let ids = self.ids()?;
        if ids.len() <= KEEP {
            return Ok(());
        }
        let mut keep: Vec<u64> = ids[ids.len() - KEEP..].to_vec();
        if let Some(c) = self.current_id()? {
            keep.push(c);
            if let Ok(e) = self.entry(c) {
                keep.extend(e.parent);
            }
        }
        if let Ok(Some(p)) = self.pending() {
            keep.extend(p.previous);
            keep.push(p.applied);
        }
        for id in ids {
            if !keep.contains(&id) {
                let p = self.entry_path(id);
                std::fs::remove_file(&p)
                    .with_context(|| format!("cannot remove {}", p.display()))?;
            }
        }
        Ok(())
    }

    /// The pending record of an unconfirmed apply.
    pub fn pending(&self) -> Result<Option<Pending>> {
        let p = self.pending_path();
        match std::fs::read_to_string(&p) {
            Ok(t) => {
                let v: Pending = serde_json::from_str(&t)
                    .with_context(|| format!("state: {} is corrupt", p.display()))?;
                if v.schema != SCHEMA {
                    bail!(
                        "state: {} has schema {}, this rampart reads {SCHEMA}",
                        p.display(),
                        v.schema
                    );
                }
                Ok(Some(v))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
        }
    }

    pub fn set_pending(&self, p: &Pending) -> Result<()> {
        write_atomic(
            &self.pending_path(),
            serde_json::to_string_pretty(p)?.as_bytes(),
        )
    }

    pub fn clear_pending(&self) -> Result<()> {
        let p = self.pending_path();
        match std::fs::remove_file(&p) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot remove {}", p.display())),
        }
    }

    /// Appends a line to `guard.log`.
    pub fn log(&self, line: &str) {
        let p = self.dir.join("guard.log");
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            let _ = writeln!(f, "{} {line}", fmt_time(now()));
        }
    }
}

impl Pending {
    pub fn new(token: String, deadline: u64, previous: Option<u64>, applied: u64) -> Pending {
        Pending {
            schema: SCHEMA,
            token,
            deadline,
            previous,
            applied,
        }
    }
}

/// Writes `path` atomically: a temporary file beside it, fsync, rename,
/// fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync {}", dir.display()))
}

/// The state directory: `--state-dir`, else `RAMPART_STATE_DIR`, else
/// [`DEFAULT_DIR`].
pub fn dir_of(opt: Option<&Path>) -> PathBuf {
    match opt {
        Some(p) => p.to_path_buf(),
        None => std::env::var_os("RAMPART_STATE_DIR")
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rampart-state-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn add(s: &Store, nft: &str, parent: Option<u64>) -> Entry {
        s.add(
            1_700_000_000,
            Kind::Apply,
            parent,
            None,
            "native",
            false,
            vec![Source {
                path: "p.toml".into(),
                text: "x".into(),
            }],
            Policy::default(),
            nft.into(),
            vec![],
        )
        .expect("add")
    }

    #[test]
    fn issue3_entries_current_and_hash() {
        let d = tmp("basic");
        let s = Store::open(&d).expect("open");
        assert_eq!(s.current().expect("empty state"), None);
        let a = add(&s, "table inet rampart {}\n", None);
        s.set_current(a.id).expect("set");
        let b = add(&s, "table inet rampart { }\n", Some(a.id));
        s.set_current(b.id).expect("set");
        let cur = s.current().expect("read").expect("some");
        assert_eq!(cur.id, 2);
        assert_eq!(cur.parent, Some(1));
        assert_eq!(cur.sha256, sha256_hex("table inet rampart { }\n"));
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn issue3_history_keeps_the_last_20() {
        let d = tmp("prune");
        let s = Store::open(&d).expect("open");
        let mut parent = None;
        for i in 0..30 {
            let e = add(&s, &format!("# {i}\n"), parent);
            s.set_current(e.id).expect("set");
            parent = Some(e.id);
        }
        let ids = s.ids().expect("ids");
        assert_eq!(ids.len(), KEEP);
        assert_eq!(ids.first(), Some(&11));
        assert_eq!(ids.last(), Some(&30));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn issue3_corrupt_state_is_an_error_not_a_panic() {
        let d = tmp("corrupt");
        let s = Store::open(&d).expect("open");
        let a = add(&s, "table inet rampart {}\n", None);
        s.set_current(a.id).expect("set");
        // A changed nft text no longer matches its hash.
        let p = d.join("entries/00000001.json");
        let t = std::fs::read_to_string(&p).expect("read");
        std::fs::write(&p, t.replace("rampart {}", "rampart {x}")).expect("write");
        let err = format!("{:#}", s.current().expect_err("hash mismatch"));
        assert!(err.contains("SHA-256"), "{err}");
        // Not JSON at all.
        std::fs::write(&p, "garbage").expect("write");
        let err = format!("{:#}", s.current().expect_err("not json"));
        assert!(err.contains("is corrupt"), "{err}");
        // A current pointer that is not a number.
        std::fs::write(d.join("current"), "seven").expect("write");
        let err = format!("{:#}", s.current_id().expect_err("not a number"));
        assert!(err.contains("expected an entry number"), "{err}");
        // A pending record that is not JSON.
        std::fs::write(d.join("pending.json"), "{").expect("write");
        assert!(s.pending().is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn pending_round_trip_and_clear() {
        let d = tmp("pending");
        let s = Store::open(&d).expect("open");
        assert_eq!(s.pending().expect("none"), None);
        let p = Pending::new("t1".into(), 42, None, 1);
        s.set_pending(&p).expect("write");
        assert_eq!(s.pending().expect("read"), Some(p));
        s.clear_pending().expect("clear");
        s.clear_pending().expect("clear twice");
        assert_eq!(s.pending().expect("none"), None);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn times_print_in_utc() {
        assert_eq!(fmt_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(fmt_time(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(fmt_time(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
