//! Conformance with the iptables project's own rule-syntax tests
//! (`../shared/conformance/iptables-extension-tests`, see its README).
//!
//! For every line of every `.t` file and every chain the line is valid in:
//! - an `OK` line must parse and print back exactly as its EXPECTED text;
//! - a `FAIL` line must be rejected;
//! - a line that uses an extension rampart does not support must be
//!   rejected with an error that names the extension.
//!
//! Lines that cannot hold here are listed in `tests/conformance-skips/*.txt` with a
//! reason; a listed line that starts passing is reported so the list stays
//! honest. A per-file report is written to
//! `target/conformance-report.txt`.

use rampart_model::{Family, TableKind};
use rampart_syntax::iptables::{
    cmd::Command, lex::split_line, parse_command, rule_options, CmdContext,
};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

fn suite_dir() -> PathBuf {
    if let Ok(d) = std::env::var("RAMPART_CONFORMANCE_DIR") {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/iptables-extension-tests")
}

#[derive(Default, Debug)]
struct FileStats {
    ok_pass: usize,
    fail_pass: usize,
    unsupported: usize,
    informative: usize,
    skipped: usize,
    failures: Vec<String>,
}

enum Outcome {
    Printed(String),
    Rejected(String),
}

fn run_rule(rule: &str, family: Family, table: TableKind, chain: &str) -> Outcome {
    let line = format!("-A {chain} {rule}");
    let toks = match split_line(&line, 0) {
        Ok(t) => t,
        Err(e) => return Outcome::Rejected(e.message),
    };
    let cx = CmdContext {
        family,
        table,
        allow_table_option: false,
    };
    match parse_command(&toks, &cx) {
        Err(e) => Outcome::Rejected(e.message),
        Ok(inv) => match inv.command {
            Command::Append { rules, .. } => {
                let printed: Vec<String> = rules.iter().map(|r| rule_options(r, family)).collect();
                Outcome::Printed(printed.join("\n"))
            }
            _ => Outcome::Rejected("not an append".into()),
        },
    }
}

fn load_skips() -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance-skips");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut skips = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for l in text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let (k, v) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            assert!(
                !v.trim().is_empty(),
                "{}: skip `{k}` has no reason",
                f.display()
            );
            skips.insert(k.to_string(), v.trim().to_string());
        }
    }
    skips
}

/// Extensions named in a rule (`-m X`, `-j X`), for the unsupported check.
fn extensions(rule: &str) -> Vec<String> {
    let words: Vec<&str> = rule.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| matches!(w[0], "-m" | "-j" | "--match" | "--jump"))
        .map(|w| w[1].to_string())
        .collect()
}

#[test]
fn iptables_extension_tests() {
    let dir = suite_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("conformance suite not found at {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "t"))
        .collect();
    files.sort();
    assert!(
        files.len() > 100,
        "expected the whole suite, found {} files",
        files.len()
    );
    let skips = load_skips();
    let mut used_skips = std::collections::BTreeSet::new();
    let mut report = String::new();
    let mut all_failures = Vec::new();
    let mut totals = FileStats::default();

    for path in &files {
        let fname = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or_default()
            .to_string();
        let family = if fname.starts_with("libip6t_") {
            Family::Ipv6
        } else {
            Family::Ipv4
        };
        let text = std::fs::read_to_string(path).expect("readable test file");
        let mut table = TableKind::Filter;
        let mut chains: Vec<String> = Vec::new();
        let mut st = FileStats::default();
        for (n, line) in text.lines().enumerate() {
            let lineno = n + 1;
            let key = format!("{fname}:{lineno}");
            if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
                continue;
            }
            if let Some(c) = line.strip_prefix(':') {
                chains = c.split(',').map(|s| s.trim().to_string()).collect();
                continue;
            }
            if let Some(t) = line.strip_prefix('*') {
                table = TableKind::from_name(t.trim()).expect("known table");
                continue;
            }
            let fields: Vec<&str> = line.split(';').collect();
            if fields.len() < 3 {
                continue;
            }
            let (rule, expected, result) = (fields[0], fields[1], fields[2]);
            let variant = fields.get(3).copied();
            if variant == Some("LEGACY") {
                // Informative only (README): what iptables-legacy does.
                st.informative += 1;
                continue;
            }
            if let Some(reason) = skips.get(&key) {
                used_skips.insert(key.clone());
                st.skipped += 1;
                let _ = reason;
                continue;
            }
            let expected = if expected == "=" { rule } else { expected };
            let mut line_failures = Vec::new();
            let mut unsupported = false;
            for chain in &chains {
                match (run_rule(rule, family, table, chain), result) {
                    (Outcome::Printed(p), "OK") if p == expected => {}
                    (Outcome::Printed(p), "OK") => line_failures.push(format!("{key} [{chain}] `{rule}`: printed `{p}`, expected `{expected}`")),
                    (Outcome::Rejected(m), _) if m.contains("unknown match extension") || m.contains("not supported") => {
                        let exts = extensions(rule);
                        if exts.iter().any(|e| m.contains(&format!("`{e}`"))) {
                            unsupported = true;
                        } else {
                            line_failures.push(format!("{key} [{chain}] `{rule}`: unsupported without naming the extension: {m}"));
                        }
                    }
                    (Outcome::Rejected(m), "OK") => line_failures.push(format!("{key} [{chain}] `{rule}`: rejected: {m}")),
                    (Outcome::Rejected(_), _) => {}
                    (Outcome::Printed(p), _) => line_failures.push(format!("{key} [{chain}] `{rule}`: accepted (printed `{p}`) but iptables rejects it")),
                }
            }
            if unsupported && line_failures.is_empty() {
                st.unsupported += 1;
            } else if line_failures.is_empty() {
                if result == "OK" {
                    st.ok_pass += 1;
                } else {
                    st.fail_pass += 1;
                }
            } else {
                st.failures.extend(line_failures);
            }
        }
        let _ = writeln!(
            report,
            "{fname:28} ok {:3}  fail-rejected {:3}  unsupported {:3}  legacy-only {:2}  skipped {:2}  FAILED {:3}",
            st.ok_pass, st.fail_pass, st.unsupported, st.informative, st.skipped, st.failures.len()
        );
        totals.ok_pass += st.ok_pass;
        totals.fail_pass += st.fail_pass;
        totals.unsupported += st.unsupported;
        totals.informative += st.informative;
        totals.skipped += st.skipped;
        all_failures.extend(st.failures);
    }
    let _ = writeln!(
        report,
        "TOTAL ok {}  fail-rejected {}  unsupported {}  legacy-only {}  skipped {}  FAILED {}",
        totals.ok_pass,
        totals.fail_pass,
        totals.unsupported,
        totals.informative,
        totals.skipped,
        all_failures.len()
    );
    let stale: Vec<&String> = skips.keys().filter(|k| !used_skips.contains(*k)).collect();
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/conformance-report.txt");
    let _ = std::fs::write(&out, format!("{report}\n{}", all_failures.join("\n")));
    println!("{report}");
    assert!(
        stale.is_empty(),
        "skip list names lines that do not exist: {stale:?}"
    );
    assert!(
        all_failures.is_empty(),
        "{} conformance failures:\n{}",
        all_failures.len(),
        all_failures.join("\n")
    );
}
