//! The state store of applied policies (default `/var/lib/rampart`,
//! `--state-dir` or `RAMPART_STATE_DIR` elsewhere):
//!
//! ```text
//! STATE/lock                  flock(2) held by every command that changes state
//! STATE/current               id of the applied entry ("7\n")
//! STATE/entries/00000007.json one entry: a snapshot or a delta (below)
//! STATE/entries/00000007.elems  a snapshot's set elements, one per line
//! STATE/entries/00000007.nft    a snapshot's compiled nft text
//! STATE/entries/00000007.idx    a snapshot's sorted index of its large
//!                               address sets (see `crate::setindex`)
//! STATE/pending.json          an unconfirmed `apply --confirm` (Pending)
//! STATE/guard.log             what the detached rollback guard did
//! ```
//!
//! **Entries.** Every change is an entry; `parent` is the entry that was
//! current before it. An entry is one of:
//!
//! * a *snapshot* (schema 2): the source text, format, the policy model
//!   with its sets' elements moved to `N.elems` (one element a line: `ADDR`,
//!   `ADDR/LEN`, `... TIMEOUT`, or the element as JSON), the compiled nft
//!   text in `N.nft`, the SHA-256 of both, the time and the kernel settings
//!   the entry changed (previous values). Written by `apply`, `rollback`,
//!   `harden`, `set load|flush`, and by `set add|del` every
//!   [`MAX_DELTAS`]th change (compaction);
//! * a *delta* (schema 2, kind `set`): one set's change against its parent
//!   (the elements removed, the elements added with their timeouts) —
//!   what `set add|del` write, a few hundred bytes whatever the size of the
//!   set (the source files by path only: their text is the snapshot's).
//!   Reading it reads its parent chain back to a snapshot (at most
//!   [`MAX_DELTAS`] deltas), so reading the current state stays bounded;
//! * a *reference* (schema 3, kind `rollback`/`auto-rollback`): the entry
//!   a rollback restored, by id, with no side file and no change (see
//!   [`Store::add_ref`]); it reads as that entry with its own id, time and
//!   kind, and keeps it through pruning;
//! * a *legacy* entry (schema 1, rampart before deltas): everything in the
//!   one JSON file. Still read; the next set change after one writes a
//!   snapshot. Schema-2 snapshots (plain side files) are read as they are.
//!
//! Schema 3 snapshots store `N.elems` and `N.nft` as zstd frames (the
//! SHA-256s are of the text inside) and hard-link side files whose content
//! a stored snapshot already has ([`Store::shared_side`]); their JSON file
//! keeps the SHA-256 of the policy compiled without elements, which
//! `status` compares without reading any element ([`Store::summary`]).
//!
//! Materialising a delta (`Store::entry`) is its parent materialised, every
//! set's timed elements carried from the parent's time to the delta's
//! ([`carry_timeouts_in`]), then the change: the removed elements taken
//! out, the added ones put in (replacing an element with the same parts).
//! This is exactly what the change stored before deltas existed, so
//! `rollback` restores the same sets.
//!
//! Every file is written atomically (temporary file, fsync, rename, fsync
//! of the directory), side files before the JSON file that names them, so
//! a crash leaves the old or the new entry. The last [`KEEP`] entries are
//! kept, plus any that `current` or a pending record still needs and every
//! entry a kept delta is built on. Unreadable or inconsistent state (a
//! truncated side file, a checksum that does not match, a delta whose
//! parent is gone) is an error naming the file, never a panic, and never
//! removes what is stored.

use anyhow::{bail, Context, Result};
use rampart_model::{ElemPart, IpNet, IpSet, Policy, SetElement};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// How many entries the history keeps.
pub const KEEP: usize = 20;
/// Version of the entry format written (3: compressed side files,
/// references; schema 2 entries are read as they are).
const SCHEMA: u32 = 3;
/// Entries with deltas and side files, before compression and references.
const SCHEMA_V2: u32 = 2;
/// Entries of rampart before deltas (still read).
const SCHEMA_V1: u32 = 1;
/// The pending record's version.
const PENDING_SCHEMA: u32 = 1;
/// Deltas in a row before a set change writes a snapshot again.
pub const MAX_DELTAS: u32 = 64;
/// A set change of more elements than this is written as a snapshot.
pub const MAX_DELTA_ELEMENTS: usize = 10_000;
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

/// One applied policy, whole (a delta materialised).
#[derive(Debug, Clone, PartialEq)]
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
    pub restores: Option<u64>,
    /// Input format name (`iptables-save`, `native`, ...).
    pub format: String,
    pub no_optimize: bool,
    /// The file given to `apply` (included files are part of `policy`).
    pub sources: Vec<Source>,
    /// The policy model, re-lowered by `rollback`.
    pub policy: Policy,
    /// The compiled nft text that was applied (for a delta: its policy
    /// lowered again when it is read).
    pub nft: String,
    /// SHA-256 of `nft`, hex; for a delta, the SHA-256 of its parent's
    /// and its change's (it names the state; the nft text was not
    /// compiled when the delta was written).
    pub sha256: String,
    /// The kernel settings this entry changed when it became current, in
    /// the order written, with their previous values: what rolling back
    /// from it writes back (newest first). A rollback entry holds those of
    /// the entry it restored, so repeated rollbacks undo them in turn.
    pub settings: Vec<SettingChange>,
}

impl Entry {
    /// Whether the entry holds a policy (see [`NO_POLICY`]).
    pub fn has_policy(&self) -> bool {
        self.format != NO_POLICY
    }
}

/// What an entry says of itself, without its elements (cheap to read: a
/// snapshot's JSON file holds no element, a delta only its change).
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub id: u64,
    pub time: u64,
    pub kind: Kind,
    pub parent: Option<u64>,
    pub restores: Option<u64>,
    pub format: String,
    pub no_optimize: bool,
    pub sha256: String,
    pub settings: Vec<SettingChange>,
    pub sources: Vec<Source>,
    /// Deltas (and references) from the snapshot this entry is built on
    /// (0: a snapshot).
    pub depth: u32,
    /// The entry this one is built on: a delta's parent, the entry a
    /// reference stands for; `None` for a snapshot.
    pub base: Option<u64>,
    /// A legacy (schema 1) entry.
    pub legacy: bool,
}

/// One set's change against the parent entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delta {
    /// Deltas from the last snapshot, this one included.
    pub depth: u32,
    /// The set's name in the policy.
    pub set: String,
    /// Elements taken out (by their parts).
    pub removed: Vec<Vec<ElemPart>>,
    /// Elements put in, with the timeout they had left at the delta's time.
    pub added: Vec<SetElement>,
    /// Elements of the set after the change.
    pub count: usize,
    /// SHA-256 of `[set, removed, added]` as compact JSON.
    pub digest: String,
}

impl Delta {
    fn compute_digest(set: &str, removed: &[Vec<ElemPart>], added: &[SetElement]) -> String {
        let body = serde_json::to_string(&(set, removed, added)).unwrap_or_default();
        sha256_hex(&body)
    }
}

/// A snapshot's side files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Side {
    /// SHA-256 of `N.elems`.
    elems_sha256: String,
    /// Elements per set, in the policy's order.
    counts: Vec<usize>,
    /// Per set, where its index is in `N.idx` (see [`crate::setindex`]),
    /// for sets that have one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    index: Vec<Option<crate::setindex::Ix>>,
    /// `N.elems` and `N.nft` are zstd frames (schema 3); the SHA-256s
    /// are those of the text inside.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    zstd: bool,
    /// SHA-256 of the policy without elements compiled (what `status`
    /// compares with this rampart's compilation, without the elements).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rules_sha256: Option<String>,
}

/// An entry whose state is exactly another entry's (a `rollback` to it):
/// no side file, no change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ref {
    /// The entry it stands for.
    entry: u64,
    /// That entry's depth plus one.
    depth: u32,
}

/// An entry file as stored (every schema).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Disk {
    schema: u32,
    id: u64,
    time: u64,
    kind: Kind,
    parent: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restores: Option<u64>,
    format: String,
    no_optimize: bool,
    #[serde(default)]
    sha256: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    settings: Vec<SettingChange>,
    #[serde(default)]
    sources: Vec<Source>,
    /// Snapshots (without elements) and legacy entries (with them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    side: Option<Side>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delta: Option<Delta>,
    /// References (schema 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refers: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policy: Option<Policy>,
    /// Legacy entries only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nft: Option<String>,
}

impl Disk {
    fn head(&self) -> Head {
        Head {
            id: self.id,
            time: self.time,
            kind: self.kind,
            parent: self.parent,
            restores: self.restores,
            format: self.format.clone(),
            no_optimize: self.no_optimize,
            sha256: self.sha256.clone(),
            settings: self.settings.clone(),
            sources: self.sources.clone(),
            depth: match (&self.delta, self.refers) {
                (Some(d), _) => d.depth,
                (None, Some(r)) => r.depth,
                (None, None) => 0,
            },
            base: match (&self.delta, self.refers) {
                (Some(_), _) => self.parent,
                (None, Some(r)) => Some(r.entry),
                (None, None) => None,
            },
            legacy: self.schema == SCHEMA_V1,
        }
    }
}

/// One set of the current state, read without the other sets' elements:
/// what `set add|del` work from.
#[derive(Debug, Clone)]
pub struct SetView {
    pub head: Head,
    /// The policy with no set elements (the set itself too: see `set`).
    pub skeleton: Policy,
    /// The set with its elements as of `head.time`.
    pub set: IpSet,
}

/// Per set name, the parts of the elements that differ (see
/// [`Store::changed_between`]).
pub type SetChanges = Vec<(String, Vec<Vec<ElemPart>>)>;

/// What `status` needs of an entry, read from JSON files only: the
/// policy without elements, the element count of each set, and the
/// SHA-256 of the skeleton as compiled when it was stored.
#[derive(Debug, Clone)]
pub struct Summary {
    pub head: Head,
    /// The policy with no set elements.
    pub skeleton: Policy,
    /// Elements per set of `skeleton` (in its order), as of the entry's
    /// time.
    pub counts: Vec<usize>,
    /// SHA-256 of `skeleton` compiled (see [`compile_text`]) when the
    /// snapshot was written; `None` for older entries.
    pub rules_sha256: Option<String>,
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

    fn entry_file(&self, id: u64, ext: &str) -> PathBuf {
        self.dir.join("entries").join(format!("{id:08}.{ext}"))
    }

    fn entry_path(&self, id: u64) -> PathBuf {
        self.entry_file(id, "json")
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

    /// Reads and checks one entry file (no side file).
    fn disk(&self, id: u64) -> Result<Disk> {
        let p = self.entry_path(id);
        let text = std::fs::read_to_string(&p)
            .with_context(|| format!("state: cannot read entry {id} ({})", p.display()))?;
        let d: Disk = serde_json::from_str(&text)
            .with_context(|| format!("state: {} is corrupt", p.display()))?;
        if !matches!(d.schema, SCHEMA_V1 | SCHEMA_V2 | SCHEMA) {
            bail!(
                "state: {} has schema {}, this rampart reads {SCHEMA_V1} to {SCHEMA}",
                p.display(),
                d.schema
            );
        }
        if d.id != id {
            bail!("state: {} claims to be entry {}", p.display(), d.id);
        }
        let shape = (
            d.schema,
            d.policy.is_some(),
            d.nft.is_some(),
            d.side.is_some(),
            d.delta.is_some() || d.refers.is_some(),
        );
        let newer = d.schema != SCHEMA_V1;
        match shape {
            (SCHEMA_V1, true, true, false, false) if d.refers.is_none() => {
                let nft = d.nft.as_deref().unwrap_or_default();
                if sha256_hex(nft) != d.sha256 {
                    bail!(
                        "state: {} is corrupt: the SHA-256 of its nft text is not the one recorded",
                        p.display()
                    );
                }
            }
            (_, true, false, true, false) if newer => {
                if d.side.as_ref().is_some_and(|s| s.zstd) && d.schema < SCHEMA {
                    bail!(
                        "state: {} is corrupt: compressed side files in a schema {} entry",
                        p.display(),
                        d.schema
                    );
                }
            }
            (SCHEMA, false, false, false, true) if d.delta.is_none() => {
                if d.refers.is_some_and(|r| r.entry >= id || r.depth == 0) {
                    bail!(
                        "state: {} is corrupt: a reference must name an earlier entry",
                        p.display()
                    );
                }
            }
            (_, false, false, false, true) if newer && d.refers.is_none() => {
                let delta = d
                    .delta
                    .as_ref()
                    .map(|x| (x, Delta::compute_digest(&x.set, &x.removed, &x.added)));
                if let Some((x, digest)) = delta {
                    if x.digest != digest {
                        bail!(
                            "state: {} is corrupt: the SHA-256 of its change is not the one recorded",
                            p.display()
                        );
                    }
                    if d.kind != Kind::Set || d.parent.is_none_or(|par| par >= id) || x.depth == 0 {
                        bail!(
                            "state: {} is corrupt: a delta must be a set change built on an earlier entry",
                            p.display()
                        );
                    }
                }
            }
            _ => bail!(
                "state: {} is corrupt: not a snapshot, delta or schema-1 entry",
                p.display()
            ),
        }
        Ok(d)
    }

    /// What entry `id` says of itself (no elements are read).
    pub fn head(&self, id: u64) -> Result<Head> {
        Ok(self.disk(id)?.head())
    }

    /// Entry `id`'s snapshot and the deltas from it up to `id`, newest
    /// first (an entry that is a snapshot has none).
    fn chain(&self, id: u64) -> Result<(Disk, Vec<Disk>)> {
        let mut chain: Vec<Disk> = Vec::new();
        let mut at = id;
        let base = loop {
            let d = self.disk(at)?;
            match d.head().base {
                Some(p) if chain.len() <= MAX_DELTAS as usize * 2 => {
                    chain.push(d);
                    at = p;
                }
                Some(_) => bail!(
                    "state: {} is corrupt: its chain of changes is too long",
                    self.entry_path(at).display()
                ),
                None => break d,
            }
        };
        Ok((base, chain))
    }

    /// Reads one entry whole (a delta materialised on its parents).
    pub fn entry(&self, id: u64) -> Result<Entry> {
        let (base, chain) = self.chain(id)?;
        let base_id = base.id;
        let head = base.head();
        let Disk {
            schema,
            policy,
            nft,
            side,
            ..
        } = base;
        let (mut policy, nft) = match (policy, nft, side) {
            (Some(policy), Some(nft), None) => (policy, nft),
            (Some(mut policy), None, Some(side)) => {
                self.fill_elements(base_id, &side, &mut policy, None)?;
                let nft_path = self.entry_file(base_id, "nft");
                let nft = self.read_side(base_id, "nft", side.zstd)?;
                let nft = String::from_utf8(nft).map_err(|_| {
                    anyhow::anyhow!("state: {} is corrupt: not UTF-8", nft_path.display())
                })?;
                if sha256_hex(&nft) != head.sha256 {
                    bail!(
                        "state: {} is corrupt: its SHA-256 is not the one {} records",
                        nft_path.display(),
                        self.entry_path(base_id).display()
                    );
                }
                (policy, nft)
            }
            _ => bail!("state: {} is corrupt", self.entry_path(base_id).display()),
        };
        let Some(mut top) = chain.first().map(Disk::head) else {
            return Ok(entry_of(schema, head, policy, nft));
        };
        top.sources = head.sources.clone();
        let mut time = head.time;
        for d in chain.iter().rev() {
            for s in &mut policy.sets {
                carry_timeouts_in(s, time, d.time);
            }
            time = d.time;
            let Some(delta) = &d.delta else { continue };
            let Some(set) = policy.set_mut(&delta.set) else {
                bail!(
                    "state: {} is corrupt: it changes set {}, which its parent does not have",
                    self.entry_path(d.id).display(),
                    delta.set
                );
            };
            apply_change(set, &delta.removed, &delta.added);
        }
        let nft = compile_text(&policy, top.no_optimize)
            .with_context(|| format!("state: entry {id} ({})", self.entry_path(id).display()))?;
        Ok(entry_of(SCHEMA, top, policy, nft))
    }

    /// The content of side file `N.EXT` (decompressed when `zstd`).
    fn read_side(&self, id: u64, ext: &str, zstd: bool) -> Result<Vec<u8>> {
        let p = self.entry_file(id, ext);
        let bytes = std::fs::read(&p)
            .with_context(|| format!("state: cannot read entry {id}'s {ext} ({})", p.display()))?;
        if !zstd {
            return Ok(bytes);
        }
        zstd::decode_all(bytes.as_slice())
            .with_context(|| format!("state: {} is corrupt: not a whole zstd frame", p.display()))
    }

    /// Writes side file `N.EXT`: a hard link to `same`'s copy when it
    /// holds the same content (see [`Store::shared_side`]), else `bytes`
    /// compressed.
    fn put_side(&self, id: u64, ext: &str, bytes: &[u8], same: Option<u64>) -> Result<()> {
        let path = self.entry_file(id, ext);
        if let Some(other) = same {
            if link_atomic(&self.entry_file(other, ext), &path).is_ok() {
                return Ok(());
            }
        }
        let packed = zstd::bulk::compress(bytes, ZSTD_LEVEL)
            .with_context(|| format!("cannot compress {}", path.display()))?;
        write_atomic(&path, &packed)
    }

    /// A stored compressed snapshot whose elements file, and one whose nft
    /// text, have the SHA-256s given: their side files can be shared
    /// (hard links). Entries that cannot be read are passed over.
    fn shared_side(&self, elems_sha256: &str, nft_sha256: &str) -> (Option<u64>, Option<u64>) {
        let (mut elems, mut nft) = (None, None);
        for id in self.ids().unwrap_or_default().into_iter().rev() {
            let Ok(d) = self.disk(id) else { continue };
            let Some(side) = d.side.as_ref().filter(|s| s.zstd) else {
                continue;
            };
            if elems.is_none() && side.elems_sha256 == elems_sha256 {
                elems = Some(id);
            }
            if nft.is_none() && d.sha256 == nft_sha256 {
                nft = Some(id);
            }
            if elems.is_some() && nft.is_some() {
                break;
            }
        }
        (elems, nft)
    }

    /// Puts the elements of `N.elems` into `policy`'s sets (only set
    /// number `only` when given; the others stay empty).
    fn fill_elements(
        &self,
        id: u64,
        side: &Side,
        policy: &mut Policy,
        only: Option<usize>,
    ) -> Result<()> {
        let p = self.entry_file(id, "elems");
        let bytes = self.read_side(id, "elems", side.zstd)?;
        if only.is_none() && sha256_bytes(&bytes) != side.elems_sha256 {
            bail!(
                "state: {} is corrupt: its SHA-256 is not the one {} records",
                p.display(),
                self.entry_path(id).display()
            );
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| anyhow::anyhow!("state: {} is corrupt: not UTF-8", p.display()))?;
        let sets = read_elems(text, policy.sets.len(), only).map_err(|(line, why)| {
            anyhow::anyhow!("state: {}:{line}: corrupt: {why}", p.display())
        })?;
        for (i, (s, elems)) in policy.sets.iter_mut().zip(sets).enumerate() {
            if only.is_none_or(|o| o == i) {
                if side.counts.get(i) != Some(&elems.len()) {
                    bail!(
                        "state: {} is corrupt: set {} has {} element(s), {} records {:?}",
                        p.display(),
                        s.name,
                        elems.len(),
                        self.entry_path(id).display(),
                        side.counts.get(i)
                    );
                }
                s.elements = elems;
            }
        }
        Ok(())
    }

    /// Set `name` of entry `id` with its elements, and the policy without
    /// any: reads the snapshot's JSON file and that set's lines of its
    /// elements file, then the deltas since. No other set's elements are
    /// parsed and nothing is compiled.
    pub fn set_view(&self, id: u64, name: &str) -> Result<SetView> {
        let (base, chain) = self.chain(id)?;
        let (mut policy, mut time) = (base.policy.clone().unwrap_or_default(), base.time);
        let Some(index) = policy.sets.iter().position(|s| s.name == name) else {
            bail!("{}", no_such_set_in(&policy, name));
        };
        if let Some(side) = &base.side {
            self.fill_elements(base.id, side, &mut policy, Some(index))?;
        }
        let elems = std::mem::take(&mut policy.sets[index].elements);
        let mut set = policy.sets[index].clone();
        set.elements = elems;
        for s in &mut policy.sets {
            s.elements = Vec::new();
        }
        for d in chain.iter().rev() {
            carry_timeouts_in(&mut set, time, d.time);
            time = d.time;
            if let Some(delta) = d.delta.as_ref().filter(|x| x.set == name) {
                apply_change(&mut set, &delta.removed, &delta.added);
            }
        }
        let head = self.head(id)?;
        Ok(SetView {
            head,
            skeleton: policy,
            set,
        })
    }

    /// Set `name` of entry `id` read through its snapshot's index (see
    /// [`crate::setindex`]), as it stands at `now`; with the entry's head,
    /// the policy without elements and the set's declaration (no
    /// elements). `None` when the set has no index (small or mixed sets,
    /// legacy entries): read it with [`Store::set_view`].
    pub fn set_index(
        &self,
        id: u64,
        name: &str,
        now: u64,
    ) -> Result<Option<(Head, Policy, IpSet, crate::setindex::IndexedSet)>> {
        let (base, chain) = self.chain(id)?;
        let Some(mut policy) = base.policy.clone() else {
            return Ok(None);
        };
        let Some(index) = policy.sets.iter().position(|s| s.name == name) else {
            bail!("{}", no_such_set_in(&policy, name));
        };
        let Some(ix) = base
            .side
            .as_ref()
            .and_then(|s| s.index.get(index).cloned().flatten())
        else {
            return Ok(None);
        };
        for s in &mut policy.sets {
            s.elements = Vec::new();
        }
        let decl = policy.sets[index].clone();
        let deltas: Vec<crate::setindex::DeltaRef<'_>> = chain
            .iter()
            .rev()
            .filter_map(|d| {
                d.delta
                    .as_ref()
                    .filter(|x| x.set == name)
                    .map(|x| (x.removed.as_slice(), x.added.as_slice(), d.time))
            })
            .collect();
        let Some(set) = crate::setindex::IndexedSet::open(
            &self.entry_file(base.id, "idx"),
            ix,
            base.time,
            decl.timeout,
            &deltas,
            now,
        )?
        else {
            return Ok(None);
        };
        let head = match chain.first() {
            Some(d) => d.head(),
            None => base.head(),
        };
        Ok(Some((head, policy, decl, set)))
    }

    /// How entries `a` and `b` differ when both are built on the same
    /// snapshot: per set, the parts of every element a delta changed on
    /// the way from one to the other (the deltas in one chain and not in
    /// the other); every other element is the same in both, up to the
    /// time its timeout has left. `None` when they are built on different
    /// snapshots (compare them whole). Only JSON files are read.
    pub fn changed_between(&self, a: u64, b: u64) -> Result<Option<SetChanges>> {
        let (base_a, chain_a) = self.chain(a)?;
        let (base_b, chain_b) = self.chain(b)?;
        if base_a.id != base_b.id {
            return Ok(None);
        }
        let ids_a: HashSet<u64> = chain_a.iter().map(|d| d.id).collect();
        let ids_b: HashSet<u64> = chain_b.iter().map(|d| d.id).collect();
        let mut out: SetChanges = Vec::new();
        let differing = chain_a
            .iter()
            .filter(|d| !ids_b.contains(&d.id))
            .chain(chain_b.iter().filter(|d| !ids_a.contains(&d.id)));
        for d in differing {
            let Some(delta) = &d.delta else { continue };
            let at = match out.iter().position(|(n, _)| *n == delta.set) {
                Some(i) => i,
                None => {
                    out.push((delta.set.clone(), Vec::new()));
                    out.len() - 1
                }
            };
            let parts = &mut out[at].1;
            parts.extend(delta.removed.iter().cloned());
            parts.extend(delta.added.iter().map(|e| e.parts.clone()));
        }
        for (_, parts) in &mut out {
            let mut seen = HashSet::new();
            parts.retain(|p| seen.insert(serde_json::to_string(p).unwrap_or_default()));
        }
        Ok(Some(out))
    }

    /// What `status` shows of entry `id`, without reading any element
    /// (its chain's JSON files only). `None` for a legacy (schema 1)
    /// snapshot: read it with [`Store::entry`].
    pub fn summary(&self, id: u64) -> Result<Option<Summary>> {
        let (base, chain) = self.chain(id)?;
        let Some(side) = base.side.as_ref() else {
            return Ok(None);
        };
        let Some(mut skeleton) = base.policy.clone() else {
            return Ok(None);
        };
        skeleton.sets.iter_mut().for_each(|s| s.elements.clear());
        let mut counts = side.counts.clone();
        counts.resize(skeleton.sets.len(), 0);
        for d in chain.iter().rev() {
            if let Some(delta) = &d.delta {
                if let Some(i) = skeleton.sets.iter().position(|s| s.name == delta.set) {
                    counts[i] = delta.count;
                }
            }
        }
        let head = match chain.first() {
            Some(d) => d.head(),
            None => base.head(),
        };
        Ok(Some(Summary {
            head,
            skeleton,
            counts,
            rules_sha256: side.rules_sha256.clone(),
        }))
    }

    /// The policy of entry `id` without set elements (its snapshot's JSON
    /// file; deltas do not change which sets there are).
    pub fn skeleton(&self, id: u64) -> Result<Policy> {
        let mut at = id;
        for _ in 0..=MAX_DELTAS * 2 {
            let d = self.disk(at)?;
            match (d.head().base, d.policy) {
                (Some(p), _) => at = p,
                (None, Some(mut policy)) => {
                    policy.sets.iter_mut().for_each(|s| s.elements.clear());
                    return Ok(policy);
                }
                _ => break,
            }
        }
        bail!(
            "state: {} is corrupt: no snapshot found for it",
            self.entry_path(id).display()
        )
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

    fn next_id(&self) -> Result<u64> {
        Ok(self.ids()?.last().map_or(1, |l| l + 1))
    }

    /// Stores a new snapshot entry (not yet current) and returns it with
    /// its id.
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
        let id = self.next_id()?;
        let mut e = Entry {
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
        let elems = write_elems(&e.policy);
        let mut idx = Vec::new();
        let index: Vec<Option<crate::setindex::Ix>> = e
            .policy
            .sets
            .iter()
            .map(|s| crate::setindex::build(s, &mut idx))
            .collect();
        let index = if index.iter().any(Option::is_some) {
            index
        } else {
            Vec::new()
        };
        let skeleton = skeleton_of(&mut e.policy);
        let rules_sha256 = compile_text(&skeleton, no_optimize)
            .ok()
            .map(|t| sha256_hex(&t));
        let elems_sha256 = sha256_bytes(elems.as_bytes());
        let (same_elems, same_nft) = self.shared_side(&elems_sha256, &e.sha256);
        let disk = Disk {
            schema: SCHEMA,
            id,
            time,
            kind,
            parent,
            restores,
            format: e.format.clone(),
            no_optimize,
            sha256: e.sha256.clone(),
            settings: e.settings.clone(),
            sources: e.sources.clone(),
            side: Some(Side {
                elems_sha256,
                counts: e.policy.sets.iter().map(|s| s.elements.len()).collect(),
                index,
                zstd: true,
                rules_sha256,
            }),
            delta: None,
            refers: None,
            policy: Some(skeleton),
            nft: None,
        };
        self.put_side(id, "elems", elems.as_bytes(), same_elems)?;
        if !idx.is_empty() {
            // The index is read in place (binary searches): not
            // compressed; shared with an entry of the same elements.
            let shared = same_elems.is_some_and(|o| {
                link_atomic(&self.entry_file(o, "idx"), &self.entry_file(id, "idx")).is_ok()
            });
            if !shared {
                write_atomic(&self.entry_file(id, "idx"), &idx)?;
            }
        }
        self.put_side(id, "nft", e.nft.as_bytes(), same_nft)?;
        write_atomic(
            &self.entry_path(id),
            serde_json::to_string(&disk)?.as_bytes(),
        )?;
        Ok(e)
    }

    /// Stores a set change of the entry `parent` (a delta, not yet
    /// current) and returns its id.
    pub fn add_delta(
        &self,
        time: u64,
        parent: &Head,
        set: &str,
        removed: Vec<Vec<ElemPart>>,
        added: Vec<SetElement>,
        count: usize,
    ) -> Result<u64> {
        let id = self.next_id()?;
        let digest = Delta::compute_digest(set, &removed, &added);
        let disk = Disk {
            schema: SCHEMA,
            id,
            time,
            kind: Kind::Set,
            parent: Some(parent.id),
            restores: None,
            format: parent.format.clone(),
            no_optimize: parent.no_optimize,
            sha256: sha256_hex(&format!("{}\n{digest}", parent.sha256)),
            settings: Vec::new(),
            // The paths only: the text (which may hold every element of an
            // imported ipset script) stays in the snapshot.
            sources: parent
                .sources
                .iter()
                .map(|s| Source {
                    path: s.path.clone(),
                    text: String::new(),
                })
                .collect(),
            side: None,
            delta: Some(Delta {
                depth: parent.depth + 1,
                set: set.to_string(),
                removed,
                added,
                count,
                digest,
            }),
            refers: None,
            policy: None,
            nft: None,
        };
        write_atomic(
            &self.entry_path(id),
            serde_json::to_string(&disk)?.as_bytes(),
        )?;
        Ok(id)
    }

    /// Stores an entry whose state is exactly that of `target` (what a
    /// rollback to it records: no element is copied), of kind `kind`,
    /// with `target`'s parent and settings. Not yet current; returns its
    /// id.
    pub fn add_ref(&self, time: u64, kind: Kind, target: &Head) -> Result<u64> {
        let id = self.next_id()?;
        let disk = Disk {
            schema: SCHEMA,
            id,
            time,
            kind,
            parent: target.parent,
            restores: Some(target.id),
            format: target.format.clone(),
            no_optimize: target.no_optimize,
            sha256: target.sha256.clone(),
            settings: target.settings.clone(),
            sources: target
                .sources
                .iter()
                .map(|s| Source {
                    path: s.path.clone(),
                    text: String::new(),
                })
                .collect(),
            side: None,
            delta: None,
            refers: Some(Ref {
                entry: target.id,
                depth: target.depth + 1,
            }),
            policy: None,
            nft: None,
        };
        write_atomic(
            &self.entry_path(id),
            serde_json::to_string(&disk)?.as_bytes(),
        )?;
        Ok(id)
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
        self.remove_side_files(id)?;
        sync_dir(&self.dir.join("entries"))
    }

    fn remove_side_files(&self, id: u64) -> Result<()> {
        for ext in ["elems", "nft", "idx"] {
            let p = self.entry_file(id, ext);
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot remove {}", p.display())),
            }
        }
        Ok(())
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
    /// its parent, what a pending record refers to, and every entry a
    /// kept delta is built on. An entry that cannot be read keeps every
    /// entry before it (nothing a damaged chain might need is removed).
    fn prune(&self) -> Result<()> {
        let ids = self.ids()?;
        if ids.len() <= KEEP {
            return Ok(());
        }
        let mut keep: HashSet<u64> = ids[ids.len() - KEEP..].iter().copied().collect();
        if let Some(c) = self.current_id()? {
            keep.insert(c);
            if let Ok(h) = self.head(c) {
                keep.extend(h.parent);
            }
        }
        if let Ok(Some(p)) = self.pending() {
            keep.extend(p.previous);
            keep.insert(p.applied);
        }
        // The bases of kept deltas.
        let mut floor = u64::MAX;
        let mut todo: Vec<u64> = keep.iter().copied().collect();
        while let Some(id) = todo.pop() {
            match self.head(id) {
                Ok(h) => {
                    if let Some(p) = h.base {
                        if keep.insert(p) {
                            todo.push(p);
                        }
                    }
                }
                Err(_) if ids.contains(&id) => floor = floor.min(id),
                Err(_) => {}
            }
        }
        for id in ids {
            if !keep.contains(&id) && id < floor {
                let p = self.entry_path(id);
                std::fs::remove_file(&p)
                    .with_context(|| format!("cannot remove {}", p.display()))?;
                self.remove_side_files(id)?;
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
                if v.schema != PENDING_SCHEMA {
                    bail!(
                        "state: {} has schema {}, this rampart reads {PENDING_SCHEMA}",
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

/// A copy of `policy` without set elements (without copying them).
fn skeleton_of(policy: &mut Policy) -> Policy {
    let elems: Vec<Vec<SetElement>> = policy
        .sets
        .iter_mut()
        .map(|s| std::mem::take(&mut s.elements))
        .collect();
    let skeleton = policy.clone();
    for (s, e) in policy.sets.iter_mut().zip(elems) {
        s.elements = e;
    }
    skeleton
}

fn entry_of(schema: u32, h: Head, policy: Policy, nft: String) -> Entry {
    Entry {
        schema,
        id: h.id,
        time: h.time,
        kind: h.kind,
        parent: h.parent,
        restores: h.restores,
        format: h.format,
        no_optimize: h.no_optimize,
        sources: h.sources,
        policy,
        nft,
        sha256: h.sha256,
        settings: h.settings,
    }
}

/// The nft text of `policy` as `apply` compiles it (optimised unless
/// `no_optimize`).
pub fn compile_text(policy: &Policy, no_optimize: bool) -> Result<String> {
    match rampart_nft::lower(policy) {
        Ok(rs) if no_optimize => Ok(rampart_nft::to_text(&rs)),
        Ok(rs) => Ok(rampart_nft::to_text(&rampart_nft::optimize(rs))),
        Err(errors) => bail!(
            "the policy no longer lowers to nftables: {}",
            errors.first().map(ToString::to_string).unwrap_or_default()
        ),
    }
}

fn no_such_set_in(policy: &Policy, name: &str) -> String {
    let names: Vec<&str> = policy.sets.iter().map(|s| s.name.as_str()).collect();
    if names.is_empty() {
        format!("the applied policy has no set {name} (it has no sets)")
    } else {
        format!(
            "the applied policy has no set {name}; its sets: {}",
            names.join(", ")
        )
    }
}

/// Elements with a timeout (their own or the set's default), as they
/// stand `now` in an entry of time `then`: the time left, expired ones
/// dropped (the kernel dropped them). Sets without timeouts are left alone.
pub fn carry_timeouts_in(set: &mut IpSet, then: u64, now: u64) {
    let passed = now.saturating_sub(then);
    let default = set.timeout.filter(|t| *t > 0);
    if passed == 0 || (default.is_none() && set.elements.iter().all(|e| e.timeout.is_none())) {
        return;
    }
    set.elements.retain_mut(|e| match e.timeout.or(default) {
        None => true,
        Some(t) => match u64::from(t).checked_sub(passed).filter(|l| *l > 0) {
            Some(left) => {
                e.timeout = Some(u32::try_from(left).unwrap_or(u32::MAX));
                true
            }
            None => false,
        },
    });
}

/// A cheap fingerprint of an element's parts (equal parts, equal
/// fingerprints), to find the few elements a change touches in one pass.
pub fn fingerprint(parts: &[ElemPart]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.len().hash(&mut h);
    match parts.first() {
        Some(ElemPart::Net(n)) => n.hash(&mut h),
        Some(ElemPart::Range(a, b)) => (a, b).hash(&mut h),
        Some(ElemPart::Port { proto, first, last }) => {
            (proto.unwrap_or(6), first, last).hash(&mut h);
        }
        Some(ElemPart::Iface(s)) => s.hash(&mut h),
        Some(other) => format!("{other:?}").hash(&mut h),
        None => {}
    }
    h.finish()
}

/// Whether two elements have the same parts (a port without protocol is
/// tcp, as ipset reads it).
pub fn same_parts(a: &[ElemPart], b: &[ElemPart]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (
                ElemPart::Port { proto, first, last },
                ElemPart::Port {
                    proto: p2,
                    first: f2,
                    last: l2,
                },
            ) => proto.unwrap_or(6) == p2.unwrap_or(6) && first == f2 && last == l2,
            _ => x == y,
        })
}

/// Takes the elements with the parts of `removed` out of `set`, then puts
/// `added` in (an element with the same parts as one there replaces it;
/// of two added with the same parts the last wins), as `set del|add` do.
pub fn apply_change(set: &mut IpSet, removed: &[Vec<ElemPart>], added: &[SetElement]) {
    let touched: HashSet<u64> = removed
        .iter()
        .map(|p| fingerprint(p))
        .chain(added.iter().map(|e| fingerprint(&e.parts)))
        .collect();
    if touched.is_empty() {
        return;
    }
    set.elements.retain(|x| {
        !touched.contains(&fingerprint(&x.parts))
            || !(removed.iter().any(|p| same_parts(p, &x.parts))
                || added.iter().any(|e| same_parts(&e.parts, &x.parts)))
    });
    for (i, e) in added.iter().enumerate() {
        if !added[i + 1..]
            .iter()
            .any(|l| same_parts(&l.parts, &e.parts))
        {
            set.elements.push(e.clone());
        }
    }
}

/// The elements file of a snapshot: per set of `policy` (in order) a line
/// `set INDEX COUNT`, then its elements, one a line: `ADDR` or
/// `ADDR/LEN` for an element of one network, followed by ` TIMEOUT` when
/// it has one; any other element as compact JSON. Ends with `end SETS`.
fn write_elems(policy: &Policy) -> String {
    let total: usize = policy.sets.iter().map(|s| s.elements.len()).sum();
    let mut out = String::with_capacity(total * 20 + 64);
    for (i, s) in policy.sets.iter().enumerate() {
        let _ = writeln!(out, "set {i} {}", s.elements.len());
        for e in &s.elements {
            match (e.parts.as_slice(), &e.comment, e.nomatch) {
                ([ElemPart::Net(n)], None, false) if n.prefix_len().is_some() => {
                    if n.is_host() {
                        let _ = write!(out, "{}", n.addr());
                    } else {
                        let _ = write!(out, "{}/{}", n.addr(), n.prefix_len().unwrap_or(0));
                    }
                    if let Some(t) = e.timeout {
                        let _ = write!(out, " {t}");
                    }
                }
                _ => out.push_str(&serde_json::to_string(e).unwrap_or_default()),
            }
            out.push('\n');
        }
    }
    let _ = writeln!(out, "end {}", policy.sets.len());
    out
}

/// Parses an elements file holding `sets` sets; with `only`, parses only
/// that set's lines (the others come back empty). Errors are (line, why).
fn read_elems(
    text: &str,
    sets: usize,
    only: Option<usize>,
) -> std::result::Result<Vec<Vec<SetElement>>, (usize, String)> {
    let mut out = vec![Vec::new(); sets];
    let mut lines = text.split_terminator('\n').enumerate();
    for (want, slot) in out.iter_mut().enumerate() {
        let Some((n, header)) = lines.next() else {
            return Err((text.lines().count() + 1, "the file ends early".into()));
        };
        let count = match header.split(' ').collect::<Vec<_>>().as_slice() {
            ["set", i, c] if i.parse() == Ok(want) => c
                .parse::<usize>()
                .map_err(|_| (n + 1, format!("bad count in {header:?}")))?,
            _ => {
                return Err((
                    n + 1,
                    format!("expected `set {want} COUNT`, found {header:?}"),
                ))
            }
        };
        let parse = only.is_none_or(|o| o == want);
        if parse {
            slot.reserve_exact(count);
        }
        for _ in 0..count {
            let Some((n, line)) = lines.next() else {
                return Err((text.lines().count() + 1, "the file ends early".into()));
            };
            if parse {
                slot.push(parse_elem_line(line).map_err(|why| (n + 1, why))?);
            } else if line.starts_with("set ") || line.starts_with("end ") {
                return Err((n + 1, "fewer elements than the count says".into()));
            }
        }
    }
    match lines.next() {
        Some((_, l)) if l == format!("end {sets}") => {}
        Some((n, l)) => return Err((n + 1, format!("expected `end {sets}`, found {l:?}"))),
        None => return Err((text.lines().count() + 1, "the file ends early".into())),
    }
    if let Some((n, _)) = lines.next() {
        return Err((n + 1, "lines after the end".into()));
    }
    Ok(out)
}

fn parse_elem_line(line: &str) -> std::result::Result<SetElement, String> {
    if line.starts_with('{') {
        return serde_json::from_str(line).map_err(|e| e.to_string());
    }
    let (net, timeout) = match line.split_once(' ') {
        Some((n, t)) => (
            n,
            Some(
                t.parse::<u32>()
                    .map_err(|_| format!("bad timeout in {line:?}"))?,
            ),
        ),
        None => (line, None),
    };
    let bad = || format!("bad element {line:?}");
    let net = match net.split_once('/') {
        Some((a, l)) => IpNet::new(
            a.parse::<IpAddr>().map_err(|_| bad())?,
            l.parse().map_err(|_| bad())?,
        )
        .ok_or_else(bad)?,
        None => IpNet::host(net.parse::<IpAddr>().map_err(|_| bad())?),
    };
    Ok(SetElement {
        parts: vec![ElemPart::Net(net)],
        timeout,
        comment: None,
        nomatch: false,
    })
}

fn sha256_bytes(b: &[u8]) -> String {
    Sha256::digest(b).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl Pending {
    pub fn new(token: String, deadline: u64, previous: Option<u64>, applied: u64) -> Pending {
        Pending {
            schema: PENDING_SCHEMA,
            token,
            deadline,
            previous,
            applied,
        }
    }
}

/// zstd level of side files: fast (a 1M-element snapshot in well under a
/// second) and about a quarter of the text.
const ZSTD_LEVEL: i32 = 3;

/// Makes `path` a hard link to `src` atomically (a temporary link beside
/// it, rename, fsync of the directory).
fn link_atomic(src: &Path, path: &Path) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.link.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let res = std::fs::hard_link(src, &tmp).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot link {}", path.display()));
    }
    sync_dir(dir)
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

    /// The text of a compressed side file.
    fn unpack(p: &Path) -> String {
        let b = zstd::decode_all(std::fs::read(p).expect("read").as_slice()).expect("zstd");
        String::from_utf8(b).expect("utf-8")
    }

    /// Replaces a side file by `text` compressed.
    fn pack(p: &Path, text: &str) {
        let b = zstd::encode_all(text.as_bytes(), 3).expect("zstd");
        std::fs::write(p, b).expect("write");
    }

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
        let nft = d.join("entries/00000001.nft");
        pack(&nft, "table inet rampart {x}\n");
        let err = format!("{:#}", s.current().expect_err("hash mismatch"));
        assert!(err.contains("SHA-256"), "{err}");
        assert!(err.contains("00000001.nft"), "{err}");
        // Not a zstd frame.
        std::fs::write(&nft, "table inet rampart {}\n").expect("write");
        let err = format!("{:#}", s.current().expect_err("not zstd"));
        assert!(
            err.contains("00000001.nft") && err.contains("zstd"),
            "{err}"
        );
        let p = d.join("entries/00000001.json");
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

    fn net(t: &str) -> SetElement {
        let (a, l) = t.split_once('/').unwrap_or((t, ""));
        let a: IpAddr = a.parse().expect("addr");
        SetElement {
            parts: vec![ElemPart::Net(match l {
                "" => IpNet::host(a),
                l => IpNet::new(a, l.parse().expect("len")).expect("net"),
            })],
            timeout: None,
            comment: None,
            nomatch: false,
        }
    }

    fn policy_with(elems: Vec<SetElement>) -> Policy {
        Policy {
            sets: vec![
                IpSet {
                    name: "other".into(),
                    kind: rampart_model::SetKind::HashIp,
                    family: Some(rampart_model::Family::Ipv4),
                    timeout: None,
                    options: Default::default(),
                    elements: vec![net("198.51.100.1")],
                    origin: None,
                },
                IpSet {
                    name: "block".into(),
                    kind: rampart_model::SetKind::HashNet,
                    family: Some(rampart_model::Family::Ipv4),
                    timeout: None,
                    options: Default::default(),
                    elements: elems,
                    origin: None,
                },
            ],
            ..Policy::default()
        }
    }

    fn snapshot(s: &Store, policy: Policy, parent: Option<u64>) -> Entry {
        let nft = compile_text(&policy, false).expect("lowers");
        s.add(
            1_700_000_000,
            Kind::Apply,
            parent,
            None,
            "native",
            false,
            vec![Source {
                path: "p.toml".into(),
                text: "[sets.block]".into(),
            }],
            policy,
            nft,
            vec![],
        )
        .expect("add")
    }

    #[test]
    fn issue5_deltas_materialise_to_the_policy_they_changed() {
        let d = tmp("delta");
        let s = Store::open(&d).expect("open");
        let mut timed = net("192.0.2.9");
        timed.timeout = Some(100);
        let mut commented = net("10.9.0.0/16");
        commented.comment = Some("a note, with spaces".into());
        let base = snapshot(
            &s,
            policy_with(vec![net("10.0.0.0/24"), timed, commented]),
            None,
        );
        s.set_current(base.id).expect("current");
        // Two deltas: add two (one replaces an element), then remove one.
        let h = s.head(base.id).expect("head");
        let mut again = net("10.0.0.0/24");
        again.timeout = Some(50);
        let id2 = s
            .add_delta(
                1_700_000_010,
                &h,
                "block",
                vec![],
                vec![net("172.16.0.0/12"), again.clone()],
                4,
            )
            .expect("delta");
        let h2 = s.head(id2).expect("head");
        assert_eq!(h2.depth, 1);
        let id3 = s
            .add_delta(
                1_700_000_030,
                &h2,
                "block",
                vec![net("172.16.0.0/12").parts],
                vec![],
                3,
            )
            .expect("delta");
        // What the changes meant, done on the whole policy.
        let mut want = policy_with(vec![net("10.0.0.0/24")]);
        want.sets[1].elements = base.policy.sets[1].elements.clone();
        for set in &mut want.sets {
            carry_timeouts_in(set, 1_700_000_000, 1_700_000_010);
        }
        apply_change(
            &mut want.sets[1],
            &[],
            &[net("172.16.0.0/12"), again.clone()],
        );
        for set in &mut want.sets {
            carry_timeouts_in(set, 1_700_000_010, 1_700_000_030);
        }
        apply_change(&mut want.sets[1], &[net("172.16.0.0/12").parts], &[]);
        let e3 = s.entry(id3).expect("materialise");
        assert_eq!(e3.policy, want);
        assert_eq!(e3.sources, base.sources);
        assert_eq!(e3.nft, compile_text(&want, false).expect("lowers"));
        assert_eq!(e3.kind, Kind::Set);
        assert_eq!(e3.parent, Some(id2));
        // The timed element carried 30s: 70s left; the replaced one 30s.
        let els = &e3.policy.sets[1].elements;
        assert_eq!(
            els.iter()
                .find(|e| e.parts == net("192.0.2.9").parts)
                .and_then(|e| e.timeout),
            Some(70)
        );
        assert_eq!(
            els.iter()
                .find(|e| e.parts == net("10.0.0.0/24").parts)
                .and_then(|e| e.timeout),
            Some(30)
        );
        // One set's view reads the same elements without the other sets'.
        let v = s.set_view(id3, "block").expect("view");
        assert_eq!(v.set.elements, want.sets[1].elements);
        assert!(v.skeleton.sets.iter().all(|x| x.elements.is_empty()));
        assert_eq!(s.skeleton(id3).expect("skeleton").sets.len(), 2);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn issue5_damaged_side_files_and_deltas_are_errors_naming_the_file() {
        let d = tmp("damaged");
        let s = Store::open(&d).expect("open");
        let base = snapshot(
            &s,
            policy_with(vec![net("10.0.0.0/24"), net("10.2.0.0/16")]),
            None,
        );
        s.set_current(base.id).expect("current");
        let h = s.head(base.id).expect("head");
        let id2 = s
            .add_delta(
                1_700_000_001,
                &h,
                "block",
                vec![],
                vec![net("10.4.0.0/16")],
                3,
            )
            .expect("delta");
        s.set_current(id2).expect("current");
        let elems = d.join("entries/00000001.elems");
        let packed = std::fs::read(&elems).expect("read");
        let good = unpack(&elems);
        // Truncated (the compressed file, or the text inside): every
        // reader says which file, and nothing is removed.
        std::fs::write(&elems, &packed[..packed.len() - 3]).expect("write");
        for err in [
            format!("{:#}", s.entry(2).expect_err("truncated")),
            format!("{:#}", s.set_view(2, "block").expect_err("truncated")),
        ] {
            assert!(err.contains("00000001.elems"), "{err}");
        }
        pack(&elems, &good[..good.len() - 8]);
        for err in [
            format!("{:#}", s.entry(2).expect_err("truncated")),
            format!("{:#}", s.set_view(2, "block").expect_err("truncated")),
        ] {
            assert!(err.contains("00000001.elems"), "{err}");
        }
        // A changed address: the checksum catches it.
        pack(&elems, &good.replace("10.2.0.0/16", "10.3.0.0/16"));
        let err = format!("{:#}", s.entry(1).expect_err("checksum"));
        assert!(
            err.contains("00000001.elems") && err.contains("SHA-256"),
            "{err}"
        );
        std::fs::write(&elems, &packed).expect("write");
        // A changed delta.
        let p = d.join("entries/00000002.json");
        let t = std::fs::read_to_string(&p).expect("read");
        std::fs::write(&p, t.replace("10.4.0.0", "10.5.0.0")).expect("write");
        let err = format!("{:#}", s.entry(2).expect_err("digest"));
        assert!(
            err.contains("00000002.json") && err.contains("SHA-256"),
            "{err}"
        );
        std::fs::write(&p, &t[..t.len() / 2]).expect("write");
        let err = format!("{:#}", s.current().expect_err("truncated json"));
        assert!(err.contains("00000002.json"), "{err}");
        assert_eq!(s.ids().expect("ids"), [1, 2]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn issue5_references_shared_files_and_summaries() {
        use std::os::unix::fs::MetadataExt;
        let d = tmp("refs");
        let s = Store::open(&d).expect("open");
        let a = snapshot(&s, policy_with(vec![net("10.0.0.0/24")]), None);
        s.set_current(a.id).expect("current");
        let ha = s.head(a.id).expect("head");
        let b = s
            .add_delta(
                1_700_000_001,
                &ha,
                "block",
                vec![],
                vec![net("10.9.0.0/16")],
                2,
            )
            .expect("delta");
        let hb = s.head(b).expect("head");
        let c = s
            .add_delta(
                1_700_000_002,
                &hb,
                "block",
                vec![net("10.0.0.0/24").parts],
                vec![],
                1,
            )
            .expect("delta");
        // C and B differ in the element C took out; A and C in both.
        let between = s.changed_between(c, b).expect("read").expect("same base");
        assert_eq!(
            between,
            vec![("block".to_string(), vec![net("10.0.0.0/24").parts])]
        );
        let between = s
            .changed_between(c, a.id)
            .expect("read")
            .expect("same base");
        assert_eq!(between[0].1.len(), 2);
        // A reference to B is B, with its own id, time and kind.
        let r = s.add_ref(1_700_000_003, Kind::Rollback, &hb).expect("ref");
        let (er, eb) = (s.entry(r).expect("ref"), s.entry(b).expect("b"));
        assert_eq!(er.policy, eb.policy);
        assert_eq!(
            (er.kind, er.restores, er.parent),
            (Kind::Rollback, Some(b), Some(a.id))
        );
        assert_eq!(er.sha256, eb.sha256);
        assert!(s
            .changed_between(r, b)
            .expect("read")
            .expect("base")
            .is_empty());
        // Status reads counts from the JSON files.
        let sum = s.summary(c).expect("summary").expect("not legacy");
        assert_eq!(sum.counts, vec![1, 1]);
        assert!(sum.skeleton.sets.iter().all(|x| x.elements.is_empty()));
        let rules = compile_text(&sum.skeleton, false).expect("lowers");
        assert_eq!(sum.rules_sha256, Some(sha256_hex(&rules)));
        // A snapshot with the same elements shares A's files.
        let e = snapshot(&s, policy_with(vec![net("10.0.0.0/24")]), Some(r));
        let ino = |id: u64, ext: &str| {
            std::fs::metadata(s.entry_file(id, ext))
                .expect("meta")
                .ino()
        };
        assert_eq!(ino(e.id, "elems"), ino(a.id, "elems"));
        assert_eq!(ino(e.id, "nft"), ino(a.id, "nft"));
        assert_eq!(
            s.entry(e.id).expect("e").policy,
            s.entry(a.id).expect("a").policy
        );
        // A reference keeps what it stands for through pruning.
        s.set_current(r).expect("current");
        for i in 0..KEEP as u64 + 2 {
            let p = s.head(r).expect("head");
            let _ = s
                .add_ref(1_700_000_010 + i, Kind::Rollback, &p)
                .expect("ref");
        }
        s.set_current(r).expect("current");
        assert!(s.ids().expect("ids").contains(&b));
        assert_eq!(s.entry(r).expect("still read").policy, eb.policy);
        // A reference to a later entry, or with depth 0, is corrupt.
        let p = s.entry_path(r);
        let t = std::fs::read_to_string(&p).expect("read");
        std::fs::write(&p, t.replace(&format!("\"entry\":{b}"), "\"entry\":99")).expect("write");
        let err = format!("{:#}", s.entry(r).expect_err("bad ref"));
        assert!(err.contains(&format!("{:08}.json", r)), "{err}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn issue5_schema_2_entries_with_plain_side_files_are_still_read() {
        let d = tmp("schema2");
        let s = Store::open(&d).expect("open");
        let a = snapshot(
            &s,
            policy_with(vec![net("10.0.0.0/24"), net("10.1.0.1")]),
            None,
        );
        let want = s.entry(a.id).expect("read");
        // As rampart wrote it before compression: plain side files, schema 2.
        for ext in ["elems", "nft"] {
            let f = s.entry_file(a.id, ext);
            let text = unpack(&f);
            std::fs::write(&f, text).expect("write");
        }
        let p = s.entry_path(a.id);
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json");
        v["schema"] = 2.into();
        let side = v["side"].as_object_mut().expect("side");
        side.remove("zstd");
        side.remove("rules_sha256");
        std::fs::write(&p, v.to_string()).expect("write");
        let got = s.entry(a.id).expect("schema 2 read");
        assert_eq!((got.policy, got.nft), (want.policy, want.nft));
        // Status falls back to reading it whole (no rules' SHA-256).
        assert_eq!(
            s.summary(a.id)
                .expect("summary")
                .expect("side")
                .rules_sha256,
            None
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn issue5_schema_1_entries_are_still_read() {
        let d = tmp("legacy");
        let s = Store::open(&d).expect("open");
        let policy = policy_with(vec![net("10.0.0.0/24")]);
        let nft = compile_text(&policy, false).expect("lowers");
        let legacy = serde_json::json!({
            "schema": 1, "id": 1, "time": 1_700_000_000u64, "kind": "apply",
            "parent": null, "format": "native", "no_optimize": false,
            "sources": [{"path": "p.toml", "text": "x"}],
            "policy": policy, "sha256": sha256_hex(&nft), "nft": nft,
        });
        std::fs::write(d.join("entries/00000001.json"), legacy.to_string()).expect("write");
        std::fs::write(d.join("current"), "1\n").expect("write");
        let e = s.current().expect("read").expect("some");
        assert_eq!(e.policy, policy);
        assert!(s.head(1).expect("head").legacy);
        assert_eq!(
            s.set_view(1, "block").expect("view").set.elements,
            policy.sets[1].elements
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn issue5_pruning_keeps_the_snapshot_a_kept_delta_needs() {
        let d = tmp("prune-delta");
        let s = Store::open(&d).expect("open");
        let base = snapshot(&s, policy_with(vec![net("10.0.0.0/24")]), None);
        s.set_current(base.id).expect("current");
        let mut h = s.head(base.id).expect("head");
        for i in 0..(KEEP as u32 + 5) {
            let id = s
                .add_delta(
                    1_700_000_000 + u64::from(i),
                    &h,
                    "block",
                    vec![],
                    vec![net(&format!("10.1.{i}.0/24"))],
                    2 + i as usize,
                )
                .expect("delta");
            s.set_current(id).expect("current");
            h = s.head(id).expect("head");
        }
        let ids = s.ids().expect("ids");
        assert!(ids.contains(&1), "{ids:?}");
        let e = s.current().expect("read").expect("some");
        assert_eq!(e.policy.sets[1].elements.len(), KEEP + 6);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn elements_files_round_trip() {
        let mut odd = net("2001:db8::/32");
        odd.comment = Some("x".into());
        let mut t = net("192.0.2.1");
        t.timeout = Some(5);
        let p = policy_with(vec![net("10.0.0.0/8"), odd, t, net("::1")]);
        let text = write_elems(&p);
        let back = read_elems(&text, 2, None).expect("parse");
        assert_eq!(back[1], p.sets[1].elements);
        assert_eq!(back[0], p.sets[0].elements);
        let only = read_elems(&text, 2, Some(1)).expect("parse");
        assert!(only[0].is_empty());
        assert!(read_elems(&text[..text.len() - 3], 2, None).is_err());
        assert!(read_elems("set 0 2\n1.2.3.4\nend 1\n", 1, Some(0)).is_err());
        assert!(read_elems("set 0 1\n1.2.3.400\nend 1\n", 1, Some(0)).is_err());
    }

    #[test]
    fn damaged_elements_files_and_indexes_never_panic() {
        // The state files are input like any other: random damage gives
        // an error or elements, never a panic.
        let mut t = net("192.0.2.1");
        t.timeout = Some(5);
        let mut c = net("2001:db8::/32");
        c.comment = Some("x".into());
        let p = policy_with(vec![net("10.0.0.0/8"), t, c, net("10.9.0.0/16")]);
        let good = write_elems(&p);
        let mut idx = Vec::new();
        let ix = crate::setindex::build(&p.sets[0], &mut idx).expect("indexable");
        let f = std::env::temp_dir().join(format!("rampart-idx-fuzz-{}", std::process::id()));
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..3000 {
            let mut b = good.clone().into_bytes();
            match round % 3 {
                0 => b.truncate((next() as usize) % b.len()),
                1 => {
                    let i = (next() as usize) % b.len();
                    b[i] = next() as u8;
                }
                _ => {
                    let i = (next() as usize) % b.len();
                    b.insert(i, b"0123456789 ./:{}\n-"[(next() % 18) as usize]);
                }
            }
            if let Ok(text) = std::str::from_utf8(&b) {
                let _ = read_elems(text, 2, None);
                let _ = read_elems(text, 2, Some(1));
            }
            let mut d = idx.clone();
            for _ in 0..4 {
                let i = (next() as usize) % d.len();
                d[i] = next() as u8;
            }
            if round % 7 == 0 {
                d.truncate((next() as usize) % d.len());
            }
            std::fs::write(&f, &d).expect("write");
            if let Ok(Some(s)) =
                crate::setindex::IndexedSet::open(&f, ix.clone(), 0, None, &[], next() % 10)
            {
                let a = u128::from(next() as u32);
                let _ = s.touching(a, a.saturating_add(u128::from(next() % 4096)));
                let _ = s.exact(&net("198.51.100.7").parts);
                let _ = s.first(&[]);
                let _ = s.witness(true, &[]);
                let _ = s.count();
            }
        }
        let _ = std::fs::remove_file(&f);
    }
}
