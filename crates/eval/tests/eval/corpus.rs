// Issue 4: the data-driven corpus `testdata/eval/*.toml`, run by the
// reference interpreter and by the compiled classifier. Both must meet
// every expectation of the file, and give identical outcomes (verdict,
// deciding rule, NAT, trace with reasons).

use rampart_eval::corpus::{Case, PolicyFormat};
use rampart_model::Policy;
use rampart_syntax::{Format, SourceFile};
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/eval")
}

/// Loads a case's policy (from its file or inline text) with the same
/// front ends the CLI uses; the origin's file name is the path as written.
pub fn load_policy(case: &Case, dir: &Path) -> Policy {
    let src = case
        .policy_source(dir, |p| std::fs::read_to_string(p))
        .unwrap_or_else(|e| panic!("{e}"));
    let format = match src.format {
        None => Format::detect(&src.name, &src.text),
        Some(PolicyFormat::IptablesSave) => Format::IptablesSave,
        Some(PolicyFormat::Ip6tablesSave) => Format::Ip6tablesSave,
        Some(PolicyFormat::Native) => Format::Native,
        Some(PolicyFormat::Script) => Format::IptablesScript,
        Some(f) => panic!("{}: policy format {f:?} has no front end here", src.name),
    };
    let parsed = format.parse(&SourceFile::new(src.name.clone(), src.text));
    assert!(
        !parsed.diagnostics.has_errors(),
        "{}: {}",
        src.name,
        parsed.diagnostics
    );
    parsed.value
}

#[test]
fn issue4_corpus_reference_and_classifier() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("testdata/eval exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the corpus has {} files", files.len());
    let mut failures = Vec::new();
    let mut packets = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable");
        let case = Case::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let policy = load_policy(&case, &corpus_dir());
        let reference = case.run(&policy, false).expect("runs");
        let compiled = case.run(&policy, true).expect("runs");
        for (i, cp) in case.packet.iter().enumerate() {
            packets += 1;
            let at = format!("{} packet {} `{}`", f.display(), i + 1, cp.packet);
            if let Err(e) = cp.check(&reference[i]) {
                failures.push(format!("{at}: reference: {e}\n{}", reference[i].render()));
            }
            if reference[i] != compiled[i] {
                failures.push(format!(
                    "{at}: the classifier differs from the reference:\n{}\n--- classifier:\n{}",
                    reference[i].render(),
                    compiled[i].render()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(packets >= 60, "only {packets} packets in the corpus");
}

/// Every corpus packet as a lone packet: the classifier's answers without
/// a trace (its compiled fast path where the policy's chains compile, the
/// walker elsewhere) equal the reference's, and the fast path is taken
/// for some of them.
#[test]
fn issue4_corpus_lone_packets_fast_path() {
    let mut fast = 0;
    let mut packets = 0;
    for f in std::fs::read_dir(corpus_dir()).expect("testdata/eval exists") {
        let f = f.expect("dir entry").path();
        if f.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("readable");
        let case = Case::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let policy = load_policy(&case, &corpus_dir());
        let mut ctx = case.context().expect("context");
        ctx.now = rampart_eval::Time::from_secs(case.time.unwrap_or(1_700_000_000));
        let classifier = rampart_eval::Classifier::new(&policy);
        let reference = rampart_eval::Reference::new(&policy);
        for cp in &case.packet {
            let pkt = rampart_eval::Packet::parse(&cp.packet).expect("packet parses");
            packets += 1;
            fast += usize::from(classifier.is_fast(&ctx, &pkt));
            let at = format!("{} `{}`", f.display(), cp.packet);
            assert_eq!(
                classifier.verdict(&ctx, &pkt),
                reference.verdict(&ctx, &pkt),
                "{at}"
            );
            assert_eq!(
                classifier.decide(&ctx, &pkt),
                reference.decide(&ctx, &pkt),
                "{at}"
            );
        }
    }
    eprintln!("{fast} of {packets} corpus packets on the fast path");
    assert!(
        fast * 4 >= packets,
        "only {fast} of {packets} corpus packets on the fast path"
    );
}
