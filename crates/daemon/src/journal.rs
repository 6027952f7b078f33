//! The systemd journal as a log source, through `journalctl`.
//!
//! rampart does not link libsystemd (its Rust bindings are LGPL): a
//! [`Journal`] runs `journalctl --follow --output=json --all` with the
//! jail's `journalmatch` (the same syntax: `FIELD=value` terms, `+` for
//! "or"), reads one JSON object per line from its standard output and
//! renders each entry the way fail2ban's systemd backend does, so
//! fail2ban filters match unchanged:
//!
//! `HOSTNAME IDENT[PID]: MESSAGE` — `IDENT` is `SYSLOG_IDENTIFIER` (else
//! `_COMM`), `PID` is `SYSLOG_PID` (else `_PID`); kernel messages get
//! `[monotonic seconds]` after `kernel:`; newlines in the message become
//! `\n`. The entry's time (`_SOURCE_REALTIME_TIMESTAMP`, else
//! `__REALTIME_TIMESTAMP`) comes with it, since the line has none.
//!
//! Each entry's `__CURSOR` is remembered ([`Journal::cursor`]); starting
//! again with it (`--after-cursor`) resumes after the last entry read, so
//! a restarted daemon neither misses nor repeats entries.
//!
//! ```
//! use rampart_daemon::journal::parse_entry;
//!
//! let entry = parse_entry(br#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1700000000123456",
//!     "_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"sshd","_PID":"812",
//!     "MESSAGE":"Failed password for root from 192.0.2.7 port 4242 ssh2"}"#).expect("an entry");
//! assert_eq!(entry.line, "web1 sshd[812]: Failed password for root from 192.0.2.7 port 4242 ssh2");
//! assert_eq!(entry.time_us, Some(1_700_000_000_123_456));
//! assert_eq!(entry.cursor.as_deref(), Some("s=1;i=2"));
//! ```

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use serde_json::Value;

use crate::tail::Start;

/// One journal source: the `journalmatch` terms of a jail and the index
/// its entries are tagged with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalSource {
    pub index: usize,
    /// fail2ban's `journalmatch`: `_SYSTEMD_UNIT=sshd.service + _COMM=sshd`.
    pub journalmatch: String,
    /// Without a cursor: only new entries ([`Start::End`]) or the whole
    /// journal matching ([`Start::Beginning`]).
    pub start: Start,
    /// The program to run; `journalctl` (found on `PATH`) by default.
    pub program: Option<PathBuf>,
}

impl JournalSource {
    pub fn new(index: usize, journalmatch: impl Into<String>) -> JournalSource {
        JournalSource {
            index,
            journalmatch: journalmatch.into(),
            start: Start::End,
            program: None,
        }
    }
}

/// One journal entry as a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Rendered as fail2ban's systemd backend renders it.
    pub line: String,
    /// Microseconds since the epoch, when the entry has a time.
    pub time_us: Option<u64>,
    /// Where the entry is, for `--after-cursor`.
    pub cursor: Option<String>,
}

/// A journal line that is not an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journal entry: {message}")]
pub struct JournalParseError {
    pub message: String,
}

/// Errors of the journal source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// `journalctl` is not installed: no journal can be read.
    #[error("{program}: not found; the systemd journal cannot be read without journalctl (install systemd, or tail log files instead)")]
    NotFound { program: String },
    #[error("{program}: {source}")]
    Spawn { program: String, source: io::Error },
    /// The process ended; what it printed on stderr is kept.
    #[error("{program} exited ({status}){}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    Exited {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("reading from {program}: {source}")]
    Io { program: String, source: io::Error },
}

/// Counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalStats {
    pub entries: u64,
    /// Lines that were not JSON entries (counted, skipped).
    pub bad_lines: u64,
    /// Lines over the bound (1 MiB), skipped.
    pub lines_too_long: u64,
}

/// Longest JSON line kept.
const MAX_JSON_LINE: usize = 1 << 20;

/// A running `journalctl --follow`; see the module documentation.
#[derive(Debug)]
pub struct Journal {
    source: JournalSource,
    program: String,
    child: Child,
    stdout: ChildStdout,
    stderr: ChildStderr,
    buf: Vec<u8>,
    discarding: bool,
    stderr_text: Vec<u8>,
    cursor: Option<String>,
    stats: JournalStats,
    eof: bool,
}

impl Journal {
    /// Starts `journalctl` for the source; with a cursor, after that
    /// entry (a restart resumes there).
    pub fn start(source: JournalSource, cursor: Option<&str>) -> Result<Journal, JournalError> {
        let program_path = source
            .program
            .clone()
            .unwrap_or_else(|| PathBuf::from("journalctl"));
        let program = program_path.display().to_string();
        let mut command = Command::new(&program_path);
        command.args(journalctl_args(&source, cursor));
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                JournalError::NotFound {
                    program: program.clone(),
                }
            } else {
                JournalError::Spawn {
                    program: program.clone(),
                    source: e,
                }
            }
        })?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(JournalError::Spawn {
                program,
                source: io::Error::other("no pipes"),
            });
        };
        for fd in [stdout.as_fd(), stderr.as_fd()] {
            let flags = rustix::fs::fcntl_getfl(fd).map_err(|e| JournalError::Io {
                program: program.clone(),
                source: e.into(),
            })?;
            rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK).map_err(|e| {
                JournalError::Io {
                    program: program.clone(),
                    source: e.into(),
                }
            })?;
        }
        Ok(Journal {
            source,
            program,
            child,
            stdout,
            stderr,
            buf: Vec::new(),
            discarding: false,
            stderr_text: Vec::new(),
            cursor: cursor.map(str::to_string),
            stats: JournalStats::default(),
            eof: false,
        })
    }

    /// Blocks until `journalctl` wrote something or `timeout` passed.
    pub fn wait(&mut self, timeout: Duration) -> Result<bool, JournalError> {
        if self.eof {
            return Ok(true);
        }
        let ts = Timespec {
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: timeout.subsec_nanos().into(),
        };
        let mut fds = [PollFd::new(&self.stdout, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(n) => Ok(n > 0),
            Err(rustix::io::Errno::INTR) => Ok(false),
            Err(e) => Err(JournalError::Io {
                program: self.program.clone(),
                source: e.into(),
            }),
        }
    }

    /// Appends the entries written since the last call to `out`. When
    /// `journalctl` has ended (after its last entry was handed out),
    /// returns [`JournalError::Exited`] with what it said; start a new
    /// one with [`Journal::cursor`].
    pub fn read(&mut self, out: &mut Vec<(usize, Entry)>) -> Result<(), JournalError> {
        self.drain_stderr();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stdout.read(&mut chunk) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.split(&chunk[..n], out),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(JournalError::Io {
                        program: self.program.clone(),
                        source: e,
                    })
                }
            }
        }
        if self.eof {
            self.drain_stderr();
            let status = match self.child.wait() {
                Ok(status) => describe(status),
                Err(e) => e.to_string(),
            };
            let stderr = String::from_utf8_lossy(&self.stderr_text)
                .trim()
                .to_string();
            return Err(JournalError::Exited {
                program: self.program.clone(),
                status,
                stderr,
            });
        }
        Ok(())
    }

    /// The cursor of the last entry handed out (or the one started with).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    pub fn stats(&self) -> JournalStats {
        self.stats
    }

    pub fn source(&self) -> &JournalSource {
        &self.source
    }

    fn split(&mut self, mut data: &[u8], out: &mut Vec<(usize, Entry)>) {
        while let Some(nl) = memchr::memchr(b'\n', data) {
            let piece = &data[..nl];
            data = &data[nl + 1..];
            if self.discarding {
                self.discarding = false;
                continue;
            }
            if self.buf.len() + piece.len() > MAX_JSON_LINE {
                self.buf.clear();
                self.stats.lines_too_long += 1;
                continue;
            }
            let line = if self.buf.is_empty() {
                piece
            } else {
                self.buf.extend_from_slice(piece);
                &self.buf[..]
            };
            match parse_entry(line) {
                Ok(entry) => {
                    if entry.cursor.is_some() {
                        self.cursor.clone_from(&entry.cursor);
                    }
                    self.stats.entries += 1;
                    out.push((self.source.index, entry));
                }
                Err(_) => self.stats.bad_lines += 1,
            }
            self.buf.clear();
        }
        if self.discarding || data.is_empty() {
            return;
        }
        if self.buf.len() + data.len() > MAX_JSON_LINE {
            self.buf.clear();
            self.discarding = true;
            self.stats.lines_too_long += 1;
        } else {
            self.buf.extend_from_slice(data);
        }
    }

    fn drain_stderr(&mut self) {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stderr.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    self.stderr_text.extend_from_slice(&chunk[..n]);
                    // Keep the last 4 KiB: the end says why it stopped.
                    let excess = self.stderr_text.len().saturating_sub(4096);
                    self.stderr_text.drain(..excess);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
}

impl AsFd for Journal {
    /// `journalctl`'s standard output: readable when entries arrived.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stdout.as_fd()
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => status.to_string(),
    }
}

/// The `journalctl` arguments for a source and an optional cursor.
pub fn journalctl_args(source: &JournalSource, cursor: Option<&str>) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--follow",
        "--output=json",
        "--all",
        "--no-pager",
        "--quiet",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    match cursor {
        Some(cursor) => args.push(format!("--after-cursor={cursor}").into()),
        None => args.push(
            match source.start {
                Start::End => "--lines=0",
                Start::Beginning => "--lines=all",
            }
            .into(),
        ),
    }
    args.extend(source.journalmatch.split_whitespace().map(OsString::from));
    args
}

/// Parses one line of `journalctl --output=json` and renders it as
/// fail2ban's systemd backend does. Never panics on any input.
pub fn parse_entry(line: &[u8]) -> Result<Entry, JournalParseError> {
    let bad = |message: &str| JournalParseError {
        message: message.to_string(),
    };
    let value: Value = serde_json::from_slice(line).map_err(|e| bad(&e.to_string()))?;
    let Value::Object(fields) = value else {
        return Err(bad("not a JSON object"));
    };
    let field = |name: &str| fields.get(name).and_then(values).filter(|v| !v.is_empty());
    let mut parts: Vec<String> = Vec::new();
    if let Some(host) = field("_HOSTNAME") {
        parts.push(host.join(" "));
    }
    let ident = field("SYSLOG_IDENTIFIER").or_else(|| field("_COMM"));
    if let Some(ident) = ident {
        let mut head = ident.join(" ");
        if let Some(pid) = field("SYSLOG_PID").or_else(|| field("_PID")) {
            head.push('[');
            head.push_str(&pid.join(", "));
            head.push(']');
        }
        head.push(':');
        let kernel = head == "kernel:";
        parts.push(head);
        if kernel {
            let mono =
                field("_SOURCE_MONOTONIC_TIMESTAMP").or_else(|| field("__MONOTONIC_TIMESTAMP"));
            if let Some(us) = mono.and_then(|m| m.first().and_then(|v| v.parse::<u64>().ok())) {
                parts.push(format!("[{:12.6}]", us as f64 / 1e6));
            }
        }
    }
    parts.push(field("MESSAGE").map(|m| m.join(" ")).unwrap_or_default());
    let line = parts.join(" ").replace('\n', "\\n");
    let time_us = field("_SOURCE_REALTIME_TIMESTAMP")
        .or_else(|| field("__REALTIME_TIMESTAMP"))
        .and_then(|t| t.first().and_then(|v| v.parse().ok()));
    let cursor = match fields.get("__CURSOR") {
        Some(Value::String(c)) => Some(c.clone()),
        _ => None,
    };
    Ok(Entry {
        line,
        time_us,
        cursor,
    })
}

/// A field's values: a string; an array of byte values (a field that is
/// not valid UTF-8); an array of either (a field set more than once);
/// `null` (too large without `--all`) has none.
fn values(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Number(n) => Some(vec![n.to_string()]),
        Value::Array(items) if items.iter().all(Value::is_number) => bytes(items).map(|s| vec![s]),
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    Value::Array(b) => out.push(bytes(b)?),
                    Value::Null => {}
                    _ => return None,
                }
            }
            Some(out)
        }
        _ => None,
    }
}

fn bytes(items: &[Value]) -> Option<String> {
    let raw: Option<Vec<u8>> = items
        .iter()
        .map(|v| v.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect();
    raw.map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn message_as_bytes_and_multiple_values() {
        let e = parse_entry(
            br#"{"SYSLOG_IDENTIFIER":"sshd","_PID":"7","MESSAGE":[70,97,105,108,101,100,255]}"#,
        )
        .expect("entry");
        assert_eq!(e.line, "sshd[7]: Failed\u{fffd}");
        let e = parse_entry(br#"{"_COMM":"x","SYSLOG_PID":["1","2"],"MESSAGE":["a",[98]]}"#)
            .expect("entry");
        assert_eq!(e.line, "x[1, 2]: a b");
        let e = parse_entry(br#"{"MESSAGE":null}"#).expect("entry");
        assert_eq!(e.line, "");
        assert_eq!(e.time_us, None);
    }

    #[test]
    fn kernel_lines_carry_the_monotonic_time_and_newlines_are_escaped() {
        let e = parse_entry(
            br#"{"_HOSTNAME":"h","SYSLOG_IDENTIFIER":"kernel","__MONOTONIC_TIMESTAMP":"12345678","MESSAGE":"a\nb"}"#,
        )
        .expect("entry");
        assert_eq!(e.line, "h kernel: [   12.345678] a\\nb");
    }

    #[test]
    fn source_time_wins_and_bad_lines_are_errors() {
        let e = parse_entry(
            br#"{"__REALTIME_TIMESTAMP":"2","_SOURCE_REALTIME_TIMESTAMP":"1","MESSAGE":"m"}"#,
        )
        .expect("entry");
        assert_eq!(e.time_us, Some(1));
        assert!(parse_entry(b"not json").is_err());
        assert!(parse_entry(b"[1,2]").is_err());
        assert!(parse_entry(b"").is_err());
    }

    #[test]
    fn arguments() {
        let mut source = JournalSource::new(0, "_SYSTEMD_UNIT=sshd.service + _COMM=sshd");
        let args = journalctl_args(&source, None);
        let text: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
        assert_eq!(
            text,
            [
                "--follow",
                "--output=json",
                "--all",
                "--no-pager",
                "--quiet",
                "--lines=0",
                "_SYSTEMD_UNIT=sshd.service",
                "+",
                "_COMM=sshd"
            ]
        );
        source.start = Start::Beginning;
        let args = journalctl_args(&source, Some("s=abc"));
        assert!(args.iter().any(|a| a == "--after-cursor=s=abc"));
        assert!(!args.iter().any(|a| a == "--lines=all"));
    }

    proptest! {
        #[test]
        fn parser_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_entry(&bytes);
        }

        #[test]
        fn parser_never_panics_on_json_shaped_input(
            fields in proptest::collection::vec(
                (prop_oneof![Just("MESSAGE"), Just("_PID"), Just("SYSLOG_IDENTIFIER"), Just("_HOSTNAME"),
                             Just("__REALTIME_TIMESTAMP"), Just("__MONOTONIC_TIMESTAMP"), Just("__CURSOR"),
                             Just("_COMM"), Just("SYSLOG_PID")],
                 prop_oneof![
                     any::<String>().prop_map(Value::String),
                     any::<i64>().prop_map(Value::from),
                     proptest::collection::vec(any::<u16>(), 0..8).prop_map(Value::from),
                     Just(Value::Null),
                     proptest::collection::vec(any::<String>(), 0..3).prop_map(Value::from),
                 ]),
                0..8),
        ) {
            let object: serde_json::Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            let text = serde_json::to_vec(&Value::Object(object)).expect("json");
            let entry = parse_entry(&text);
            prop_assert!(entry.is_ok());
            prop_assert!(!entry.expect("entry").line.contains('\n'));
        }
    }
}
