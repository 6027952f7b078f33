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

fn parse_text(name: &str, text: &str) -> rampart_syntax::Parsed<rampart_model::Policy> {
    let mut no_files = |p: &str| -> Result<String, String> { Err(format!("no such file {p}")) };
    native::parse_native_with(&SourceFile::new(name, text), &mut no_files)
}

#[test]
fn round_trip_every_example() {
    for p in example_paths() {
        let first = native::parse_native(&load(&p));
        assert!(first.diagnostics.is_empty(), "{}", first.diagnostics);
        let text = match native::to_native(&first.value) {
            Ok(t) => t,
            Err(e) => panic!(
                "{}: {}",
                p.display(),
                e.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
            ),
        };
        let second = parse_text("converted.toml", &text);
        assert!(second.diagnostics.is_empty(), "{}\n{text}", second.diagnostics);
        let again = native::to_native(&second.value).expect("converts again");
        let third = parse_text("converted2.toml", &again);
        let (mut a, mut b) = (first.value.clone(), third.value.clone());
        a.strip_origins();
        b.strip_origins();
        assert_eq!(a, b, "{}:\n{text}", p.display());
    }
}
