//! fail2ban's own filter samples (Debian's `fail2ban` package:
//! `fail2ban/tests/files/logs/NAME`, one per `filter.d/NAME.conf`): every
//! filter is imported from `/etc/fail2ban/filter.d` and run over its
//! sample file the way fail2ban's `samplestestcase.py` does (every
//! failregex tried, host as captured, time checked in fail2ban's test time
//! zone); each `# failJSON:` annotation is compared (match or not, host,
//! user and other annotated groups, time).
//!
//! The report is `target/fail2ban-report.txt`. A difference fails the test
//! unless `tests/fail2ban-differences.txt` lists it with a reason.
//! `UPDATE_DIFFERENCES=1` rewrites that file (keeping given reasons).

use rampart_guard::filter::date::{days_from_civil, LogTime};
use rampart_guard::filter::{CompileOptions, Filter, Scan};
use rampart_syntax::fail2ban::FilterDef;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const TEST_NOW: i64 = 1_124_013_600;

/// fail2ban's tests run in `CET-01CEST-02,M3.5.0,M10.5.0`.
fn zurich_offset(unix: i64) -> i64 {
    let (y, _, _) = rampart_guard::filter::date::civil_from_days(unix.div_euclid(86_400));
    let last_sunday = |m: u32| {
        let first_next = if m == 12 {
            days_from_civil(y + 1, 1, 1)
        } else {
            days_from_civil(y, m + 1, 1)
        };
        let last = first_next - 1;
        // 1970-01-01 was a Thursday (weekday 4, Sunday = 0).
        last - (last + 4).rem_euclid(7)
    };
    let start = last_sunday(3) * 86_400 + 3600;
    let end = last_sunday(10) * 86_400 + 3600;
    if unix >= start && unix < end {
        7200
    } else {
        3600
    }
}

fn parse_wall(s: &str) -> Option<i64> {
    let (d, t) = s.split_once('T')?;
    let mut dp = d.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, dd) = (dp.next()??, dp.next()??, dp.next()??);
    let t = t.split('.').next()?;
    let mut tp = t.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, se) = (tp.next()??, tp.next()??, tp.next()??);
    Some(days_from_civil(y, m as u32, dd as u32) * 86_400 + h * 3600 + mi * 60 + se)
}

fn wall_of(t: &LogTime) -> i64 {
    match t.offset_min {
        None => t.wall,
        Some(o) => {
            let unix = t.wall - i64::from(o) * 60;
            unix + zurich_offset(unix)
        }
    }
}

struct Variant {
    label: String,
    opts: serde_json::Map<String, serde_json::Value>,
    filter: Result<Filter, String>,
    journal: bool,
    prefix: String,
}

#[derive(Default)]
struct Tally {
    lines: u64,
    agree: u64,
    differ: Vec<(String, String)>,
    skipped: u64,
}

fn samples_dir() -> Option<(PathBuf, PathBuf)> {
    let logs = PathBuf::from("/usr/lib/python3/dist-packages/fail2ban/tests/files/logs");
    let conf = PathBuf::from(
        std::env::var("FAIL2BAN_CONFIG_DIR").unwrap_or_else(|_| "/etc/fail2ban".into()),
    );
    (logs.is_dir() && conf.join("filter.d").is_dir()).then_some((logs, conf))
}

fn build(conf: &Path, name: &str, opts: &serde_json::Map<String, serde_json::Value>) -> Variant {
    let mut args = BTreeMap::new();
    let mut journal = false;
    let mut prefix = String::new();
    for (k, v) in opts {
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if k == "test.prefix-line" {
            prefix = v.clone();
        }
        if k.starts_with("test.") {
            continue;
        }
        if k == "logtype" && v == "journal" {
            journal = true;
        }
        args.insert(k.clone(), v);
    }
    let label = if args.is_empty() {
        String::new()
    } else {
        format!("{args:?}")
    };
    let filter = FilterDef::load(conf, name, &args)
        .map_err(|d| d.to_string().lines().next().unwrap_or("").to_string())
        .and_then(|def| {
            Filter::compile(
                &def,
                &CompileOptions {
                    check_all: true,
                    ..CompileOptions::default()
                },
            )
            .map_err(|e| e.first().map(|e| e.message.clone()).unwrap_or_default())
        });
    Variant {
        label,
        opts: opts.clone(),
        filter,
        journal,
        prefix,
    }
}

fn run_filter(logs: &Path, conf: &Path, name: &str, tally: &mut Tally, report: &mut String) {
    let now_wall = TEST_NOW + zurich_offset(TEST_NOW);
    let mut files = vec![name.to_string()];
    let mut i = 0;
    let mut scans: Vec<Option<Scan<'_>>> = Vec::new();
    // Variants are built first so scans can borrow them.
    let mut all_variants: Vec<Vec<Variant>> = Vec::new();
    let mut plan: Vec<(String, u32, String, Option<serde_json::Value>, usize)> = Vec::new();
    let mut common = serde_json::Map::new();
    let mut ignore_block = false;
    while i < files.len() {
        let path = logs.join(&files[i]);
        i += 1;
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mut lines = text.split('\n').enumerate().peekable();
        while let Some((n, line)) = lines.next() {
            let line = line.trim_end_matches('\r');
            let tag = ["failJSON:", "fileOptions:", "filterOptions:", "addFILE:"]
                .iter()
                .find_map(|t| {
                    let s = line.trim_start_matches('#').trim_start();
                    (line.starts_with('#') && s.starts_with(t))
                        .then(|| (*t, s[t.len()..].trim().to_string()))
                });
            let mut data = None;
            let (ln, target) = if let Some((t, json)) = tag {
                let v: serde_json::Value = match serde_json::from_str(&json) {
                    Ok(v) => v,
                    Err(_) => continue,
                };
                match t {
                    "fileOptions:" => {
                        common = v.as_object().cloned().unwrap_or_default();
                        continue;
                    }
                    "filterOptions:" => {
                        let list = match v {
                            serde_json::Value::Array(a) => a,
                            o => vec![o],
                        };
                        let mut vs = Vec::new();
                        ignore_block = false;
                        for o in list {
                            let mut opts = common.clone();
                            opts.extend(o.as_object().cloned().unwrap_or_default());
                            if let Some(c) = opts.get("test.condition").and_then(|c| c.as_str()) {
                                match eval_condition(c, name, &opts) {
                                    Some(true) => {}
                                    Some(false) => {
                                        ignore_block = true;
                                        continue;
                                    }
                                    None => {
                                        ignore_block = true;
                                        continue;
                                    }
                                }
                            }
                            vs.push(build(conf, name, &opts));
                        }
                        all_variants.push(vs);
                        continue;
                    }
                    "addFILE:" => {
                        if let Some(f) = v.as_str() {
                            files.push(f.to_string());
                        }
                        continue;
                    }
                    _ => {
                        data = Some(v);
                        match lines.next() {
                            Some((n2, l2)) => (n2, l2.trim_end_matches('\r').to_string()),
                            None => continue,
                        }
                    }
                }
            } else if ignore_block || line.starts_with('#') || line.trim().is_empty() {
                continue;
            } else {
                (n, line.to_string())
            };
            if ignore_block {
                if data.is_some() {
                    tally.skipped += 1;
                }
                continue;
            }
            if all_variants.is_empty() {
                all_variants.push(vec![build(conf, name, &serde_json::Map::new())]);
            }
            plan.push((
                files[i - 1].clone(),
                u32::try_from(ln + 1).unwrap_or(0),
                target,
                data,
                all_variants.len() - 1,
            ));
        }
    }
    // One scan per variant, kept across lines (multi-line state).
    let flat: Vec<&Variant> = all_variants.iter().flatten().collect();
    for v in &flat {
        scans.push(v.filter.as_ref().ok().map(|f| Scan::new(f, now_wall)));
    }
    let mut offsets = Vec::new();
    let mut acc = 0;
    for vs in &all_variants {
        offsets.push(acc);
        acc += vs.len();
    }
    let mut counted = 0u64;
    let mut agreed = 0u64;
    for (file, ln, text, data, block) in &plan {
        let base = offsets[*block];
        for (k, v) in all_variants[*block].iter().enumerate() {
            let data_obj = data
                .as_ref()
                .and_then(|d| d.as_object().cloned())
                .unwrap_or_default();
            if let Some(c) = data_obj.get("constraint").and_then(|c| c.as_str()) {
                match eval_condition(c, name, &v.opts) {
                    Some(true) => {}
                    Some(false) => continue,
                    None => {
                        tally.skipped += 1;
                        continue;
                    }
                }
            }
            let Some(scan) = scans[base + k].as_mut() else {
                if data.is_some() {
                    counted += 1;
                    tally.lines += 1;
                    let key = format!(
                        "{file}:{ln}{}",
                        if v.label.is_empty() {
                            String::new()
                        } else {
                            format!(" {}", v.label)
                        }
                    );
                    let why = format!(
                        "filter not compiled: {}",
                        v.filter.as_ref().err().cloned().unwrap_or_default()
                    );
                    tally.differ.push((key, why));
                }
                continue;
            };
            let hits = if v.journal {
                let t = LogTime {
                    wall: TEST_NOW,
                    offset_min: Some(0),
                    frac: 0.0,
                };
                scan.line_at(&format!("{}{}", v.prefix, text), t)
            } else {
                scan.line(text)
            };
            let Some(_) = data else { continue };
            counted += 1;
            tally.lines += 1;
            let expect = data_obj
                .get("match")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            let key = format!(
                "{file}:{ln}{}",
                if v.label.is_empty() {
                    String::new()
                } else {
                    format!(" {}", v.label)
                }
            );
            let why = if hits.is_empty() {
                expect.then(|| "not matched, fail2ban matches".to_string())
            } else if !expect {
                Some(format!(
                    "matched (regex {}, host {}), fail2ban does not",
                    hits[0].regex, hits[0].host
                ))
            } else if hits.len() > 1 {
                Some(format!("{} failregexes matched", hits.len()))
            } else {
                let h = &hits[0];
                let mut why = None;
                for (key, want) in &data_obj {
                    if matches!(
                        key.as_str(),
                        "time" | "match" | "desc" | "constraint" | "attempts"
                    ) {
                        continue;
                    }
                    let want = match want {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => continue,
                        o => o.to_string(),
                    };
                    let got = if key == "host" {
                        Some(h.host.clone())
                    } else {
                        h.groups.get(key).cloned()
                    };
                    if key != "host"
                        && got.is_none()
                        && !h.groups.contains_key(key)
                        && key != "user"
                    {
                        continue; // not a group here (e.g. `users` sets of multi-line ids)
                    }
                    if got.as_deref() != Some(want.as_str()) {
                        why = Some(format!("{key}: expected {want:?}, got {got:?}"));
                        break;
                    }
                }
                if why.is_none() {
                    if let Some(t) = data_obj.get("time").and_then(serde_json::Value::as_str) {
                        let want = parse_wall(t);
                        let got = h.time.as_ref().map(wall_of);
                        if want.is_some() && got != want {
                            why = Some(format!("time: expected {t}, got wall {got:?}"));
                        }
                    }
                }
                why
            };
            match why {
                None => {
                    agreed += 1;
                    tally.agree += 1;
                }
                Some(w) => tally.differ.push((key, w)),
            }
        }
    }
    let _ = writeln!(
        report,
        "{name:<28} {counted:>5} annotated {agreed:>5} agree {:>5} differ",
        counted - agreed
    );
}

#[test]
fn issue6_fail2ban_samples() {
    let Some((logs, conf)) = samples_dir() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("fail2ban's samples are missing: install Debian's fail2ban package (scripts/test.sh does)");
        }
        eprintln!("skipped: Debian's fail2ban package is not installed");
        return;
    };
    let mut names: Vec<String> = std::fs::read_dir(conf.join("filter.d"))
        .expect("filter.d")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| n.ends_with(".conf") && !n.ends_with("common.conf"))
        .map(|n| n.trim_end_matches(".conf").to_string())
        .collect();
    names.sort();
    let mut tally = Tally::default();
    let mut report = String::new();
    let mut no_samples = Vec::new();
    for n in &names {
        if !logs.join(n).is_file() {
            no_samples.push(n.clone());
            continue;
        }
        run_filter(&logs, &conf, n, &mut tally, &mut report);
    }
    let listed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fail2ban-differences.txt");
    let listed_text = std::fs::read_to_string(&listed_path).unwrap_or_default();
    let listed: BTreeMap<String, String> = listed_text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(" | "))
        .filter_map(|l| {
            l.split_once(" | ")
                .map(|(k, r)| (k.trim().to_string(), r.trim().to_string()))
        })
        .collect();
    let mut unlisted = Vec::new();
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for (k, why) in &tally.differ {
        match listed.get(k) {
            Some(reason) => {
                let cat = reason.split(':').next().unwrap_or(reason).to_string();
                *by_reason.entry(cat).or_default() += 1;
            }
            None => unlisted.push(format!("{k} | {why}")),
        }
    }
    let mut head = String::new();
    let _ = writeln!(
        head,
        "fail2ban samples: {} filters with samples ({} without), {} annotated lines, {} agree, {} differ ({} listed, {} unlisted), {} not evaluated (Python conditions)",
        names.len() - no_samples.len(),
        no_samples.len(),
        tally.lines,
        tally.agree,
        tally.differ.len(),
        tally.differ.len() - unlisted.len(),
        unlisted.len(),
        tally.skipped
    );
    for (r, c) in &by_reason {
        let _ = writeln!(head, "  listed: {c:>5}  {r}");
    }
    let mut full = head.clone();
    full.push_str(&report);
    full.push_str("\nDifferences:\n");
    for (k, why) in &tally.differ {
        let _ = writeln!(full, "{k} | {why}");
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let _ = std::fs::create_dir_all(&target);
    let _ = std::fs::write(target.join("fail2ban-report.txt"), &full);
    eprint!("{head}");
    if std::env::var("UPDATE_DIFFERENCES").is_ok() {
        let mut out = String::from("# Differences from fail2ban on its own samples: FILE:LINE [filter options] | reason.\n# The category before the first `:` of a reason is what the report counts.\n");
        for (k, why) in &tally.differ {
            let reason = listed.get(k).cloned().unwrap_or_else(|| categorize(why));
            let _ = writeln!(out, "{k} | {reason}");
        }
        std::fs::write(&listed_path, out).expect("write differences");
        return;
    }
    assert!(
        unlisted.is_empty(),
        "unlisted differences:\n{}",
        unlisted.join("\n")
    );
}

/// The Python expressions the sample files use as conditions:
/// `name == 'X'`, `opts.get('K') == 'V'` and `!=`.
fn eval_condition(
    c: &str,
    name: &str,
    opts: &serde_json::Map<String, serde_json::Value>,
) -> Option<bool> {
    let (lhs, rhs, eq) = if let Some((l, r)) = c.split_once("!=") {
        (l, r, false)
    } else {
        let (l, r) = c.split_once("==")?;
        (l, r, true)
    };
    let rhs = rhs.trim().trim_matches(|q| q == '\'' || q == '"');
    let lhs = lhs.trim();
    let got = if lhs == "name" {
        Some(name.to_string())
    } else {
        let k = lhs.strip_prefix("opts.get(")?.strip_suffix(')')?;
        let k = k.trim_matches(|q| q == '\'' || q == '"');
        opts.get(k).and_then(|v| v.as_str()).map(String::from)
    };
    Some((got.as_deref() == Some(rhs)) == eq)
}

/// A first reason for a new difference, from what was observed.
fn categorize(why: &str) -> String {
    if why.starts_with("filter not compiled") {
        format!(
            "filter not compiled: {}",
            why.trim_start_matches("filter not compiled: ")
        )
    } else if why.starts_with("time") {
        format!("date: {why}")
    } else if why.starts_with("not matched") {
        format!("missed: {why}")
    } else if why.starts_with("matched") {
        format!("extra match: {why}")
    } else {
        format!("capture: {why}")
    }
}

// ---- Built-in detectors and log-injection safety ----

use rampart_guard::filter::builtin::builtin;

const REAL: &str = "203.0.113.5";
const FAKE: &str = "192.0.2.66";

fn hosts(filter: &Filter, lines: &[&str]) -> Vec<String> {
    let mut scan = Scan::new(filter, 1_764_000_000);
    lines
        .iter()
        .flat_map(|l| scan.line(l))
        .map(|f| f.host)
        .collect()
}

fn compiled_builtin(name: &str) -> Filter {
    let def = builtin(name, &BTreeMap::new()).expect("builtin");
    Filter::compile(&def, &CompileOptions::default()).expect("compiles")
}

/// Lines where attacker-chosen text (a user name, a request line, a
/// reverse-DNS name, a journald message split at a newline) holds an
/// address: a filter must report the real peer or nothing.
fn injections() -> Vec<(&'static str, String)> {
    let p = "Nov 22 00:00:00 web sshd[4242]: ";
    vec![
        ("sshd", format!("{p}Invalid user x from {FAKE} port 22 from {REAL} port 4444")),
        ("sshd", format!("{p}Invalid user x from {FAKE} from {REAL} port 4444")),
        ("sshd", format!("{p}Failed password for invalid user x from {FAKE} port 22 ssh2 from {REAL} port 4444 ssh2")),
        ("sshd", format!("{p}Failed password for invalid user from {FAKE} port 22 ssh2 from {REAL} port 4444 ssh2")),
        ("sshd", format!("{p}Failed none for invalid user {FAKE} from {REAL} port 4444 ssh2")),
        ("sshd", format!("{p}Connection closed by invalid user x {FAKE} port 22 [preauth] {REAL} port 4444 [preauth]")),
        ("sshd", format!("{p}Disconnected from invalid user x {FAKE} port 22 [preauth] {REAL} port 4444 [preauth]")),
        ("sshd", format!("{p}User x from {FAKE} not allowed because not listed in AllowUsers from {REAL}")),
        // A user name with a newline, as journald splits it:
        ("sshd", format!("{p}Invalid user x")),
        ("sshd", format!("from {FAKE} port 22 from {REAL} port 4444")),
        ("nginx-auth", format!("2026/11/22 00:00:00 [error] 7#7: *1 user \"a\": password mismatch, client: {FAKE}, server: x, request: \"\": password mismatch, client: {REAL}, server: example.com, request: \"GET / HTTP/1.1\", host: \"example.com\"")),
        ("nginx-auth", format!("2026/11/22 00:00:00 [error] 7#7: *1 user \"a\": password mismatch, client: {REAL}, server: example.com, request: \"GET /, client: {FAKE}, server: x, request: \"y\", host: \"example.com\"")),
        ("postfix-sasl", format!("Nov 22 00:00:00 mx postfix/smtpd[9]: warning: evil[{FAKE}]x[{REAL}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6")),
        ("dovecot", format!("Nov 22 00:00:00 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<a>, method=PLAIN, rip={FAKE}, lip=10.0.0.1>, method=PLAIN, rip={REAL}, lip=10.0.0.1, TLS, session=<AbCd>")),
        ("http-4xx", format!("{REAL} - - [22/Nov/2026:00:00:00 +0000] \"GET /{FAKE} - - [22/Nov/2026:00:00:00 +0000] \\\"GET / HTTP/1.1\\\" 401 1\" 404 153 \"-\" \"{FAKE}\"")),
        ("apache-auth", format!("[Sun Nov 22 00:00:00.000000 2026] [auth_basic:error] [pid 1] [client {REAL}:5555] AH01618: user [client {FAKE}:1] not found: /private")),
    ]
}

#[test]
fn issue6_injected_addresses_are_never_the_host() {
    let mut fail2ban_sshd = None;
    if let Some((_, conf)) = samples_dir() {
        let def = FilterDef::load(&conf, "sshd", &BTreeMap::new()).expect("fail2ban sshd");
        fail2ban_sshd = Some(Filter::compile(&def, &CompileOptions::default()).expect("compiles"));
    }
    for (name, line) in injections() {
        let f = compiled_builtin(name);
        for h in hosts(&f, &[&line]) {
            assert_eq!(h, REAL, "built-in {name} took {h} from: {line}");
        }
        if name == "sshd" {
            if let Some(f) = &fail2ban_sshd {
                for h in hosts(f, &[&line]) {
                    assert_eq!(h, REAL, "fail2ban's sshd took {h} from: {line}");
                }
            }
        }
    }
}

#[test]
fn issue6_builtins_detect_the_common_cases() {
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("sshd", "Nov 22 00:00:01 web sshd[1]: Failed password for root from 198.51.100.1 port 51000 ssh2", "198.51.100.1", Some("root")),
        ("sshd", "2026-11-22T00:00:01.123456+00:00 web sshd[1]: Failed password for invalid user admin from 2001:db8::7 port 51000 ssh2", "2001:db8::7", Some("admin")),
        ("sshd", "Nov 22 00:00:01 web sshd[1]: Invalid user oracle from 198.51.100.2 port 40000", "198.51.100.2", Some("oracle")),
        ("sshd", "Nov 22 00:00:01 web sshd-session[1]: Connection closed by authenticating user root 198.51.100.3 port 22 [preauth]", "198.51.100.3", Some("root")),
        ("nginx-auth", "2026/11/22 00:00:01 [error] 11#11: *5 user \"bob\": password mismatch, client: 198.51.100.4, server: example.com, request: \"GET /admin HTTP/1.1\", host: \"example.com\"", "198.51.100.4", Some("bob")),
        ("nginx-auth", "2026/11/22 00:00:01 [error] 11#11: *5 user \"eve\" was not found in \"/etc/nginx/.htpasswd\", client: 198.51.100.5, server: example.com, request: \"GET / HTTP/1.1\", host: \"example.com\"", "198.51.100.5", Some("eve")),
        ("apache-auth", "[Sun Nov 22 00:00:01.123456 2026] [auth_basic:error] [pid 9:tid 10] [client 198.51.100.6:1234] AH01617: user bob: authentication failure for \"/x\": Password Mismatch", "198.51.100.6", Some("bob")),
        ("http-4xx", "198.51.100.7 - - [22/Nov/2026:00:00:01 +0000] \"GET /.env HTTP/1.1\" 404 153 \"-\" \"curl/8\"", "198.51.100.7", None),
        ("http-badbots", "198.51.100.8 - - [22/Nov/2026:00:00:01 +0000] \"GET / HTTP/1.1\" 200 612 \"-\" \"Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)\"", "198.51.100.8", None),
        ("http-rate", "198.51.100.9 - - [22/Nov/2026:00:00:01 +0000] \"GET / HTTP/1.1\" 200 612 \"-\" \"Mozilla/5.0\"", "198.51.100.9", None),
        ("wordpress", "198.51.100.10 - - [22/Nov/2026:00:00:01 +0000] \"POST /wp-login.php HTTP/1.1\" 200 4523 \"-\" \"Mozilla/5.0\"", "198.51.100.10", None),
        ("wordpress", "198.51.100.11 - - [22/Nov/2026:00:00:01 +0000] \"POST /blog/xmlrpc.php HTTP/1.1\" 200 403 \"-\" \"-\"", "198.51.100.11", None),
        ("postfix-sasl", "Nov 22 00:00:01 mx postfix/submission/smtpd[77]: warning: unknown[198.51.100.12]: SASL LOGIN authentication failed: UGFzc3dvcmQ6", "198.51.100.12", None),
        ("dovecot", "Nov 22 00:00:01 mx dovecot: imap-login: Disconnected (auth failed, 3 attempts in 12 secs): user=<bob>, method=PLAIN, rip=198.51.100.13, lip=10.0.0.1, TLS, session=<AbCd>", "198.51.100.13", None),
    ];
    for (name, line, host, user) in cases {
        let f = compiled_builtin(name);
        let mut scan = Scan::new(&f, 1_764_000_000);
        let hits = scan.line(line);
        assert_eq!(hits.len(), 1, "{name} did not match: {line}");
        assert_eq!(hits[0].host, *host, "{name}");
        assert_eq!(hits[0].user.as_deref(), *user, "{name}");
        assert!(hits[0].time.is_some(), "{name}: no time from {line}");
    }
    // Ordinary traffic is not a failure.
    let f = compiled_builtin("sshd");
    assert!(hosts(&f, &["Nov 22 00:00:01 web sshd[1]: Accepted publickey for root from 198.51.100.1 port 5 ssh2"]).is_empty());
    let f = compiled_builtin("wordpress");
    assert!(hosts(&f, &["198.51.100.1 - - [22/Nov/2026:00:00:01 +0000] \"GET /wp-login.php HTTP/1.1\" 200 1 \"-\" \"-\""]).is_empty());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// Random bytes, NULs, invalid UTF-8 and huge lines never panic and are
    /// counted.
    #[test]
    fn issue6_garbage_lines_never_panic(lines in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..300), 1..20)) {
        static SSHD: std::sync::OnceLock<Filter> = std::sync::OnceLock::new();
        let f = SSHD.get_or_init(|| compiled_builtin("sshd"));
        let mut scan = Scan::new(f, 0);
        for l in &lines {
            let _ = scan.bytes(l);
        }
        proptest::prop_assert_eq!(scan.stats.lines, lines.len() as u64);
    }

    /// The fail2ban config reader and the filter compiler take any text.
    #[test]
    fn issue6_config_text_never_panics(text in "(\\[[A-Za-z]{0,8}\\]\n|[a-z_]{1,6} ?[=:] ?[%()<>a-zA-Z^$\\\\.*+?{},\\[\\] ]{0,30}\n|  [^\n]{0,20}\n|#[^\n]{0,10}\n){0,12}") {
        let set = rampart_syntax::fail2ban::ConfigSet::from_text("fuzz.conf", &text);
        if let Ok(def) = FilterDef::from_set("fuzz", &set, &BTreeMap::new()) {
            if let Ok(f) = Filter::compile(&def, &CompileOptions::default()) {
                let mut scan = Scan::new(&f, 0);
                let _ = scan.line("Nov 22 00:00:01 web sshd[1]: Failed password for root from 198.51.100.1 port 5 ssh2");
            }
        }
    }
}
