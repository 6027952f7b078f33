//! Where the run loop gets its log lines: the [`LineSource`] trait (complete
//! lines, each with the index of the source it came from and, for journal
//! entries, their time; a blocking wait with a timeout). [`Sources`] is
//! what the daemon reads: log files through [`crate::tail::Tailer`]
//! (inotify, rotation) and journal jails through [`crate::journal`].
//! [`PollFiles`] is a small follower that polls files for growth (tests,
//! and a fallback).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Longest line kept; longer lines are cut into pieces of this size and
/// counted (the filters skip lines over 64 KiB anyway).
pub const MAX_LINE: usize = 64 * 1024;

/// One complete line (without its newline) from source `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub source: usize,
    pub bytes: Vec<u8>,
    /// Microseconds since the epoch, when the source says (journal).
    pub time_us: Option<u64>,
}

/// A supplier of log lines.
pub trait LineSource {
    /// The lines that arrived, waiting at most `timeout` for the first.
    /// An empty vector when none came in time.
    fn wait(&mut self, timeout: Duration) -> std::io::Result<Vec<Line>>;
}

/// One followed file.
#[derive(Debug)]
struct Followed {
    path: PathBuf,
    file: Option<File>,
    /// Inode and device of the open file (to see a rename+create).
    id: (u64, u64),
    offset: u64,
    partial: Vec<u8>,
}

/// Follows files by polling their size every few milliseconds: reads
/// what was appended, reopens a file replaced by a new one (rename and
/// create), starts over when one shrank (copytruncate). Starts at the end
/// of each file unless `from_start`.
#[derive(Debug)]
pub struct PollFiles {
    files: Vec<Followed>,
    interval: Duration,
}

fn file_id(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

impl PollFiles {
    /// Follows `paths` (their index is the line's `source`). A missing
    /// file is waited for.
    pub fn open(paths: &[PathBuf], from_start: bool) -> PollFiles {
        let files = paths
            .iter()
            .map(|p| {
                let mut f = Followed {
                    path: p.clone(),
                    file: None,
                    id: (0, 0),
                    offset: 0,
                    partial: Vec::new(),
                };
                f.reopen(!from_start);
                f
            })
            .collect();
        PollFiles {
            files,
            interval: Duration::from_millis(2),
        }
    }

    fn poll_once(&mut self, out: &mut Vec<Line>) -> std::io::Result<()> {
        for (i, f) in self.files.iter_mut().enumerate() {
            f.read_new(i, out)?;
        }
        Ok(())
    }
}

impl Followed {
    fn reopen(&mut self, at_end: bool) {
        self.file = None;
        self.partial.clear();
        if let Ok(file) = File::open(&self.path) {
            if let Ok(m) = file.metadata() {
                self.id = file_id(&m);
                self.offset = if at_end { m.len() } else { 0 };
                self.file = Some(file);
            }
        }
    }

    fn read_new(&mut self, source: usize, out: &mut Vec<Line>) -> std::io::Result<()> {
        // Replaced (rename + create) or appeared: read the rest of the old
        // file first, then the new one from its start.
        let on_disk = std::fs::metadata(&self.path).ok();
        let replaced = match (&self.file, &on_disk) {
            (None, Some(_)) => true,
            (Some(_), Some(m)) => file_id(m) != self.id,
            _ => false,
        };
        if self.file.is_some() {
            self.drain(source, out)?;
        }
        if replaced {
            self.reopen(false);
            self.drain(source, out)?;
        }
        Ok(())
    }

    fn drain(&mut self, source: usize, out: &mut Vec<Line>) -> std::io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // copytruncate: the file starts over.
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset {
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::with_capacity((len - self.offset).min(1 << 24) as usize);
        let n = file.take(len - self.offset).read_to_end(&mut buf)?;
        self.offset += n as u64;
        let mut start = 0;
        for (i, b) in buf.iter().enumerate() {
            if *b == b'\n' {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&buf[start..i]);
                out.push(Line {
                    source,
                    bytes: line,
                    time_us: None,
                });
                start = i + 1;
            }
        }
        self.partial.extend_from_slice(&buf[start..]);
        while self.partial.len() > MAX_LINE {
            let rest = self.partial.split_off(MAX_LINE);
            out.push(Line {
                source,
                bytes: std::mem::replace(&mut self.partial, rest),
                time_us: None,
            });
        }
        Ok(())
    }
}

impl LineSource for PollFiles {
    fn wait(&mut self, timeout: Duration) -> std::io::Result<Vec<Line>> {
        let end = Instant::now() + timeout;
        let mut out = Vec::new();
        loop {
            self.poll_once(&mut out)?;
            if !out.is_empty() || Instant::now() >= end {
                return Ok(out);
            }
            std::thread::sleep(
                self.interval
                    .min(end.saturating_duration_since(Instant::now())),
            );
        }
    }
}

/// The daemon's sources: files (globs allowed) followed with inotify,
/// and journal jails through `journalctl`.
pub struct Sources {
    tail: Option<crate::tail::Tailer>,
    journals: Vec<crate::journal::Journal>,
    lines: crate::tail::Lines,
    entries: Vec<(usize, crate::journal::Entry)>,
}

impl Sources {
    /// `files`: (path or glob, source index); `journals`: (journalmatch,
    /// source index).
    pub fn open(
        files: &[(PathBuf, usize)],
        journals: &[(String, usize)],
        from_start: bool,
    ) -> Result<Sources, String> {
        use crate::tail::{Source, Start, Tailer};
        let start = if from_start {
            Start::Beginning
        } else {
            Start::End
        };
        let tail = if files.is_empty() {
            None
        } else {
            Some(
                Tailer::new(
                    files
                        .iter()
                        .map(|(p, i)| Source::new(p.clone(), *i, start))
                        .collect(),
                )
                .map_err(|e| e.to_string())?,
            )
        };
        let mut js = Vec::new();
        for (m, i) in journals {
            let mut src = crate::journal::JournalSource::new(*i, m.clone());
            src.start = start;
            js.push(crate::journal::Journal::start(src, None).map_err(|e| e.to_string())?);
        }
        Ok(Sources {
            tail,
            journals: js,
            lines: crate::tail::Lines::new(),
            entries: Vec::new(),
        })
    }
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("files", &self.tail.is_some())
            .field("journals", &self.journals.len())
            .finish()
    }
}

impl LineSource for Sources {
    fn wait(&mut self, timeout: Duration) -> std::io::Result<Vec<Line>> {
        let io = |e: String| std::io::Error::other(e);
        let mut out = Vec::new();
        // With journals too, the file wait is cut short to look at them.
        let file_wait = if self.journals.is_empty() {
            timeout
        } else {
            timeout.min(Duration::from_millis(5))
        };
        match self.tail.as_mut() {
            Some(t) => {
                t.wait(file_wait).map_err(|e| io(e.to_string()))?;
                self.lines.clear();
                t.read(&mut self.lines).map_err(|e| io(e.to_string()))?;
                for p in t.take_problems() {
                    eprintln!("rampart-guard: {p}");
                }
                out.extend(self.lines.iter().map(|(source, b)| Line {
                    source,
                    bytes: b.to_vec(),
                    time_us: None,
                }));
            }
            None if self.journals.is_empty() => std::thread::sleep(timeout),
            None => {}
        }
        for j in &mut self.journals {
            if j.wait(Duration::ZERO).map_err(|e| io(e.to_string()))? {
                self.entries.clear();
                if let Err(e) = j.read(&mut self.entries) {
                    eprintln!("rampart-guard: {e}");
                }
                out.extend(self.entries.drain(..).map(|(source, e)| Line {
                    source,
                    bytes: e.line.into_bytes(),
                    time_us: e.time_us,
                }));
            }
        }
        if out.is_empty() && self.tail.is_none() && !self.journals.is_empty() {
            std::thread::sleep(timeout.min(Duration::from_millis(5)));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn appended_rotated_and_truncated_lines_are_read_once() {
        let dir = std::env::temp_dir().join(format!("rampart-poll-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("a.log");
        std::fs::write(&p, "old line\n").expect("write");
        let mut src = PollFiles::open(std::slice::from_ref(&p), true);
        let got = src.wait(Duration::from_millis(50)).expect("wait");
        assert_eq!(got[0].bytes, b"old line");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .expect("open");
        f.write_all(b"one\ntw").expect("write");
        let got = src.wait(Duration::from_millis(50)).expect("wait");
        assert_eq!(got.len(), 1);
        f.write_all(b"o\n").expect("write");
        let got = src.wait(Duration::from_millis(50)).expect("wait");
        assert_eq!(got[0].bytes, b"two");
        // rename + create
        f.write_all(b"last of old\n").expect("write");
        std::fs::rename(&p, dir.join("a.log.1")).expect("rename");
        std::fs::write(&p, "first of new\n").expect("write");
        let got = src.wait(Duration::from_millis(50)).expect("wait");
        let texts: Vec<&[u8]> = got.iter().map(|l| l.bytes.as_slice()).collect();
        assert_eq!(texts, [&b"last of old"[..], b"first of new"]);
        // copytruncate
        std::fs::write(&p, "").expect("truncate");
        assert!(src
            .wait(Duration::from_millis(10))
            .expect("wait")
            .is_empty());
        std::fs::write(&p, "after\n").expect("write");
        let got = src.wait(Duration::from_millis(50)).expect("wait");
        assert_eq!(got[0].bytes, b"after");
        std::fs::remove_dir_all(&dir).ok();
    }
}
