//! `rampart_daemon::tail` with real files in a temporary directory.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rampart_daemon::tail::{Lines, Options, Source, Start, Tailer};

fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append")
}

fn write(file: &mut File, text: &str) {
    file.write_all(text.as_bytes()).expect("write");
}

/// Reads until `n` lines arrived (or 10 s passed), then once more to catch
/// extra lines; returns (source, line) pairs.
fn collect(tailer: &mut Tailer, n: usize) -> Vec<(usize, String)> {
    let mut out = Lines::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < n && Instant::now() < deadline {
        tailer.wait(Duration::from_millis(100)).expect("wait");
        tailer.read(&mut out).expect("read");
    }
    tailer.read(&mut out).expect("read");
    out.iter()
        .map(|(s, l)| (s, String::from_utf8_lossy(l).into_owned()))
        .collect()
}

fn texts(got: &[(usize, String)]) -> Vec<&str> {
    got.iter().map(|(_, l)| l.as_str()).collect()
}

#[test]
fn issue6_tail_starts_at_end_or_beginning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.log");
    let b = dir.path().join("b.log");
    fs::write(&a, "a1\na2\npartial").expect("write");
    fs::write(&b, "b1\nb2\n").expect("write");
    let mut tailer = Tailer::new(vec![
        Source::new(&a, 0, Start::End),
        Source::new(&b, 1, Start::Beginning),
    ])
    .expect("tailer");
    let got = collect(&mut tailer, 2);
    assert_eq!(got, vec![(1, "b1".into()), (1, "b2".into())]);
    // The line `a` ended inside is not handed out as a fragment.
    write(&mut append(&a), " rest\na3\n");
    write(&mut append(&b), "b3\n");
    let got = collect(&mut tailer, 2);
    assert_eq!(got, vec![(0, "a3".into()), (1, "b3".into())]);
}

#[test]
fn issue6_tail_keeps_partial_lines_until_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.log");
    fs::write(&a, "").expect("write");
    let mut tailer = Tailer::new(vec![Source::new(&a, 3, Start::End)]).expect("tailer");
    let mut f = append(&a);
    write(&mut f, "Failed pass");
    assert!(collect(&mut tailer, 0).is_empty());
    write(&mut f, "word for root\r\nsecond\n");
    assert_eq!(
        texts(&collect(&mut tailer, 2)),
        ["Failed password for root", "second"]
    );
}

#[test]
fn issue6_tail_rename_create_reads_old_rest_then_new() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("auth.log");
    let mut old = append(&log);
    let mut tailer = Tailer::new(vec![Source::new(&log, 0, Start::End)]).expect("tailer");
    write(&mut old, "1\n2\n");
    assert_eq!(texts(&collect(&mut tailer, 2)), ["1", "2"]);
    // Unread lines in the old file, rename, the writer still appends to
    // the old file before it reopens, a new file is created.
    write(&mut old, "3\n");
    fs::rename(&log, dir.path().join("auth.log.1")).expect("rename");
    write(&mut old, "4\n");
    let mut new = append(&log);
    write(&mut new, "5\n");
    assert_eq!(texts(&collect(&mut tailer, 3)), ["3", "4", "5"]);
    // Late lines into the rotated file still arrive.
    write(&mut old, "6\n");
    write(&mut new, "7\n");
    let got = collect(&mut tailer, 2);
    let mut got = texts(&got);
    got.sort();
    assert_eq!(got, ["6", "7"]);
    assert_eq!(tailer.stats().rotations, 1);
}

#[test]
fn issue6_tail_rename_then_new_file_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("auth.log");
    let mut old = append(&log);
    let mut tailer = Tailer::new(vec![Source::new(&log, 0, Start::End)]).expect("tailer");
    write(&mut old, "1\n");
    fs::rename(&log, dir.path().join("auth.log.1")).expect("rename");
    assert_eq!(texts(&collect(&mut tailer, 1)), ["1"]);
    // Nothing at the path for a while.
    assert!(collect(&mut tailer, 0).is_empty());
    let mut new = append(&log);
    write(&mut new, "2\n3\n");
    assert_eq!(texts(&collect(&mut tailer, 2)), ["2", "3"]);
}

#[test]
fn issue6_tail_file_created_and_rotated_between_two_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("a.log");
    let mut first = append(&log);
    let mut tailer = Tailer::new(vec![Source::new(&log, 0, Start::End)]).expect("tailer");
    write(&mut first, "1\n");
    fs::rename(&log, dir.path().join("a.log.1")).expect("rename");
    let mut second = append(&log);
    write(&mut second, "2\n");
    fs::rename(&log, dir.path().join("a.log.2")).expect("rename");
    write(&mut second, "3\n");
    let mut third = append(&log);
    write(&mut third, "4\n");
    // The second file was never at the path when the tailer looked; the
    // rename pair says where it went.
    assert_eq!(texts(&collect(&mut tailer, 4)), ["1", "2", "3", "4"]);
}

#[test]
fn issue6_tail_copytruncate_starts_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("app.log");
    let mut f = append(&log);
    let mut tailer = Tailer::new(vec![Source::new(&log, 0, Start::End)]).expect("tailer");
    write(&mut f, "one line that is long\nanother\n");
    assert_eq!(collect(&mut tailer, 2).len(), 2);
    fs::copy(&log, dir.path().join("app.log.1")).expect("copy");
    OpenOptions::new()
        .write(true)
        .open(&log)
        .expect("open")
        .set_len(0)
        .expect("truncate");
    write(&mut f, "after\n");
    assert_eq!(texts(&collect(&mut tailer, 1)), ["after"]);
    assert_eq!(tailer.stats().truncations, 1);
    // Truncated and left empty, then written.
    OpenOptions::new()
        .write(true)
        .open(&log)
        .expect("open")
        .set_len(0)
        .expect("truncate");
    assert!(collect(&mut tailer, 0).is_empty());
    write(&mut f, "x\n");
    assert_eq!(texts(&collect(&mut tailer, 1)), ["x"]);
    // Truncated and written past the old position before the tailer looks.
    write(&mut f, "y\n");
    assert_eq!(texts(&collect(&mut tailer, 1)), ["y"]);
    OpenOptions::new()
        .write(true)
        .open(&log)
        .expect("open")
        .set_len(0)
        .expect("truncate");
    write(&mut f, "a longer line after the truncation\n");
    assert_eq!(
        texts(&collect(&mut tailer, 1)),
        ["a longer line after the truncation"]
    );
    assert_eq!(tailer.stats().truncations, 3);
}

#[test]
fn issue6_tail_file_and_directory_that_appear_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let later = dir.path().join("later.log");
    let deep = dir.path().join("nginx/site/access.log");
    let mut tailer = Tailer::new(vec![
        Source::new(&later, 0, Start::End),
        Source::new(&deep, 1, Start::End),
    ])
    .expect("tailer");
    assert!(collect(&mut tailer, 0).is_empty());
    // Files that appear after start are read from their start.
    fs::write(&later, "first\n").expect("write");
    assert_eq!(collect(&mut tailer, 1), vec![(0, "first".into())]);
    fs::create_dir_all(deep.parent().expect("parent")).expect("mkdir");
    fs::write(&deep, "GET /\n").expect("write");
    assert_eq!(collect(&mut tailer, 1), vec![(1, "GET /".into())]);
    write(&mut append(&deep), "GET /x\n");
    assert_eq!(collect(&mut tailer, 1), vec![(1, "GET /x".into())]);
}

#[test]
fn issue6_tail_deleted_file_is_read_to_its_end_and_recreated_one_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("a.log");
    let mut f = append(&log);
    let mut tailer = Tailer::new(vec![Source::new(&log, 0, Start::End)]).expect("tailer");
    write(&mut f, "before delete\n");
    fs::remove_file(&log).expect("rm");
    write(&mut f, "after delete\n");
    assert_eq!(
        texts(&collect(&mut tailer, 2)),
        ["before delete", "after delete"]
    );
    fs::write(&log, "recreated\n").expect("write");
    assert_eq!(texts(&collect(&mut tailer, 1)), ["recreated"]);
}

#[test]
fn issue6_tail_glob_picks_up_new_files_and_follows_renames_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("a.log"), "old a\n").expect("write");
    fs::write(dir.path().join("skip.txt"), "x\n").expect("write");
    let pattern = dir.path().join("*.log");
    let mut tailer = Tailer::new(vec![Source::new(&pattern, 5, Start::End)]).expect("tailer");
    write(&mut append(&dir.path().join("a.log")), "a\n");
    fs::write(dir.path().join("b.log"), "b1\nb2\n").expect("write");
    write(&mut append(&dir.path().join("skip.txt")), "y\n");
    let got = collect(&mut tailer, 3);
    assert_eq!(got.iter().filter(|(s, _)| *s == 5).count(), 3);
    let mut t = texts(&got);
    t.sort();
    assert_eq!(t, ["a", "b1", "b2"]);
    // A rename to another matching name is the same file: not read again.
    fs::rename(dir.path().join("b.log"), dir.path().join("c.log")).expect("rename");
    write(&mut append(&dir.path().join("c.log")), "c\n");
    assert_eq!(texts(&collect(&mut tailer, 1)), ["c"]);
    assert_eq!(tailer.files().len(), 2);
}

#[test]
fn issue6_tail_huge_and_binary_lines_are_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("a.log");
    fs::write(&log, "").expect("write");
    let options = Options {
        max_line: 1000,
        ..Options::default()
    };
    let mut tailer =
        Tailer::with_options(vec![Source::new(&log, 0, Start::End)], options).expect("tailer");
    let mut f = append(&log);
    // 10 MB without a newline, then a newline, then binary bytes.
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..10 {
        f.write_all(&chunk).expect("write");
        collect(&mut tailer, 0);
    }
    f.write_all(b"\n\x00\xff\xfe binary\nok\n").expect("write");
    let mut out = Lines::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < 2 && Instant::now() < deadline {
        tailer.wait(Duration::from_millis(100)).expect("wait");
        tailer.read(&mut out).expect("read");
    }
    let got: Vec<&[u8]> = out.iter().map(|(_, l)| l).collect();
    assert_eq!(got, vec![&b"\x00\xff\xfe binary"[..], b"ok"]);
    assert_eq!(tailer.stats().lines_too_long, 1);
}

#[test]
fn issue6_tail_scan_of_a_large_file_is_read_in_budgets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("big.log");
    let text: String = (0..200_000).map(|i| format!("line {i}\n")).collect();
    fs::write(&log, &text).expect("write");
    let options = Options {
        read_budget: 64 * 1024,
        ..Options::default()
    };
    let mut tailer = Tailer::with_options(vec![Source::new(&log, 0, Start::Beginning)], options)
        .expect("tailer");
    let mut out = Lines::new();
    let mut calls = 0;
    while tailer.read(&mut out).expect("read") {
        calls += 1;
        assert!(
            tailer.wait(Duration::from_secs(10)).expect("wait"),
            "wait returns at once with a backlog"
        );
    }
    assert!(calls > 10);
    assert_eq!(out.len(), 200_000);
    assert_eq!(out.iter().last().map(|(_, l)| l), Some(&b"line 199999"[..]));
}

/// A writer thread writes numbered lines and rotates like logrotate with
/// `create` and a daemon that reopens a little later; the tailer, in this
/// thread, must see every line exactly once.
#[test]
fn issue6_tail_concurrent_writes_and_rotations_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("busy.log");
    let base: PathBuf = dir.path().to_path_buf();
    fs::write(&log, "").expect("write");
    let mut tailer = Tailer::new(vec![Source::new(&log, 0, Start::End)]).expect("tailer");
    const N: usize = 50_000;
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            let mut f = append(&log);
            for i in 0..N {
                writeln!(f, "line {i}").expect("write");
                if i % 5_000 == 4_999 {
                    let rotated = base.join(format!("busy.log.{i}"));
                    fs::rename(&log, &rotated).expect("rename");
                    // The daemon writes a few more lines before it reopens;
                    // in every other rotation the new file appears only then.
                    if i % 10_000 == 4_999 {
                        drop(append(&log));
                    }
                    for _ in 0..3 {
                        std::thread::yield_now();
                    }
                    f = append(&log);
                }
            }
        })
    };
    let mut out = Lines::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.len() < N && Instant::now() < deadline {
        tailer.wait(Duration::from_millis(100)).expect("wait");
        tailer.read(&mut out).expect("read");
    }
    writer.join().expect("writer");
    tailer.read(&mut out).expect("read");
    let mut seen = vec![0u32; N];
    for (_, line) in out.iter() {
        let text = std::str::from_utf8(line).expect("utf-8");
        let i: usize = text
            .strip_prefix("line ")
            .and_then(|n| n.parse().ok())
            .expect("a numbered line");
        seen[i] += 1;
    }
    let missing: Vec<usize> = (0..N).filter(|&i| seen[i] == 0).collect();
    let repeated: Vec<usize> = (0..N).filter(|&i| seen[i] > 1).collect();
    assert!(
        missing.is_empty(),
        "{} missing, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(
        repeated.is_empty(),
        "{} repeated, first {:?}",
        repeated.len(),
        &repeated[..repeated.len().min(10)]
    );
    assert_eq!(tailer.stats().rotations, 10);
}

/// From a line written to the line handed out, with the tailer blocking
/// in `wait` in another thread.
#[test]
fn issue6_tail_latency_from_write_to_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("a.log");
    fs::write(&log, "").expect("write");
    let (tx, rx) = std::sync::mpsc::channel::<Instant>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Duration>();
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            let mut tailer = Tailer::new(vec![Source::new(&log, 0, Start::End)]).expect("tailer");
            let mut out = Lines::new();
            tx.send(Instant::now()).expect("ready");
            for _ in 0..500 {
                out.clear();
                while out.is_empty() {
                    tailer.wait(Duration::from_secs(10)).expect("wait");
                    tailer.read(&mut out).expect("read");
                }
                let got = Instant::now();
                let sent: u128 = std::str::from_utf8(out.iter().next().expect("a line").1)
                    .expect("utf-8")
                    .parse()
                    .expect("nanos");
                done_tx
                    .send(Duration::from_nanos(u64::try_from(sent).unwrap_or(0)))
                    .expect("send");
                let _ = got;
            }
        })
    };
    let origin = rx.recv().expect("ready");
    let mut f = append(&log);
    let mut latencies = Vec::new();
    for _ in 0..500 {
        let sent = origin.elapsed();
        writeln!(f, "{}", sent.as_nanos()).expect("write");
        let echoed = done_rx.recv().expect("read back");
        latencies.push(origin.elapsed() - echoed);
    }
    reader.join().expect("reader");
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[latencies.len() * 99 / 100];
    println!("tail latency write→read over 500 lines: p50 {p50:?}, p99 {p99:?}");
    assert!(p50 < Duration::from_millis(5), "p50 {p50:?}");
}

/// The writer (re)creates the log file; the tailer notices it.
fn create(log: &Path, tailer: &mut Tailer, out: &mut Lines) -> File {
    let f = append(log);
    tailer.read(out).expect("read");
    f
}

#[derive(Debug, Clone)]
enum Op {
    /// Lines written in two `write` calls split at a byte, with a read in between.
    Write(Vec<u16>, usize),
    Read,
    /// logrotate `create`: rename, the writer keeps appending `n` lines to
    /// the old file, then the new file is created and reopened.
    RenameCreate(u8),
    /// Renamed away; the new file appears only at the next write.
    RenameOnly,
    /// logrotate `copytruncate`, after the tailer caught up.
    CopyTruncate,
    /// Deleted; a new file appears at the next write.
    Delete,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (proptest::collection::vec(any::<u16>(), 0..20), any::<usize>()).prop_map(|(l, s)| Op::Write(l, s)),
        2 => Just(Op::Read),
        1 => (0u8..3).prop_map(Op::RenameCreate),
        1 => Just(Op::RenameOnly),
        1 => Just(Op::CopyTruncate),
        1 => Just(Op::Delete),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random writes, rotations and truncations against a model: every
    /// line written arrives exactly once, in the order written. Lines may
    /// wait unread across any operation; the tailer reads once after a
    /// file is created (in a daemon it is woken within microseconds) and
    /// before a copytruncate (lines written between the copy and the
    /// truncation are lost for every reader).
    #[test]
    fn issue6_tail_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("m.log");
        let mut writer: Option<File> = Some(append(&log));
        let mut tailer = Tailer::new(vec![Source::new(&log, 0, Start::End)]).expect("tailer");
        let mut out = Lines::new();
        let mut expected: Vec<String> = Vec::new();
        let mut seq = 0u64;
        let mut rotated = 0;
        let mut line = |expected: &mut Vec<String>, tag: u16| {
            seq += 1;
            let text = format!("{seq} {}", "x".repeat(usize::from(tag % 50)));
            expected.push(text.clone());
            text + "\n"
        };
        for op in ops {
            match op {
                Op::Write(tags, split) => {
                    if writer.is_none() {
                        writer = Some(create(&log, &mut tailer, &mut out));
                    }
                    let f = writer.as_mut().expect("a writer");
                    let text: String = tags.iter().map(|&t| line(&mut expected, t)).collect();
                    let split = if text.is_empty() { 0 } else { split % text.len() };
                    f.write_all(&text.as_bytes()[..split]).expect("write");
                    tailer.read(&mut out).expect("read");
                    f.write_all(&text.as_bytes()[split..]).expect("write");
                }
                Op::Read => {
                    tailer.read(&mut out).expect("read");
                }
                Op::RenameCreate(late) => {
                    if log.exists() {
                        rotated += 1;
                        fs::rename(&log, dir.path().join(format!("m.log.{rotated}"))).expect("rename");
                    }
                    if let Some(f) = writer.as_mut() {
                        for _ in 0..late {
                            let text = line(&mut expected, 1);
                            f.write_all(text.as_bytes()).expect("write");
                        }
                    }
                    writer = Some(create(&log, &mut tailer, &mut out));
                }
                Op::RenameOnly => {
                    if log.exists() {
                        rotated += 1;
                        fs::rename(&log, dir.path().join(format!("m.log.{rotated}"))).expect("rename");
                    }
                    writer = None;
                }
                Op::CopyTruncate => {
                    tailer.read(&mut out).expect("read");
                    if log.exists() {
                        rotated += 1;
                        fs::copy(&log, dir.path().join(format!("m.log.{rotated}"))).expect("copy");
                        OpenOptions::new().write(true).open(&log).expect("open").set_len(0).expect("truncate");
                    }
                }
                Op::Delete => {
                    if log.exists() {
                        fs::remove_file(&log).expect("rm");
                    }
                    writer = None;
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while out.len() < expected.len() && Instant::now() < deadline {
            tailer.wait(Duration::from_millis(50)).expect("wait");
            tailer.read(&mut out).expect("read");
        }
        tailer.read(&mut out).expect("read");
        let got: Vec<String> = out.iter().map(|(_, l)| String::from_utf8_lossy(l).into_owned()).collect();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for g in &got {
            *counts.entry(g.as_str()).or_default() += 1;
        }
        prop_assert!(counts.values().all(|&c| c == 1), "a line arrived twice: {:?}", got);
        prop_assert_eq!(got, expected);
    }
}
