//! Tailing log files: complete lines from many files, woken by inotify,
//! through rotation.
//!
//! A [`Tailer`] follows a list of [`Source`]s — a path, or a path whose
//! last component is a glob (`/var/log/nginx/*access.log`) — and hands out
//! complete lines (the bytes up to `\n`, without it and without a `\r`
//! before it), each tagged with the index of the source it came from.
//! [`Tailer::wait`] blocks on one inotify descriptor (also available with
//! [`AsFd`] for a run loop that polls several), so a written line is seen
//! within microseconds; [`Tailer::read`] then reads what is new.
//!
//! What it promises, for each file a source matches:
//!
//! - **Rename + create** (logrotate's default): the old file stays open;
//!   its rest is read before the new file, and lines the writer still
//!   appends to it before it reopens are read too. A rotated-away file is
//!   closed once it has not grown for [`Options::rotation_grace`]. The new
//!   file is read from its start, whenever it appears.
//! - **copytruncate**: a file that became shorter than the position read,
//!   or whose last 128 bytes before that position changed (truncated and
//!   already written past it), is read again from its start. (Lines written between the copy and the
//!   truncation are lost for every reader; that is copytruncate's own
//!   race.)
//! - **A file that does not exist yet** is picked up when it appears (its
//!   directory, or the nearest existing ancestor, is watched). A deleted
//!   file is read to its end through the open descriptor.
//!   A file created and renamed away again between two reads is still
//!   found when the rename stays in the watched directory (inotify's
//!   rename pair names where it went); one created and deleted between two
//!   reads is lost.
//! - **Globs** in the last path component: new matching files are read
//!   from their start. A file is known by its device and inode, so one
//!   renamed to another matching name is not read twice.
//! - **Bounded memory**: a partial last line is kept until its `\n`
//!   arrives, up to [`Options::max_line`] bytes; a longer line is dropped
//!   whole and counted ([`Stats::lines_too_long`]). Each call reads at most
//!   [`Options::read_budget`] bytes per file; [`Tailer::read`] says when
//!   more is waiting.
//!
//! At start, files are read from their end ([`Start::End`], the default:
//! only new lines) or from their start ([`Start::Beginning`]).
//!
//! ```
//! use rampart_daemon::tail::{Lines, Source, Start, Tailer};
//! use std::io::Write;
//! use std::time::Duration;
//!
//! let dir = tempfile::tempdir().expect("a temporary directory");
//! let log = dir.path().join("auth.log");
//! std::fs::write(&log, "old line\n").expect("written");
//!
//! let mut tailer = Tailer::new(vec![Source::new(&log, 7, Start::End)]).expect("watching");
//! let mut file = std::fs::OpenOptions::new().append(true).open(&log).expect("opened");
//! file.write_all(b"Failed password for root from 192.0.2.1\n").expect("written");
//!
//! let mut lines = Lines::new();
//! while lines.is_empty() {
//!     tailer.wait(Duration::from_secs(5)).expect("waited");
//!     tailer.read(&mut lines).expect("read");
//! }
//! let got: Vec<(usize, &[u8])> = lines.iter().collect();
//! assert_eq!(got, vec![(7, &b"Failed password for root from 192.0.2.1"[..])]);
//! ```

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};

/// Where reading a file that exists at start begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Start {
    /// At its end: only lines written from now on (fail2ban's default).
    #[default]
    End,
    /// At its start: the whole file is read (a scan), then new lines.
    Beginning,
}

/// One log source: a path (its last component may be a glob) and the
/// index its lines are tagged with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    pub index: usize,
    pub start: Start,
}

impl Source {
    pub fn new(path: impl Into<PathBuf>, index: usize, start: Start) -> Source {
        Source {
            path: path.into(),
            index,
            start,
        }
    }
}

/// Tuning; [`Options::default`] suits a log daemon.
#[derive(Debug, Clone)]
pub struct Options {
    /// Longest line kept, in bytes (without the `\n`); longer lines are
    /// dropped and counted. Default 64 KiB.
    pub max_line: usize,
    /// How long a rotated-away (renamed or deleted) file is kept open
    /// after it last grew, for lines its writer appends before it
    /// reopens. Default 60 s.
    pub rotation_grace: Duration,
    /// Bytes read from one file per [`Tailer::read`] call. Default 1 MiB.
    pub read_budget: usize,
    /// Every this often, [`Tailer::read`] checks every path and file even
    /// without an inotify event (a safety net for lost events and for
    /// directories inotify could not watch). Default 1 s.
    pub full_check: Duration,
    /// Rotated-away files kept per source at most (the oldest is closed
    /// first). Default 4.
    pub max_detached: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_line: 64 * 1024,
            rotation_grace: Duration::from_secs(60),
            read_budget: 1 << 20,
            full_check: Duration::from_secs(1),
            max_detached: 4,
        }
    }
}

/// Counters since the tailer was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Complete lines handed out.
    pub lines: u64,
    /// Bytes read from files.
    pub bytes: u64,
    /// Lines longer than [`Options::max_line`], dropped.
    pub lines_too_long: u64,
    /// Files opened (at start and later).
    pub files_opened: u64,
    /// Files that left their path (renamed away or deleted) while open.
    pub rotations: u64,
    /// Files found shorter than the position read (copytruncate).
    pub truncations: u64,
    /// Rotated-away files closed.
    pub files_closed: u64,
    /// inotify queue overflows (recovered with a full check).
    pub overflows: u64,
}

/// Errors of the tailer. Problems with one file (unreadable, a
/// directory) do not stop the others: [`Tailer::take_problems`] returns
/// them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TailError {
    /// The source path is not usable (glob in a directory component, bad
    /// glob syntax, no file name).
    #[error("{path}: {message}")]
    Pattern { path: PathBuf, message: String },
    /// A file or directory could not be opened, read or watched.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// The inotify descriptor itself failed.
    #[error("inotify: {0}")]
    Inotify(io::Error),
}

/// Complete lines from one or more [`Tailer::read`] calls, in one flat
/// buffer (no allocation per line).
#[derive(Debug, Clone, Default)]
pub struct Lines {
    data: Vec<u8>,
    /// (source index, end offset in `data`) per line.
    ends: Vec<(usize, usize)>,
}

impl Lines {
    pub fn new() -> Lines {
        Lines::default()
    }

    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Appends one line (used by the tailer; handy in tests).
    pub fn push(&mut self, source: usize, line: &[u8]) {
        self.data.extend_from_slice(line);
        self.ends.push((source, self.data.len()));
    }

    /// The lines in the order read: (source index, bytes without `\n`).
    pub fn iter(&self) -> impl Iterator<Item = (usize, &[u8])> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&(source, end)| {
            let line = &self.data[start..end];
            start = end;
            (source, line)
        })
    }
}

/// Follows many log files; see the module documentation.
#[derive(Debug)]
pub struct Tailer {
    inotify: OwnedFd,
    options: Options,
    sources: Vec<SourceState>,
    /// File watch descriptor → (source position, file identity).
    file_wds: HashMap<i32, Vec<(usize, FileId)>>,
    /// Directory (or ancestor) watch descriptor → source positions.
    dir_wds: HashMap<i32, Vec<usize>>,
    stats: Stats,
    problems: Vec<TailError>,
    last_full: Instant,
    full_due: bool,
    backlog: bool,
    scratch: Vec<u8>,
    events: Vec<MaybeUninit<u8>>,
}

type FileId = (u64, u64);

#[derive(Debug)]
struct SourceState {
    spec: Source,
    dir: PathBuf,
    name: Name,
    /// Watch on `dir` (or, while it is missing, on an ancestor).
    dir_wd: Option<i32>,
    watching_ancestor: bool,
    rescan: bool,
    /// Oldest first: a rotated-away file is read before its successor.
    files: Vec<Tracked>,
    /// Paths whose last open failed, with the error text (reported once).
    failing: HashMap<PathBuf, String>,
}

#[derive(Debug)]
enum Name {
    Literal(OsString),
    Glob(glob::Pattern),
}

impl Name {
    fn matches(&self, name: &OsStr) -> bool {
        match self {
            Name::Literal(n) => n == name,
            Name::Glob(p) => name.to_str().is_some_and(|s| p.matches(s)),
        }
    }
}

#[derive(Debug)]
struct Tracked {
    file: File,
    id: FileId,
    /// The matching path it is at; `None` once renamed away or deleted.
    path: Option<PathBuf>,
    offset: u64,
    pending: Vec<u8>,
    /// The last bytes read (up to [`FINGERPRINT`]), ending at `offset`:
    /// if they changed, the file was truncated and written again.
    fingerprint: Vec<u8>,
    /// In the middle of an overlong line: drop bytes up to the next `\n`.
    discarding: bool,
    dirty: bool,
    wd: Option<i32>,
    last_growth: Instant,
}

const FILE_MASK: WatchFlags = WatchFlags::MODIFY;

/// Bytes before the read position compared to notice a copytruncate the
/// writer has already written past.
const FINGERPRINT: usize = 128;

impl Tailer {
    /// Opens the sources with [`Options::default`].
    pub fn new(sources: Vec<Source>) -> Result<Tailer, TailError> {
        Tailer::with_options(sources, Options::default())
    }

    /// Opens the sources: files that exist are positioned as their
    /// [`Start`] says, the others are waited for. Only a bad pattern or a
    /// failing inotify is an error; unreadable files are reported by
    /// [`Tailer::take_problems`].
    pub fn with_options(sources: Vec<Source>, options: Options) -> Result<Tailer, TailError> {
        let inotify = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)
            .map_err(|e| TailError::Inotify(e.into()))?;
        let mut states = Vec::with_capacity(sources.len());
        for spec in sources {
            states.push(SourceState::new(spec)?);
        }
        let mut tailer = Tailer {
            inotify,
            options,
            sources: states,
            file_wds: HashMap::new(),
            dir_wds: HashMap::new(),
            stats: Stats::default(),
            problems: Vec::new(),
            last_full: Instant::now(),
            full_due: false,
            backlog: false,
            scratch: vec![0; 64 * 1024],
            events: vec![MaybeUninit::uninit(); 16 * 1024],
        };
        for s in 0..tailer.sources.len() {
            tailer.rescan(s, true);
        }
        Ok(tailer)
    }

    /// Blocks until inotify reports something or `timeout` passes;
    /// returns at once when a previous [`Tailer::read`] left data
    /// unread. Returns whether there is something to read. Call
    /// [`Tailer::read`] after every wait, whatever it returned: it also
    /// runs the periodic full check.
    pub fn wait(&mut self, timeout: Duration) -> Result<bool, TailError> {
        if self.backlog || self.full_due {
            return Ok(true);
        }
        let ts = Timespec {
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: timeout.subsec_nanos().into(),
        };
        let mut fds = [PollFd::new(&self.inotify, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(n) => Ok(n > 0),
            Err(rustix::io::Errno::INTR) => Ok(false),
            Err(e) => Err(TailError::Inotify(e.into())),
        }
    }

    /// Appends the complete lines that are new since the last call to
    /// `out`, in file order (a rotated-away file's rest before its
    /// successor). Returns `true` when the read budget stopped it before
    /// the end of some file (call again; [`Tailer::wait`] returns at once).
    pub fn read(&mut self, out: &mut Lines) -> Result<bool, TailError> {
        self.drain_events()?;
        let now = Instant::now();
        let full = self.full_due || now.duration_since(self.last_full) >= self.options.full_check;
        if full {
            self.full_due = false;
            self.last_full = now;
        }
        for s in 0..self.sources.len() {
            if full || self.sources[s].rescan {
                self.rescan(s, false);
            }
        }
        let mut more = false;
        for s in 0..self.sources.len() {
            more |= self.read_source(s, full, out);
        }
        self.backlog = more;
        Ok(more)
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Problems met since the last call (a file that cannot be opened is
    /// reported once until it changes).
    pub fn take_problems(&mut self) -> Vec<TailError> {
        std::mem::take(&mut self.problems)
    }

    /// The files currently open, with their source index, path (`None`
    /// for a rotated-away file) and the byte position read.
    pub fn files(&self) -> Vec<(usize, Option<&Path>, u64)> {
        self.sources
            .iter()
            .flat_map(|s| {
                s.files
                    .iter()
                    .map(|f| (s.spec.index, f.path.as_deref(), f.offset))
            })
            .collect()
    }

    fn drain_events(&mut self) -> Result<(), TailError> {
        // A file renamed away from a source's path before it was ever
        // opened (created and rotated between two reads): the
        // MOVED_FROM/MOVED_TO pair names where it went.
        let mut moved_from: HashMap<u32, Vec<usize>> = HashMap::new();
        let mut missed: Vec<(usize, PathBuf)> = Vec::new();
        let mut reader = inotify::Reader::new(&self.inotify, &mut self.events);
        loop {
            let event = match reader.next() {
                Ok(event) => event,
                Err(rustix::io::Errno::AGAIN) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(TailError::Inotify(e.into())),
            };
            let flags = event.events();
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                self.stats.overflows += 1;
                self.full_due = true;
                continue;
            }
            let wd = event.wd();
            if let Some(files) = self.file_wds.get(&wd) {
                for &(s, id) in files {
                    if let Some(f) = self.sources[s].files.iter_mut().find(|f| f.id == id) {
                        f.dirty = true;
                    }
                }
            }
            if let Some(sources) = self.dir_wds.get(&wd) {
                for &s in sources {
                    let state = &mut self.sources[s];
                    let relevant = state.watching_ancestor
                        || flags.intersects(
                            ReadFlags::DELETE_SELF | ReadFlags::MOVE_SELF | ReadFlags::IGNORED,
                        )
                        || event
                            .file_name()
                            .is_none_or(|n| state.name.matches(OsStr::from_bytes(n.to_bytes())));
                    if relevant {
                        state.rescan = true;
                    }
                    if let Some(name) = event.file_name() {
                        let name = OsStr::from_bytes(name.to_bytes());
                        if flags.contains(ReadFlags::MOVED_FROM) && state.name.matches(name) {
                            moved_from.entry(event.cookie()).or_default().push(s);
                        } else if flags.contains(ReadFlags::MOVED_TO) {
                            if let Some(sources) = moved_from.get(&event.cookie()) {
                                if sources.contains(&s) {
                                    missed.push((s, state.dir.join(name)));
                                }
                            }
                        }
                    }
                    if flags.intersects(
                        ReadFlags::DELETE_SELF | ReadFlags::MOVE_SELF | ReadFlags::IGNORED,
                    ) {
                        // The directory is gone or moved: watch again from scratch.
                        state.dir_wd = None;
                    }
                }
            }
        }
        for (s, path) in missed {
            let known = std::fs::metadata(&path)
                .map(|m| {
                    self.sources[s]
                        .files
                        .iter()
                        .any(|f| f.id == (m.dev(), m.ino()))
                })
                .unwrap_or(true);
            if !known {
                // Read from its start; the rescan detaches it unless its
                // new name matches too.
                if self.open(s, &path, false).is_ok() {
                    self.sources[s].rescan = true;
                }
            }
        }
        Ok(())
    }

    /// Matches the source's paths against the files open: new files are
    /// opened, files no longer at a matching path are detached.
    fn rescan(&mut self, s: usize, initial: bool) {
        self.sources[s].rescan = false;
        self.watch_dir(s);
        let state = &self.sources[s];
        let mut candidates = Vec::new();
        match &state.name {
            Name::Literal(name) => candidates.push(state.dir.join(name)),
            Name::Glob(pattern) => {
                if let Ok(entries) = std::fs::read_dir(&state.dir) {
                    for entry in entries.flatten() {
                        if entry
                            .file_name()
                            .to_str()
                            .is_some_and(|n| pattern.matches(n))
                        {
                            candidates.push(entry.path());
                        }
                    }
                    candidates.sort();
                }
            }
        }
        let mut seen: HashSet<FileId> = HashSet::new();
        for path in candidates {
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    self.report(s, &path, e);
                    continue;
                }
            };
            if !meta.is_file() {
                continue;
            }
            let id = (meta.dev(), meta.ino());
            if let Some(f) = self.sources[s].files.iter_mut().find(|f| f.id == id) {
                if f.path.as_deref() != Some(path.as_path()) {
                    f.path = Some(path);
                    f.dirty = true;
                }
                seen.insert(id);
                continue;
            }
            match self.open(s, &path, initial) {
                Ok(id) => {
                    seen.insert(id);
                }
                Err(e) => self.report(s, &path, e),
            }
        }
        let now = Instant::now();
        for f in &mut self.sources[s].files {
            if f.path.is_some() && !seen.contains(&f.id) {
                f.path = None;
                f.dirty = true;
                f.last_growth = now;
                self.stats.rotations += 1;
            }
        }
    }

    fn report(&mut self, s: usize, path: &Path, e: io::Error) {
        let text = e.to_string();
        let failing = &mut self.sources[s].failing;
        if failing.get(path) != Some(&text) {
            failing.insert(path.to_path_buf(), text);
            self.problems.push(TailError::Io {
                path: path.to_path_buf(),
                source: e,
            });
        }
    }

    fn open(&mut self, s: usize, path: &Path, initial: bool) -> io::Result<FileId> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let id = (meta.dev(), meta.ino());
        if let Some(f) = self.sources[s].files.iter_mut().find(|f| f.id == id) {
            // Replaced between stat and open by a file already open.
            f.path = Some(path.to_path_buf());
            return Ok(id);
        }
        let mut offset = 0;
        let mut discarding = false;
        let mut fingerprint = Vec::new();
        if initial && self.sources[s].spec.start == Start::End && meta.len() > 0 {
            offset = meta.len();
            let keep = offset.min(FINGERPRINT as u64);
            file.seek(SeekFrom::Start(offset - keep))?;
            fingerprint = vec![0; keep as usize];
            file.read_exact(&mut fingerprint)?;
            // Starting inside a line: skip its rest rather than hand out a fragment.
            discarding = fingerprint.last() != Some(&b'\n');
        }
        // Watch the open file itself, not whatever is at the path now.
        let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
        let wd = match inotify::add_watch(&self.inotify, proc_path.as_str(), FILE_MASK) {
            Ok(wd) => {
                self.file_wds.entry(wd).or_default().push((s, id));
                Some(wd)
            }
            Err(e) => {
                // Still read, on the periodic full check.
                self.problems.push(TailError::Io {
                    path: path.to_path_buf(),
                    source: e.into(),
                });
                None
            }
        };
        self.sources[s].failing.remove(path);
        self.sources[s].files.push(Tracked {
            file,
            id,
            path: Some(path.to_path_buf()),
            offset,
            pending: Vec::new(),
            fingerprint,
            discarding,
            dirty: true,
            wd,
            last_growth: Instant::now(),
        });
        self.stats.files_opened += 1;
        Ok(id)
    }

    /// Makes sure the source's directory (or its nearest existing
    /// ancestor) is watched.
    fn watch_dir(&mut self, s: usize) {
        let state = &self.sources[s];
        if state.dir_wd.is_some() && !state.watching_ancestor {
            return;
        }
        let dir_mask = WatchFlags::CREATE
            | WatchFlags::MOVED_TO
            | WatchFlags::MOVED_FROM
            | WatchFlags::DELETE
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
            | WatchFlags::ONLYDIR;
        let mut target = state.dir.clone();
        let mut ancestor = false;
        let wd = loop {
            match inotify::add_watch(&self.inotify, target.as_path(), dir_mask) {
                Ok(wd) => break Some(wd),
                Err(_) => {
                    if !target.pop() {
                        break None;
                    }
                    ancestor = true;
                }
            }
        };
        if let Some(old) = self.sources[s].dir_wd {
            if Some(old) == wd {
                self.sources[s].watching_ancestor = ancestor;
                return;
            }
            self.unlink_dir_wd(old, s);
        }
        self.sources[s].dir_wd = wd;
        self.sources[s].watching_ancestor = ancestor;
        if let Some(wd) = wd {
            let list = self.dir_wds.entry(wd).or_default();
            if !list.contains(&s) {
                list.push(s);
            }
        }
    }

    fn unlink_dir_wd(&mut self, wd: i32, s: usize) {
        if let Some(list) = self.dir_wds.get_mut(&wd) {
            list.retain(|&x| x != s);
            if list.is_empty() {
                self.dir_wds.remove(&wd);
                // An ancestor watch no source needs any more; it may
                // already be gone with its directory.
                let _ = inotify::remove_watch(&self.inotify, wd);
            }
        }
    }

    /// Reads the source's dirty files (all of them on a full check),
    /// oldest first; closes rotated-away files past their grace.
    fn read_source(&mut self, s: usize, full: bool, out: &mut Lines) -> bool {
        let mut more = false;
        let index = self.sources[s].spec.index;
        let now = Instant::now();
        let mut i = 0;
        while i < self.sources[s].files.len() {
            let f = &mut self.sources[s].files[i];
            if full || f.dirty {
                match read_file(
                    f,
                    index,
                    &self.options,
                    &mut self.scratch,
                    &mut self.stats,
                    out,
                ) {
                    Ok(m) => more |= m,
                    Err(e) => {
                        let path = f.path.clone().unwrap_or_default();
                        f.dirty = false;
                        self.problems.push(TailError::Io { path, source: e });
                    }
                }
            }
            let f = &self.sources[s].files[i];
            let detached_count = self.sources[s]
                .files
                .iter()
                .filter(|f| f.path.is_none())
                .count();
            let expired = f.path.is_none()
                && !f.dirty
                && (now.duration_since(f.last_growth) >= self.options.rotation_grace
                    || detached_count > self.options.max_detached);
            if expired {
                let mut f = self.sources[s].files.remove(i);
                if !f.pending.is_empty() && !f.discarding {
                    // The writer will never finish this line.
                    out.push(index, strip_cr(&f.pending));
                    self.stats.lines += 1;
                    f.pending.clear();
                }
                self.close_watch(s, &f);
                self.stats.files_closed += 1;
                continue;
            }
            i += 1;
        }
        more
    }

    fn close_watch(&mut self, s: usize, f: &Tracked) {
        let Some(wd) = f.wd else { return };
        if let Some(list) = self.file_wds.get_mut(&wd) {
            list.retain(|&(src, id)| !(src == s && id == f.id));
            if list.is_empty() {
                self.file_wds.remove(&wd);
                let _ = inotify::remove_watch(&self.inotify, wd);
            }
        }
    }
}

impl AsFd for Tailer {
    /// The inotify descriptor: readable when [`Tailer::read`] has work.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }
}

impl SourceState {
    fn new(spec: Source) -> Result<SourceState, TailError> {
        let bad = |message: &str| TailError::Pattern {
            path: spec.path.clone(),
            message: message.to_string(),
        };
        let file_name = spec
            .path
            .file_name()
            .ok_or_else(|| bad("names no file"))?
            .to_os_string();
        let dir = match spec.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if dir.to_str().is_some_and(has_glob) {
            return Err(bad(
                "wildcards are only supported in the file name, not in directories",
            ));
        }
        let name = match file_name.to_str() {
            Some(n) if has_glob(n) => {
                Name::Glob(glob::Pattern::new(n).map_err(|e| bad(&format!("bad pattern: {e}")))?)
            }
            _ => Name::Literal(file_name),
        };
        Ok(SourceState {
            spec,
            dir,
            name,
            dir_wd: None,
            watching_ancestor: false,
            rescan: false,
            files: Vec::new(),
            failing: HashMap::new(),
        })
    }
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads one file up to its end or the budget; returns whether the
/// budget stopped it.
fn read_file(
    f: &mut Tracked,
    index: usize,
    options: &Options,
    scratch: &mut [u8],
    stats: &mut Stats,
    out: &mut Lines,
) -> io::Result<bool> {
    let mut budget = options.read_budget;
    if !f.fingerprint.is_empty() && !same_fingerprint(f)? {
        restart(f, stats)?;
    }
    loop {
        if budget == 0 {
            return Ok(true);
        }
        let want = budget.min(scratch.len());
        let n = match f.file.read(&mut scratch[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            let len = f.file.metadata()?.len();
            if len < f.offset {
                restart(f, stats)?;
                continue;
            }
            f.dirty = false;
            return Ok(false);
        }
        budget -= n;
        f.offset += n as u64;
        f.last_growth = Instant::now();
        stats.bytes += n as u64;
        let chunk = &scratch[..n];
        if chunk.len() >= FINGERPRINT {
            f.fingerprint.clear();
            f.fingerprint
                .extend_from_slice(&chunk[chunk.len() - FINGERPRINT..]);
        } else {
            f.fingerprint.extend_from_slice(chunk);
            let excess = f.fingerprint.len().saturating_sub(FINGERPRINT);
            f.fingerprint.drain(..excess);
        }
        split_lines(f, &scratch[..n], index, options.max_line, stats, out);
    }
}

/// Whether the bytes before the read position are still those read.
fn same_fingerprint(f: &Tracked) -> io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let len = f.fingerprint.len();
    let mut now = [0u8; FINGERPRINT];
    let mut got = 0;
    while got < len {
        match f
            .file
            .read_at(&mut now[got..len], f.offset - len as u64 + got as u64)
        {
            Ok(0) => return Ok(false),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(now[..len] == f.fingerprint[..])
}

/// copytruncate: the file starts again.
fn restart(f: &mut Tracked, stats: &mut Stats) -> io::Result<()> {
    f.file.seek(SeekFrom::Start(0))?;
    f.offset = 0;
    f.pending.clear();
    f.fingerprint.clear();
    f.discarding = false;
    stats.truncations += 1;
    Ok(())
}

fn split_lines(
    f: &mut Tracked,
    mut data: &[u8],
    index: usize,
    max: usize,
    stats: &mut Stats,
    out: &mut Lines,
) {
    while let Some(nl) = memchr::memchr(b'\n', data) {
        let piece = &data[..nl];
        data = &data[nl + 1..];
        if f.discarding {
            f.discarding = false;
            continue;
        }
        if f.pending.is_empty() {
            let line = strip_cr(piece);
            if line.len() > max {
                stats.lines_too_long += 1;
            } else {
                out.push(index, line);
                stats.lines += 1;
            }
        } else if f.pending.len() + piece.len() > max + 1 {
            f.pending.clear();
            stats.lines_too_long += 1;
        } else {
            f.pending.extend_from_slice(piece);
            let line = strip_cr(&f.pending);
            if line.len() > max {
                stats.lines_too_long += 1;
            } else {
                out.push(index, line);
                stats.lines += 1;
            }
            f.pending.clear();
        }
    }
    if f.discarding || data.is_empty() {
        return;
    }
    // `max + 1`: room for a `\r` that comes off with the `\n`.
    if f.pending.len() + data.len() > max + 1 {
        f.pending.clear();
        f.discarding = true;
        stats.lines_too_long += 1;
    } else {
        f.pending.extend_from_slice(data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked() -> Tracked {
        Tracked {
            file: File::open("/dev/null").expect("/dev/null"),
            id: (0, 0),
            path: None,
            offset: 0,
            pending: Vec::new(),
            fingerprint: Vec::new(),
            discarding: false,
            dirty: false,
            wd: None,
            last_growth: Instant::now(),
        }
    }

    fn lines(out: &Lines) -> Vec<String> {
        out.iter()
            .map(|(_, l)| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    #[test]
    fn split_keeps_partial_lines_and_strips_cr() {
        let mut f = tracked();
        let mut stats = Stats::default();
        let mut out = Lines::new();
        split_lines(&mut f, b"one\r\ntw", 0, 10, &mut stats, &mut out);
        assert_eq!(lines(&out), ["one"]);
        split_lines(&mut f, b"o\nthree", 0, 10, &mut stats, &mut out);
        assert_eq!(lines(&out), ["one", "two"]);
        assert_eq!(f.pending, b"three");
    }

    #[test]
    fn overlong_lines_are_dropped_and_counted_in_any_split() {
        let data = b"short\n0123456789ABC\nok\n0123456789\nend\n";
        for cut in 0..=data.len() {
            let mut f = tracked();
            let mut stats = Stats::default();
            let mut out = Lines::new();
            split_lines(&mut f, &data[..cut], 0, 10, &mut stats, &mut out);
            split_lines(&mut f, &data[cut..], 0, 10, &mut stats, &mut out);
            assert_eq!(
                lines(&out),
                ["short", "ok", "0123456789", "end"],
                "cut at {cut}"
            );
            assert_eq!(stats.lines_too_long, 1, "cut at {cut}");
            assert!(f.pending.is_empty());
        }
    }

    #[test]
    fn pending_never_exceeds_the_bound() {
        let mut f = tracked();
        let mut stats = Stats::default();
        let mut out = Lines::new();
        for _ in 0..1000 {
            split_lines(&mut f, &[b'x'; 100], 0, 1000, &mut stats, &mut out);
            assert!(f.pending.len() <= 1001);
        }
        split_lines(&mut f, b"\nafter\n", 0, 1000, &mut stats, &mut out);
        assert_eq!(lines(&out), ["after"]);
        assert_eq!(stats.lines_too_long, 1);
    }

    #[test]
    fn globs_only_in_the_file_name() {
        assert!(SourceState::new(Source::new("/var/log/*/x.log", 0, Start::End)).is_err());
        assert!(SourceState::new(Source::new("/var/log/[x.log", 0, Start::End)).is_err());
        assert!(SourceState::new(Source::new("/", 0, Start::End)).is_err());
        let s = SourceState::new(Source::new("/var/log/nginx/*access.log", 0, Start::End))
            .expect("glob");
        assert!(s.name.matches(std::ffi::OsStr::new("site-access.log")));
        assert!(!s.name.matches(std::ffi::OsStr::new("site-access.log.1")));
    }
}
