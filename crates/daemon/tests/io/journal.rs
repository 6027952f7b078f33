//! `rampart_daemon::journal` against a fake `journalctl` script, and the
//! real one where it is installed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rampart_daemon::journal::{Entry, Journal, JournalError, JournalSource};

fn script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("journalctl");
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// Reads until the process ends (or 10 s pass).
fn until_exit(journal: &mut Journal) -> (Vec<(usize, Entry)>, Option<JournalError>) {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        journal.wait(Duration::from_millis(100)).expect("wait");
        if let Err(e) = journal.read(&mut out) {
            return (out, Some(e));
        }
    }
    (out, None)
}

#[test]
fn issue6_journal_entries_cursor_and_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = dir.path().join("args");
    let body = format!(
        r#"echo "$@" >> '{args}'
case "$*" in
  *--after-cursor=c2*)
    printf '%s\n' '{{"__CURSOR":"c3","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"sshd","_PID":"9","MESSAGE":"third"}}'
    exit 0;;
esac
printf '%s\n' '{{"__CURSOR":"c1","__REALTIME_TIMESTAMP":"1700000000000001","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"sshd","_PID":"812","MESSAGE":"Failed password for root from 192.0.2.7 port 22 ssh2"}}'
printf 'not json\n'
printf '%s' '{{"__CURSOR":"c2","_COMM":"sshd","MESSAGE":[73,110'
printf '%s\n' ',118,97,108,105,100,32,117,115,101,114]}}'
echo "journal files are gone" >&2
exit 1
"#,
        args = args.display()
    );
    let program = script(dir.path(), &body);
    let mut source = JournalSource::new(4, "_SYSTEMD_UNIT=sshd.service + _COMM=sshd");
    source.program = Some(program.clone());
    let mut journal = Journal::start(source.clone(), None).expect("started");
    let (entries, end) = until_exit(&mut journal);
    let lines: Vec<(usize, &str)> = entries.iter().map(|(i, e)| (*i, e.line.as_str())).collect();
    assert_eq!(
        lines,
        [
            (
                4,
                "web1 sshd[812]: Failed password for root from 192.0.2.7 port 22 ssh2"
            ),
            (4, "sshd: Invalid user")
        ]
    );
    assert_eq!(entries[0].1.time_us, Some(1_700_000_000_000_001));
    assert_eq!(journal.stats().bad_lines, 1);
    assert_eq!(journal.cursor(), Some("c2"));
    match end {
        Some(e @ JournalError::Exited { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("exit code 1") && text.contains("journal files are gone"),
                "{text}"
            );
        }
        other => panic!("expected the process to end: {other:?}"),
    }
    // A restart resumes after the cursor.
    let cursor = journal.cursor().map(str::to_string);
    drop(journal);
    let mut journal = Journal::start(source, cursor.as_deref()).expect("started");
    let (entries, _) = until_exit(&mut journal);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].1.line, "web1 sshd[9]: third");
    let recorded = std::fs::read_to_string(&args).expect("args");
    let runs: Vec<&str> = recorded.lines().collect();
    assert_eq!(
        runs,
        [
            "--follow --output=json --all --no-pager --quiet --lines=0 _SYSTEMD_UNIT=sshd.service + _COMM=sshd",
            "--follow --output=json --all --no-pager --quiet --after-cursor=c2 _SYSTEMD_UNIT=sshd.service + _COMM=sshd",
        ]
    );
}

#[test]
fn issue6_journal_entries_arrive_while_it_runs_and_drop_stops_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo_like = dir.path().join("go");
    let body = format!(
        r#"printf '%s\n' '{{"__CURSOR":"a","MESSAGE":"first"}}'
while [ ! -e '{go}' ]; do sleep 0.01; done
printf '%s\n' '{{"__CURSOR":"b","MESSAGE":"second"}}'
exec sleep 60
"#,
        go = fifo_like.display()
    );
    let mut source = JournalSource::new(0, "");
    source.program = Some(script(dir.path(), &body));
    let mut journal = Journal::start(source, None).expect("started");
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.is_empty() && Instant::now() < deadline {
        journal.wait(Duration::from_millis(200)).expect("wait");
        journal.read(&mut out).expect("read");
    }
    assert_eq!(out.len(), 1);
    std::fs::write(&fifo_like, "").expect("go");
    while out.len() < 2 && Instant::now() < deadline {
        journal.wait(Duration::from_millis(200)).expect("wait");
        journal.read(&mut out).expect("read");
    }
    assert_eq!(
        out.iter().map(|(_, e)| e.line.as_str()).collect::<Vec<_>>(),
        ["first", "second"]
    );
    assert_eq!(journal.cursor(), Some("b"));
    drop(journal); // kills `sleep 60` and reaps it; the test would otherwise leave it behind
}

#[test]
fn issue6_journal_without_journalctl_is_a_clear_error() {
    let mut source = JournalSource::new(0, "_COMM=sshd");
    source.program = Some(PathBuf::from("/nonexistent/journalctl"));
    let err = Journal::start(source, None).expect_err("no journalctl");
    assert!(matches!(err, JournalError::NotFound { .. }));
    assert!(
        err.to_string()
            .contains("cannot be read without journalctl"),
        "{err}"
    );
}

/// The real journalctl, where installed: it starts with our arguments and
/// either runs (waiting for entries) or ends with a message that says why.
#[test]
fn issue6_journal_real_journalctl_accepts_the_arguments() {
    if !Path::new("/usr/bin/journalctl").exists() && !Path::new("/bin/journalctl").exists() {
        println!("journalctl is not installed: skipped");
        return;
    }
    let source = JournalSource::new(0, "_COMM=rampart-test-no-such-program");
    let mut journal = Journal::start(source, None).expect("started");
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut ended = None;
    while Instant::now() < deadline && ended.is_none() {
        journal.wait(Duration::from_millis(100)).expect("wait");
        if let Err(e) = journal.read(&mut out) {
            ended = Some(e);
        }
    }
    assert!(out.is_empty(), "no entry matches: {out:?}");
    match ended {
        None => println!("journalctl is following the journal"),
        Some(JournalError::Exited { status, stderr, .. }) => {
            // Refused arguments would say "unrecognized option" or "invalid".
            assert!(
                !stderr.contains("unrecognized") && !stderr.contains("nvalid"),
                "{status}: {stderr}"
            );
            println!("journalctl ended ({status}): {stderr}");
        }
        Some(e) => panic!("{e}"),
    }
}
