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
                e.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        };
        let second = parse_text("converted.toml", &text);
        assert!(
            second.diagnostics.is_empty(),
            "{}\n{text}",
            second.diagnostics
        );
        let again = native::to_native(&second.value).expect("converts again");
        let third = parse_text("converted2.toml", &again);
        let (mut a, mut b) = (first.value.clone(), third.value.clone());
        a.strip_origins();
        b.strip_origins();
        assert_eq!(a, b, "{}:\n{text}", p.display());
    }
}

/// Golden diagnostics: every `tests/golden/native/*.toml` is parsed and its
/// diagnostics compared with the `.txt` beside it. `UPDATE_GOLDEN=1`
/// rewrites the `.txt` files.
#[test]
fn golden_diagnostics() {
    let dir = Path::new("tests/golden/native");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("golden dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 5);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for p in paths {
        let parsed = native::parse_native(&load(&p));
        assert!(
            parsed.diagnostics.has_errors(),
            "{} has no errors",
            p.display()
        );
        let got = parsed.diagnostics.to_string();
        let golden = p.with_extension("txt");
        if update {
            std::fs::write(&golden, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- got\n{got}--- want\n{want}",
                golden.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(run with UPDATE_GOLDEN=1 to accept)",
        failures.join("\n")
    );
}

/// hickory-style: an unknown key injected at every table level of every
/// example is an error located on the injected line that names the key.
#[test]
fn unknown_keys_are_rejected_everywhere() {
    for p in example_paths() {
        let text = std::fs::read_to_string(&p).expect("example");
        let lines: Vec<&str> = text.lines().collect();
        let mut variants: Vec<(String, u32)> = Vec::new();
        // Root level: before everything.
        variants.push((format!("bogus_root = 1\n{text}"), 1));
        // After every table header.
        for (i, l) in lines.iter().enumerate() {
            if l.trim_start().starts_with('[') {
                let mut v = lines.clone();
                v.insert(i + 1, "bogus_key = 1");
                variants.push((v.join("\n"), u32::try_from(i + 2).expect("small")));
            }
            // Inside every inline table.
            if let Some(pos) = l.find("= {") {
                let mut v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                v[i] = format!("{}= {{ bogus_inline = 1, {}", &l[..pos], &l[pos + 3..]);
                variants.push((v.join("\n"), u32::try_from(i + 1).expect("small")));
            }
        }
        assert!(variants.len() > 3, "{}", p.display());
        for (v, line) in variants {
            let parsed = native::parse_native(&SourceFile::new(p.to_string_lossy(), v.clone()));
            let errs: Vec<_> = parsed.diagnostics.errors().collect();
            assert_eq!(
                errs.len(),
                1,
                "{}:\n{v}\n{}",
                p.display(),
                parsed.diagnostics
            );
            let e = errs[0];
            assert!(e.message.contains("unknown field `bogus"), "{}", e);
            assert_eq!(e.line, line, "{e}");
            assert!(e.source_line.contains("bogus"), "{e}");
        }
    }
}

fn rules_of(p: &rampart_model::Policy, f: Family, chain: &str) -> Vec<String> {
    let text = iptables::save_text(p, f);
    text.lines()
        .filter(|l| l.starts_with(&format!("-A {chain} ")))
        .map(str::to_string)
        .collect()
}

#[test]
fn web_example_lowers_like_an_expert_would_write_it() {
    use rampart_model::{ChainPolicy, Match, Protocol, TableKind, Target};
    let parsed = native::parse_native(&load(&examples_dir().join("web.toml")));
    assert!(parsed.diagnostics.is_empty(), "{}", parsed.diagnostics);
    let p = &parsed.value;
    for f in [Family::Ipv4, Family::Ipv6] {
        let t = p.table(f, TableKind::Filter).expect("filter table");
        let input = t.chain("INPUT").expect("INPUT");
        assert_eq!(input.policy, Some(ChainPolicy::Drop));
        assert_eq!(
            t.chain("FORWARD").and_then(|c| c.policy),
            Some(ChainPolicy::Drop)
        );
        assert_eq!(
            t.chain("OUTPUT").and_then(|c| c.policy),
            Some(ChainPolicy::Accept)
        );
        // ESTABLISHED,RELATED accept first, then lo, then INVALID drop.
        let first = &input.rules[0];
        assert!(
            matches!(&first.matches[..], [Match::Conntrack(c)] if c.state.is_some_and(|s| s.value.established && s.value.related))
        );
        assert_eq!(first.target, Some(Target::Accept));
        assert_eq!(
            input.rules[1].in_iface.as_ref().map(|i| i.value.0.as_str()),
            Some("lo")
        );
        assert_eq!(input.rules[2].target, Some(Target::Drop));
        // Every rule cites its TOML line.
        assert!(input.rules.iter().all(|r| r.origin.is_some()));
        // ssh (rate limited, from the office set) and http/https in both families.
        let accepts_port = |port: u16| {
            input.rules.iter().any(|r| {
                r.target == Some(Target::Accept)
                    && r.protocol.is_some_and(|p| p.value == Protocol::TCP)
                    && r.matches.iter().any(|m| match m {
                        Match::Tcp(t) => t.dport.is_some_and(|d| d.value.contains(port)),
                        Match::Multiport(mp) => mp.ports.value.iter().any(|r| r.contains(port)),
                        _ => false,
                    })
            })
        };
        assert!(
            accepts_port(22) && accepts_port(80) && accepts_port(443),
            "{f:?}"
        );
        // The LOG of drops is the last rule.
        assert!(matches!(
            input.rules.last().and_then(|r| r.target.as_ref()),
            Some(Target::Log(_))
        ));
    }
    // The ssh rule's origin is its [[allow]] line.
    let ssh = p
        .table(Family::Ipv4, TableKind::Filter)
        .and_then(|t| t.chain("INPUT"))
        .and_then(|c| {
            c.rules
                .iter()
                .find(|r| r.matches.iter().any(|m| matches!(m, Match::Hashlimit(_))))
        })
        .expect("hashlimit rule");
    let o = ssh.origin.as_ref().expect("origin");
    let text = std::fs::read_to_string(examples_dir().join("web.toml")).expect("web");
    assert_eq!(text.lines().nth(o.line as usize - 1), Some("[[allow]]"));
    assert_eq!(text.lines().nth(o.line as usize), Some("service = \"ssh\""));
    // Sets: office has both families -> office and office-v6; blocklist from file.
    let names: Vec<&str> = p.sets.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"office") && names.contains(&"office-v6") && names.contains(&"blocklist")
    );
    let bl = p.set("blocklist").expect("blocklist");
    assert_eq!(bl.elements.len(), 2);
    assert_eq!(bl.timeout, Some(86_400));
    // The monitoring include's rule is there.
    assert!(rules_of(p, Family::Ipv4, "INPUT")
        .iter()
        .any(|l| l.contains("10.8.0.10")));
}

#[test]
fn router_example_has_nat_forward_and_sysctl() {
    use rampart_model::{TableKind, Target};
    let parsed = native::parse_native(&load(&examples_dir().join("router.toml")));
    assert!(parsed.diagnostics.is_empty(), "{}", parsed.diagnostics);
    let p = &parsed.value;
    let nat = p.table(Family::Ipv4, TableKind::Nat).expect("nat");
    let pre = &nat.chain("PREROUTING").expect("PREROUTING").rules;
    assert_eq!(pre.len(), 2);
    assert!(matches!(pre[0].target, Some(Target::Dnat(_))));
    let post = &nat.chain("POSTROUTING").expect("POSTROUTING").rules;
    assert!(matches!(post[0].target, Some(Target::Masquerade(_))));
    assert!(p.table(Family::Ipv6, TableKind::Nat).is_none());
    let fwd = &p
        .table(Family::Ipv4, TableKind::Filter)
        .and_then(|t| t.chain("FORWARD"))
        .expect("FORWARD")
        .rules;
    assert!(fwd.iter().any(|r| r
        .destination
        .is_some_and(|d| d.value.to_string() == "10.0.0.5/32")
        && r.target == Some(Target::Accept)));
    assert!(p
        .sysctls
        .iter()
        .any(|s| s.key == "net.ipv4.ip_forward" && s.value == "1"));
}

#[test]
fn includes_and_sets_through_a_loader_closure() {
    let mut files = |p: &str| -> Result<String, String> {
        match p {
            "dir/extra.toml" => Ok("[[allow]]\nport = \"8443/tcp\"\nfrom = \"@friends\"\n".into()),
            "dir/friends.txt" => Ok("# friends\n192.0.2.7\n\n2001:db8::7 # v6\n".into()),
            "dir/loop.toml" => Ok("include = [\"policy.toml\"]\n".into()),
            _ => Err("not found".into()),
        }
    };
    let text = "include = [\"extra.toml\"]\n[sets.friends]\nfile = \"friends.txt\"\n";
    let parsed = native::parse_native_with(&SourceFile::new("dir/policy.toml", text), &mut files);
    assert!(parsed.diagnostics.is_empty(), "{}", parsed.diagnostics);
    assert!(rules_of(&parsed.value, Family::Ipv6, "INPUT")
        .iter()
        .any(|l| l.contains("8443")));
    let cyc = native::parse_native_with(
        &SourceFile::new("dir/policy.toml", "include = [\"loop.toml\"]\n"),
        &mut files,
    );
    let msg = cyc.diagnostics.to_string();
    assert!(
        msg.contains("include cycle: dir/policy.toml -> dir/loop.toml -> dir/policy.toml"),
        "{msg}"
    );
    assert!(msg.starts_with("dir/loop.toml:1:12"), "{msg}");
}

#[test]
fn not_expressible_names_the_construct_and_origin() {
    let file = SourceFile::new(
        "rules.v4",
        "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n-N SSH\n-A INPUT -p tcp -m tcp --dport 22 -j SSH\nCOMMIT\n",
    );
    let parsed = iptables::parse_save(&file, Family::Ipv4);
    let errs = native::to_native(&parsed.value).expect_err("user chains are not expressible");
    let all: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        all.iter().any(|e| e.contains("user chain `SSH`")),
        "{all:?}"
    );
    assert!(all.iter().any(|e| e.starts_with("rules.v4:6:")), "{all:?}");
}

#[test]
fn service_catalogue_has_the_issue_list() {
    for name in [
        "ssh",
        "http",
        "https",
        "smtp",
        "submission",
        "imap",
        "imaps",
        "pop3",
        "pop3s",
        "dns",
        "ntp",
        "openvpn",
        "wireguard",
        "mysql",
        "postgresql",
        "plex",
        "jitsi",
    ] {
        assert!(
            native::service_catalogue().iter().any(|s| s.name == name),
            "{name}"
        );
    }
    let plex = native::catalogue::service("plex").expect("plex");
    assert_eq!(plex.tcp, &[(32400, 32400)]);
    assert_eq!(plex.udp.len(), 4);
}

#[test]
fn hostile_input_does_not_panic() {
    for text in [
        "",
        "[",
        "[[allow]]\nport = [\"65535-1/tcp\"]\n",
        "[[allow]]\nfrom = [\"::/0\", \"0.0.0.0/0\"]\nto = \"::1\"\n",
        "[sets.x]\ntimeout = 99999999999999999\n",
        "[[allow]]\nrate = { per_source = \"999999999999/s\" }\n",
        "[[nat.forward]]\nin = \"\"\nport = \"/tcp\"\nto = \"[::1\"\n",
        "include = [\"*\"]\n",
        "[defaults]\nlog = { burst = 0 }\n",
        "[[allow]]\nin = \"aaaaaaaaaaaaaaaaaaaaaaaaa\"\ncomment = \"\\u0000\"\n",
    ] {
        let _ = parse_text("fuzz.toml", text);
    }
}
