//! The native policy format: examples, unknown keys, diagnostics, lowering,
//! round trip.

use rampart_model::Family;
use rampart_syntax::diag::SourceFile;
use rampart_syntax::{iptables, native};
use std::path::{Path, PathBuf};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn example_paths() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

fn load(path: &Path) -> SourceFile {
    let text = std::fs::read_to_string(path).expect("readable example");
    SourceFile::new(path.to_string_lossy(), text)
}

#[test]
fn dump_web() {
    let f = load(&examples_dir().join("router.toml"));
    let p = native::parse_native(&f);
    eprintln!("{}", p.diagnostics);
    for fam in [Family::Ipv4, Family::Ipv6] {
        eprintln!("{}", iptables::save_text(&p.value, fam));
    }
    eprintln!("{:?}", p.value.sysctls);
}

#[test]
fn every_example_parses_clean() {
    let paths = example_paths();
    assert!(paths.len() >= 5);
    for p in paths {
        let parsed = native::parse_native(&load(&p));
        assert!(
            parsed.diagnostics.is_empty(),
            "{}:\n{}",
            p.display(),
            parsed.diagnostics
        );
        assert!(parsed.value.rule_count() > 0, "{}", p.display());
    }
}
