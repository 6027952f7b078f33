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
        // lo first, then ESTABLISHED,RELATED accept, then INVALID drop.
        assert_eq!(
            input.rules[0].in_iface.as_ref().map(|i| i.value.0.as_str()),
            Some("lo")
        );
        let second = &input.rules[1];
        assert!(
            matches!(&second.matches[..], [Match::Conntrack(c)] if c.state.is_some_and(|s| s.value.established && s.value.related))
        );
        assert_eq!(second.target, Some(Target::Accept));
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
        "[[allow]]\nicmp = [\"999/999\", \"/\", \"\"]\nsource_port = \"99999-1\"\n",
        "[[deny]]\naction = \"reject\"\nreject_with = \"tcp-reset\"\nstate = []\n",
        "[defaults]\nestablished = [1]\nloopback = []\nfamily = \"ipv6\"\n[[allow]]\nicmp = \"8\"\n",
        "[[allow]]\nicmpv6 = \"1\"\nhop_limit = 256\nrate = { global = \"1/s\", excess = \"continue\" }\n",
    ] {
        let _ = parse_text("fuzz.toml", text);
    }
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

/// Parses a testdata file with the front end its extension names.
fn import(name: &str) -> rampart_model::Policy {
    let path = testdata(name);
    let file = load(&path);
    let parsed = if name.ends_with(".sh") {
        rampart_syntax::script::parse_script(&file)
    } else if name.ends_with(".v6") {
        iptables::parse_save(&file, Family::Ipv6)
    } else {
        iptables::parse_save(&file, Family::Ipv4)
    };
    assert!(
        !parsed.diagnostics.has_errors(),
        "{name}: {}",
        parsed.diagnostics
    );
    parsed.value
}

/// Real rulesets (lo before ESTABLISHED, `--ctstate NEW`, ICMP type rules,
/// a final REJECT with a type, one family only) convert exactly:
/// parse_native(to_native(model)) is the model, origins aside.
#[test]
fn real_rulesets_convert_exactly() {
    for name in ["media-server.sh", "ipv6-server.v6", "blocklist-5000.sh"] {
        let model = import(name);
        let text = native::to_native(&model).unwrap_or_else(|e| {
            panic!(
                "{name}: {}",
                e.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        let back = parse_text("converted.toml", &text);
        assert!(back.diagnostics.is_empty(), "{name}: {}", back.diagnostics);
        let (mut a, mut b) = (model.clone(), back.value.clone());
        a.strip_origins();
        b.strip_origins();
        for p in [&mut a, &mut b] {
            for t in &mut p.tables {
                for c in &mut t.chains {
                    c.counters = None;
                    c.rules.iter_mut().for_each(|r| r.counters = None);
                }
            }
            p.tables.retain(|t| {
                t.chains.iter().any(|c| {
                    !c.rules.is_empty() || c.policy != Some(rampart_model::ChainPolicy::Accept)
                })
            });
            p.tables.sort_by_key(|t| (t.family, t.kind));
        }
        assert_eq!(a, b, "{name}:\n{text}");
    }
}

/// What is left of the other testdata files is what has no native form:
/// user chains, other tables, named hashlimit tables, docker's negations.
#[test]
fn what_remains_not_expressible_is_named_with_its_line() {
    for (name, lines) in [
        ("mail-server.v4", &[9u32, 10, 15][..]),
        ("web-server.v4", &[12, 15, 16, 20][..]),
        ("nat-router.v4", &[8][..]),
    ] {
        let errs = native::to_native(&import(name)).expect_err(name);
        let mut got: Vec<u32> = errs
            .iter()
            .map(|e| e.origin.as_ref().map_or(0, |o| o.line))
            .collect();
        got.sort_unstable();
        assert_eq!(got, lines, "{name}: {errs:?}");
    }
    // Without its mangle table the NAT router converts, `-m state` and the
    // DNAT accepts with `NEW,DNAT` included.
    let text = std::fs::read_to_string(testdata("nat-router.v4")).expect("nat-router");
    let no_mangle: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| !(1..9).contains(i))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let parsed = iptables::parse_save(&SourceFile::new("nr.v4", no_mangle), Family::Ipv4);
    let out = native::to_native(&parsed.value).expect("nat router without mangle");
    assert!(out.contains("state_match = \"state\""), "{out}");
    assert!(out.contains("accept = false"), "{out}");
    assert!(out.contains("reject_with = \"tcp-reset\""), "{out}");
}

#[test]
fn new_keys_lower_as_documented() {
    let text = r#"
[defaults]
loopback = ["input"]
established = ["input", "forward"]
drop_invalid = false
family = "ipv4"

[icmp]
ping = "none"
essentials = false

[[allow]]
icmp = ["echo-request", "3/4"]
rate = { global = "5/second", burst = 10, excess = "continue" }

[[allow]]
port = "22/tcp"
state = "new"

[[deny]]
action = "reject"
reject_with = "icmp-host-prohibited"
"#;
    let parsed = parse_text("new.toml", text);
    assert!(parsed.diagnostics.is_empty(), "{}", parsed.diagnostics);
    let p = &parsed.value;
    assert!(p
        .table(Family::Ipv6, rampart_model::TableKind::Filter)
        .is_none());
    assert_eq!(
        rules_of(p, Family::Ipv4, "INPUT"),
        [
            "-A INPUT -i lo -j ACCEPT",
            "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A INPUT -p icmp -m icmp --icmp-type 8 -m limit --limit 5/sec --limit-burst 10 -j ACCEPT",
            "-A INPUT -p icmp -m icmp --icmp-type 3/4 -m limit --limit 5/sec --limit-burst 10 -j ACCEPT",
            "-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT",
            "-A INPUT -j REJECT --reject-with icmp-host-prohibited",
        ]
    );
    assert_eq!(
        rules_of(p, Family::Ipv4, "FORWARD"),
        ["-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"]
    );
    // And back.
    let again = native::to_native(p).expect("converts");
    let back = parse_text("again.toml", &again);
    let (mut a, mut b) = (p.clone(), back.value);
    a.strip_origins();
    b.strip_origins();
    assert_eq!(a, b, "{again}");
}

/// Parses `policy` with the given set files (name, text) behind a loader.
fn parse_with_files(
    policy: &str,
    files: &[(&str, String)],
) -> rampart_syntax::Parsed<rampart_model::Policy> {
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| ((*n).to_string(), t.clone()))
        .collect();
    let mut loader = move |p: &str| -> Result<String, String> {
        files
            .iter()
            .find(|(n, _)| n == p)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| format!("no such file {p}"))
    };
    native::parse_native_with(&SourceFile::new("policy.toml", policy), &mut loader)
}

fn set_texts(p: &rampart_model::Policy, name: &str) -> Vec<String> {
    let set = p.set(name).unwrap_or_else(|| panic!("set {name}"));
    set.elements
        .iter()
        .map(|e| rampart_syntax::script::element_text(e, set.kind))
        .collect()
}

#[test]
fn issue5_sets_aggregate_and_subtract() {
    let policy = r#"
[sets.office]
elements = ["198.51.100.7"]

[sets.countries]
file = "countries.txt"

[sets.block]
union = ["countries"]
except = ["office"]

[sets.google]
elements = ["8.8.0.0/16", "8.34.208.0/20", "8.35.192.0/20"]

[sets.customers]
elements = ["8.8.4.0/24", "8.34.216.0/21"]

[sets.services]
union = ["google"]
except = ["customers"]

[sets.both]
type = "net"
elements = ["10.0.0.0/8", "192.0.2.0/24"]
intersect = ["countries"]

[[deny]]
from = ["@block", "@services"]
"#;
    let countries =
        "# two adjacent halves, an inner net, a range\n198.51.100.0/25\n198.51.100.128/25\n198.51.100.64/26\n192.0.2.1-192.0.2.6 ; range\n10.1.2.3\n\n".to_string();
    let parsed = parse_with_files(policy, &[("countries.txt", countries)]);
    assert!(parsed.diagnostics.is_empty(), "{}", parsed.diagnostics);
    let p = &parsed.value;
    assert_eq!(
        set_texts(p, "countries"),
        ["10.1.2.3", "192.0.2.1-192.0.2.6", "198.51.100.0/24"]
    );
    assert_eq!(
        set_texts(p, "block"),
        [
            "10.1.2.3",
            "192.0.2.1-192.0.2.6",
            "198.51.100.0-198.51.100.6",
            "198.51.100.8-198.51.100.255"
        ]
    );
    assert_eq!(
        set_texts(p, "services"),
        [
            "8.8.0.0/22",
            "8.8.5.0-8.8.255.255",
            "8.34.208.0/21",
            "8.35.192.0/20"
        ]
    );
    assert_eq!(set_texts(p, "both"), ["10.1.2.3", "192.0.2.1-192.0.2.6"]);
    // The set is IPv4 only: no `-v6` twin.
    assert!(p.set("block-v6").is_none());
}

#[test]
fn issue5_every_kind_lowers_to_its_model_kind() {
    let policy = r#"
[sets.web]
type = "port"
elements = ["443/tcp", "80/tcp", "81-90/tcp", "443/udp"]

[sets.admins]
type = "ip,port"
timeout = "1d"
elements = ["192.0.2.7,22/tcp", { value = "2001:db8::7,22/tcp", timeout = "1h", comment = "bob" }]

[sets.nets]
type = "net,port"
elements = ["10.0.0.0/9,22/tcp", "10.128.0.0/9,22/tcp"]

[sets.lan]
type = "iface"
elements = ["eth1", "eth0", "eth1"]

[[allow]]
port = ["@web", "8443/tcp"]
from = ["@admins", "@nets"]
in = ["@lan", "eth9"]
"#;
    let parsed = parse_text("kinds.toml", policy);
    assert!(parsed.diagnostics.is_empty(), "{}", parsed.diagnostics);
    let p = &parsed.value;
    use rampart_model::SetKind;
    let kind = |n: &str| p.set(n).map(|s| (s.kind, s.family));
    assert_eq!(kind("web"), Some((SetKind::Port, None)));
    assert_eq!(kind("lan"), Some((SetKind::Iface, None)));
    assert_eq!(
        kind("admins"),
        Some((SetKind::HashIpPort, Some(Family::Ipv4)))
    );
    assert_eq!(
        kind("admins-v6"),
        Some((SetKind::HashIpPort, Some(Family::Ipv6)))
    );
    assert_eq!(
        kind("nets"),
        Some((SetKind::HashNetPort, Some(Family::Ipv4)))
    );
    assert_eq!(set_texts(p, "web"), ["tcp:80-90", "tcp:443", "udp:443"]);
    assert_eq!(set_texts(p, "lan"), ["eth0", "eth1"]);
    assert_eq!(set_texts(p, "nets"), ["10.0.0.0/8,tcp:22"]);
    assert_eq!(
        set_texts(p, "admins-v6"),
        ["2001:db8::7,tcp:22 timeout 3600 comment \"bob\""]
    );
    assert!(p
        .set("admins-v6")
        .is_some_and(|s| s.options.comment && s.timeout == Some(86_400)));
    // The rule looks the sets up: ports by destination port, pairs by
    // source address and destination port, interfaces by input interface.
    let rules = rules_of(p, Family::Ipv4, "INPUT").join("\n");
    assert!(rules.contains("--match-set web dst"), "{rules}");
    assert!(rules.contains("--match-set admins src,dst"), "{rules}");
    assert!(rules.contains("--match-set lan src"), "{rules}");
    assert!(rules.contains("-i eth9"), "{rules}");
    // `ipset save` has no type for port and interface sets: named, skipped.
    let ipset = rampart_syntax::script::ipset_save_text(p);
    assert!(
        ipset.contains("# set web of type \"port\" has no ipset type"),
        "{ipset}"
    );
    assert!(
        ipset.contains("create admins hash:ip,port family inet"),
        "{ipset}"
    );
    assert!(!ipset.contains("create web"), "{ipset}");
    // And the policy converts back to the same model.
    let text = native::to_native(p).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(text.contains("type = \"ip,port\""), "{text}");
}

#[test]
fn issue5_huge_set_file_is_read_with_located_errors() {
    let mut text = String::new();
    for i in 0..20_000u32 {
        text.push_str(&format!("10.{}.{}.0/24\n", i >> 8, i & 0xff));
    }
    text.push_str("10.0.0.x\n");
    let parsed = parse_with_files(
        "[sets.big]\nfile = \"big.txt\"\n[[deny]]\nfrom = \"@big\"\n",
        &[("big.txt", text)],
    );
    let d = parsed.diagnostics.to_string();
    assert!(
        d.contains("big.txt:20001:1: error: invalid IPv4 address"),
        "{d}"
    );
    // 20 000 adjacent /24s are one interval.
    assert_eq!(set_texts(&parsed.value, "big"), ["10.0.0.0-10.78.31.255"]);
}

mod issue5_props {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    /// Networks inside 10.0.0.0/24: (last octet, prefix length 24..=32).
    fn nets() -> impl Strategy<Value = Vec<(u8, u8)>> {
        proptest::collection::vec((any::<u8>(), 24u8..=32), 0..8)
    }

    fn text(v: &[(u8, u8)]) -> String {
        let parts: Vec<String> = v
            .iter()
            .map(|(a, len)| {
                let mask = if *len == 24 { 0 } else { u8::MAX << (32 - len) };
                format!("\"10.0.0.{}/{len}\"", a & mask)
            })
            .collect();
        parts.join(", ")
    }

    fn member(v: &[(u8, u8)], x: u8) -> bool {
        v.iter().any(|(a, len)| {
            let mask = if *len == 24 { 0 } else { u8::MAX << (32 - len) };
            x & mask == a & mask
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Whatever a set file holds, every kind and format reads it
        /// without panicking (the fuzz target `native_set_file` does the
        /// same under libFuzzer).
        #[test]
        fn set_files_never_panic(
            kind in 0usize..6,
            csv in any::<bool>(),
            bytes in proptest::collection::vec(
                prop_oneof![
                    Just(b'\n'), Just(b','), Just(b'"'), Just(b'#'), Just(b'/'), Just(b'.'),
                    Just(b':'), Just(b'-'), Just(b' '), b'0'..=b'9', b'a'..=b'f', any::<u8>()
                ],
                0..200,
            ),
        ) {
            let kinds = ["net", "ip", "port", "ip,port", "net,port", "iface"];
            let fmt = if csv { "format = \"csv\"\ncolumn = 2\n" } else { "" };
            let policy = format!(
                "[sets.s]\ntype = \"{}\"\nfile = \"f.txt\"\n{fmt}\n[sets.t]\nunion = [\"s\"]\nexcept = [\"s\"]\n",
                kinds[kind]
            );
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let parsed = parse_with_files(&policy, &[("f.txt", text)]);
            for d in &parsed.diagnostics.0 {
                let _ = d.to_string();
            }
            if !parsed.diagnostics.has_errors() {
                let _ = native::to_native(&parsed.value);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// `(A ∪ B) ∩ C except D` in the native front end equals the same
        /// formula computed address by address, and the set holds no two
        /// elements that overlap or touch (the fewest intervals).
        #[test]
        fn algebra_matches_brute_force(a in nets(), b in nets(), c in nets(), d in nets()) {
            let policy = format!(
                "[sets.a]\nelements = [{}]\n[sets.b]\nelements = [{}]\n[sets.c]\nelements = [{}]\n[sets.d]\nelements = [{}]\n\
                 [sets.r]\nfamily = \"ipv4\"\nunion = [\"a\", \"b\"]\nintersect = [\"c\"]\nexcept = [\"d\"]\n[[deny]]\nfrom = \"@r\"\n",
                text(&a), text(&b), text(&c), text(&d)
            );
            let parsed = parse_text("p.toml", &policy);
            prop_assert!(parsed.diagnostics.is_empty(), "{}", parsed.diagnostics);
            let set = parsed.value.set("r").expect("set r");
            let mut ivs: Vec<(u32, u32)> = Vec::new();
            for e in &set.elements {
                let (lo, hi) = match e.parts.as_slice() {
                    [rampart_model::ElemPart::Net(n)] => {
                        let lo = match n.addr() { std::net::IpAddr::V4(x) => u32::from(x), _ => unreachable!() };
                        let len = n.prefix_len().expect("prefix");
                        (lo, lo | (u32::MAX.checked_shr(u32::from(len)).unwrap_or(0)))
                    }
                    [rampart_model::ElemPart::Range(std::net::IpAddr::V4(x), std::net::IpAddr::V4(y))] => (u32::from(*x), u32::from(*y)),
                    other => panic!("unexpected element {other:?}"),
                };
                ivs.push((lo, hi));
            }
            for w in ivs.windows(2) {
                prop_assert!(w[0].1 + 1 < w[1].0, "elements touch or overlap: {ivs:?}");
            }
            for x in 0..=255u8 {
                let want = (member(&a, x) || member(&b, x)) && member(&c, x) && !member(&d, x);
                let addr = u32::from(Ipv4Addr::new(10, 0, 0, x));
                let got = ivs.iter().any(|(lo, hi)| (*lo..=*hi).contains(&addr));
                prop_assert_eq!(got, want, "address 10.0.0.{}", x);
            }
        }
    }
}

#[test]
fn issue5_sets_from_ipset_commands_of_a_script() {
    let script = std::fs::read_to_string(testdata("ipset-blocklist.sh")).expect("script");
    let policy = r#"
[sets.block]
ipset = "ipset-blocklist.sh"
ipset_set = "blocklist_v4"
except = ["office"]

[sets.office]
elements = ["198.51.100.7"]

[sets.banned]
ipset = "ipset-blocklist.sh"
ipset_set = "banned"

[sets.ssh]
ipset = "ipset-blocklist.sh"
ipset_set = "allow_ssh"

[sets.which]
ipset = "ipset-blocklist.sh"

[[deny]]
from = ["@block", "@banned"]

[[allow]]
from = "@ssh"
"#;
    let parsed = parse_with_files(policy, &[("ipset-blocklist.sh", script)]);
    let d = parsed.diagnostics.to_string();
    // A file with several sets needs `ipset_set`: the error lists them.
    assert!(
        d.contains("policy.toml:19:9: error: `ipset-blocklist.sh` builds 4 ipsets; say which with `ipset_set`"),
        "{d}"
    );
    assert_eq!(parsed.diagnostics.errors().count(), 1, "{d}");
    let p = &parsed.value;
    // Kind and default timeout come from the ipset; the algebra applies.
    assert_eq!(
        set_texts(p, "block"),
        [
            "192.0.2.77",
            "198.51.100.0-198.51.100.6",
            "198.51.100.8-198.51.100.255",
            "203.0.113.0/25"
        ]
    );
    assert_eq!(set_texts(p, "banned"), ["192.0.2.200 timeout 600"]);
    assert_eq!(
        p.set("banned").map(|s| (s.kind, s.timeout)),
        Some((rampart_model::SetKind::HashIp, Some(3600)))
    );
    assert_eq!(set_texts(p, "ssh"), ["10.1.2.3,tcp:22"]);
}
