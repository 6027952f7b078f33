//! The realistic rulesets of `testdata/`: each is imported, printed,
//! compared with what the real `iptables-save` printed for the same input
//! (goldens made by loading the file or running the script inside a
//! throwaway network namespace), and re-imported to the same model.
//! Broken variants under `testdata/broken/` are compared with golden
//! diagnostics (`UPDATE_GOLDEN=1` rewrites them).

use rampart_model::{Family, Policy};
use rampart_syntax::{iptables, script, Format, SourceFile};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn load(name: &str) -> (SourceFile, Format) {
    let path = testdata().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = SourceFile::new(format!("testdata/{name}"), text);
    let fmt = Format::detect(name, &file.text);
    (file, fmt)
}

/// `*table` sections of an iptables-save text: table → its lines (chains
/// and rules, comments dropped). Tables are compared as a map because the
/// nft-based iptables-save orders tables its own way.
fn sections(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cur = None;
    for l in text.lines() {
        if l.starts_with('#') || l.trim().is_empty() {
            continue;
        }
        if let Some(t) = l.strip_prefix('*') {
            cur = Some(t.to_string());
            out.entry(t.to_string()).or_default();
            continue;
        }
        if let Some(t) = &cur {
            out.entry(t.clone()).or_default().push(l.to_string());
        }
    }
    out
}

fn import_clean(name: &str) -> Policy {
    let (file, fmt) = load(name);
    let parsed = fmt.parse(&file);
    assert!(
        parsed.diagnostics.is_empty(),
        "{name} should import cleanly, got:\n{}",
        parsed.diagnostics
    );
    parsed.value
}

fn golden(name: &str) -> Option<String> {
    std::fs::read_to_string(testdata().join("golden").join(name)).ok()
}

fn check_against_golden(name: &str, policy: &Policy, family: Family, golden_name: &str) {
    let printed = iptables::save_text(policy, family);
    let want = golden(golden_name).unwrap_or_else(|| panic!("missing golden {golden_name}"));
    let (got, want) = (sections(&printed), sections(&want));
    for (table, lines) in &want {
        let ours = got
            .get(table)
            .unwrap_or_else(|| panic!("{name}: table {table} missing from our output:\n{printed}"));
        assert_eq!(
            ours, lines,
            "{name}: table {table} differs from iptables-save's normalized form"
        );
    }
    // Tables we print that iptables-save did not (empty ones) must be empty.
    for (table, lines) in &got {
        if !want.contains_key(table) {
            assert!(
                lines.iter().all(|l| l.starts_with(':')),
                "{name}: extra table {table} with rules"
            );
        }
    }
}

fn reimport_same(name: &str, policy: &Policy) {
    let mut back = Policy::default();
    for fam in policy.families() {
        let text = iptables::save_text(policy, fam);
        let file = SourceFile::new(format!("{name}.printed"), text);
        let mut diags = rampart_syntax::Diagnostics::default();
        iptables::save::parse_save_into(&file, fam, &mut back, &mut diags);
        assert!(
            diags.is_empty(),
            "{name}: printed text does not re-import:\n{diags}"
        );
    }
    let mut a = policy.clone();
    a.strip_origins();
    a.sets.clear();
    a.sysctls.clear();
    back.strip_origins();
    assert_eq!(
        a.tables, back.tables,
        "{name}: import -> print -> import changed the model"
    );
}

#[test]
fn save_files_match_iptables_save_and_round_trip() {
    for (name, fam) in [
        ("web-server.v4", Family::Ipv4),
        ("nat-router.v4", Family::Ipv4),
        ("mail-server.v4", Family::Ipv4),
        ("docker-host.v4", Family::Ipv4),
        ("ipv6-server.v6", Family::Ipv6),
    ] {
        let p = import_clean(name);
        check_against_golden(name, &p, fam, &format!("{name}.expected"));
        reimport_same(name, &p);
    }
}

#[test]
fn scripts_match_iptables_save_and_round_trip() {
    for name in ["media-server.sh", "ipset-blocklist.sh", "blocklist-5000.sh"] {
        let p = import_clean(name);
        for (fam, suffix) in [(Family::Ipv4, "v4"), (Family::Ipv6, "v6")] {
            let g = format!("{name}.{suffix}.expected");
            if golden(&g).is_some() {
                check_against_golden(name, &p, fam, &g);
            }
        }
        reimport_same(name, &p);
    }
}

#[test]
fn blocklist_script_has_5000_rules() {
    let p = import_clean("blocklist-5000.sh");
    assert_eq!(p.rule_count(), 5000);
}

/// Sets of the ipset script equal what `ipset save` printed (ignoring the
/// kernel's own bucketsize/initval and the remaining-time countdown).
#[test]
fn ipset_script_sets_match_ipset_save() {
    let p = import_clean("ipset-blocklist.sh");
    let want = golden("ipset-blocklist.sh.ipset.expected").expect("golden");
    let normalize = |text: &str| -> Vec<String> {
        let mut v: Vec<String> = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                let mut out = Vec::new();
                let mut i = 0;
                while i < words.len() {
                    match words[i] {
                        "bucketsize" | "initval" => i += 2,
                        "timeout" if words[0] == "add" => i += 2,
                        "hashsize" | "maxelem" if words[0] == "create" => i += 2,
                        w => {
                            out.push(w);
                            i += 1;
                        }
                    }
                }
                out.join(" ")
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(normalize(&script::ipset_save_text(&p)), normalize(&want));
}

/// Broken files: every diagnostic, rendered, equals the golden text.
#[test]
fn broken_files_give_golden_diagnostics() {
    let dir = testdata().join("broken");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("testdata/broken")
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.ends_with(".diag"))
        .collect();
    names.sort();
    assert!(names.len() >= 3);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for name in names {
        let (file, fmt) = load(&format!("broken/{name}"));
        let parsed = fmt.parse(&file);
        assert!(
            parsed.diagnostics.has_errors(),
            "broken/{name} should have errors"
        );
        let rendered = parsed.diagnostics.to_string();
        let gpath = dir.join(format!("{name}.diag"));
        if update {
            std::fs::write(&gpath, &rendered).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&gpath)
            .unwrap_or_else(|_| panic!("missing {}; run with UPDATE_GOLDEN=1", gpath.display()));
        assert_eq!(rendered, want, "diagnostics of broken/{name} changed");
    }
}
