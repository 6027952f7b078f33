//! Issue 6: `[protect]` — in-kernel flood protection in the native
//! policy: what it lowers to, its diagnostics, and the way back.

use rampart_model::{Family, Match, TableKind, Target};
use rampart_syntax::diag::SourceFile;
use rampart_syntax::native;

const FLOOD: &str = r#"
[defaults]
input = "drop"

[protect]
syn_rate = { per_source = "50/second", burst = 100, ban = "10m" }
new_rate = { per_source = "100/second", burst = 200 }
connlimit = { per_source = 200, ban = "1h" }
chains = ["input", "forward"]

[[allow]]
service = "http"
"#;

fn parse(text: &str) -> rampart_syntax::Parsed<rampart_model::Policy> {
    native::parse_native_with(
        &SourceFile::new("p.toml", text.to_string()),
        &mut |p: &str| -> Result<String, String> {
            match p {
                "inc.toml" => Ok("[protect]\nsyn_rate = { per_source = \"1/second\" }\n".into()),
                _ => Err(format!("no file {p}")),
            }
        },
    )
}

fn errors(text: &str) -> String {
    let p = parse(text);
    assert!(p.diagnostics.has_errors(), "no error for:\n{text}");
    p.diagnostics.to_string()
}

#[test]
fn issue6_protect_lowers_to_meters_that_ban_and_a_ban_drop() {
    let p = parse(FLOOD);
    assert!(!p.diagnostics.has_errors(), "{}", p.diagnostics);
    let policy = p.value;
    for (family, set) in [
        (Family::Ipv4, "protect-ban"),
        (Family::Ipv6, "protect-ban-v6"),
    ] {
        let s = policy.sets.iter().find(|s| s.name == set).expect("ban set");
        assert_eq!(s.timeout, Some(3600), "the longest ban");
        assert_eq!(s.options.maxelem, Some(1 << 20));
        for chain in ["INPUT", "FORWARD"] {
            let rules = &policy
                .table(family, TableKind::Filter)
                .and_then(|t| t.chain(chain))
                .expect("chain")
                .rules;
            let notes: Vec<String> = rules
                .iter()
                .filter_map(|r| {
                    r.matches.iter().find_map(|m| match m {
                        Match::Comment(c) => Some(c.comment.clone()),
                        _ => None,
                    })
                })
                .collect();
            assert_eq!(
                notes,
                [
                    "protect: syn_rate",
                    "protect: new_rate",
                    "protect: connlimit",
                    "protect: ban"
                ],
                "{family:?} {chain}"
            );
            // Before ESTABLISHED: right after the loopback accept (INPUT).
            let first = usize::from(chain == "INPUT");
            let syn = &rules[first];
            match &syn.target {
                Some(Target::SetTarget(st)) => {
                    assert_eq!(st.add_set.as_ref().map(|s| s.name.as_str()), Some(set));
                    assert_eq!(st.timeout, Some(600));
                }
                t => panic!("syn meter target {t:?}"),
            }
            assert!(syn
                .matches
                .iter()
                .any(|m| matches!(m, Match::Hashlimit(h) if h.above && h.name == "protect-syn")));
            // No ban on the NEW meter: it drops the excess.
            assert_eq!(rules[first + 1].target, Some(Target::Drop));
            assert_eq!(rules[first + 3].target, Some(Target::Drop));
        }
    }
}

#[test]
fn issue6_protect_converts_back_to_native() {
    let policy = parse(FLOOD).value;
    let text = native::to_native(&policy).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(text.contains("[protect]"), "{text}");
    assert!(
        text.contains("syn_rate = { per_source = \"50/second\", burst = 100, ban = 600 }"),
        "{text}"
    );
    assert!(text.contains("chains = [\"input\", \"forward\"]"), "{text}");
    // Without a ban, input only, accept policy: still there.
    let p = parse(
        "[defaults]\ninput = \"accept\"\n[protect]\nnew_rate = { per_source = \"20/second\" }\n",
    );
    assert!(!p.diagnostics.has_errors(), "{}", p.diagnostics);
    assert!(p.value.sets.is_empty());
    let text = native::to_native(&p.value).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        text.contains("new_rate = { per_source = \"20/second\", burst = 5 }"),
        "{text}"
    );
}

#[test]
fn issue6_protect_errors_name_the_place() {
    let e = errors("[protect]\nsyn_rate = { per_source = \"50/fortnight\" }\n");
    assert!(
        e.contains("p.toml:2:") && e.contains("unknown rate unit"),
        "{e}"
    );
    let e = errors("[protect]\nsyn_rate = { per_source = \"5/s\", ban = \"10 parsecs\" }\n");
    assert!(e.contains("duration unit"), "{e}");
    let e = errors("[protect]\nconnlimit = { per_source = 0 }\n");
    assert!(e.contains("0 connections"), "{e}");
    let e = errors("[protect]\nsyn_rate = { per_source = \"5/s\" }\nchains = [\"output\"]\n");
    assert!(e.contains("`output` is not a chain"), "{e}");
    let e = errors("[protect]\n");
    assert!(e.contains("without a limit"), "{e}");
    let e = errors("[protect]\nsyn_rat = { per_source = \"5/s\" }\n");
    assert!(e.contains("syn_rat"), "{e}");
    let e = errors("[protect]\nsyn_rate = { burst = 3 }\n");
    assert!(e.contains("per_source"), "{e}");
    let e = errors("include = [\"inc.toml\"]\n[defaults]\ninput = \"drop\"\n");
    assert!(e.contains("`[protect]` in an included file"), "{e}");
    let e = errors("[sets.protect-ban]\nelements = [\"192.0.2.1\"]\n");
    assert!(e.contains("reserved"), "{e}");
}
