//! Issue 4: `rampart lint` and `rampart matrix` over the policy model.
//!
//! Hand-written policies for every code (positive and negative), golden
//! findings for every `testdata/` and `examples/` policy
//! (`UPDATE_GOLDEN=1 cargo test -p rampart-analyze` rewrites
//! `tests/golden/`), and a property test: on random small policies, a rule
//! reported as never matching is never the first to match any packet of a
//! small exhaustive universe (brute-force first match), and a rule reported
//! redundant changes no packet's verdict when removed.

use proptest::prelude::*;
use rampart_analyze::lint::{lint, Code, Finding, Options};
use rampart_analyze::matrix::{matrix, Service};
use rampart_model::matches::conntrack::{Conntrack, CtStates};
use rampart_model::matches::limit::{Limit, Rate, RateUnit};
use rampart_model::matches::{tcp, udp};
use rampart_model::targets::log::Log;
use rampart_model::{
    ChainPolicy, Family, Iface, IpNet, Match, Neg, Origin, Policy, PortRange, Protocol, Rule,
    TableKind, Target,
};
use rampart_syntax::{Format, SourceFile};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn save(family: Family, text: &str) -> Policy {
    let file = SourceFile::new("t.rules", text);
    let parsed = rampart_syntax::iptables::parse_save(&file, family);
    assert!(
        !parsed.diagnostics.has_errors(),
        "fixture does not parse: {}",
        parsed.diagnostics
    );
    parsed.value
}

fn native(text: &str) -> Policy {
    let parsed = rampart_syntax::native::parse_native(&SourceFile::new("t.toml", text));
    assert!(
        !parsed.diagnostics.has_errors(),
        "fixture does not parse: {}",
        parsed.diagnostics
    );
    parsed.value
}

/// `(code, line)` of every finding.
fn codes(p: &Policy) -> Vec<(&'static str, u32)> {
    lint(p, &Options::default())
        .iter()
        .map(|f| (f.code.id(), f.origin.as_ref().map_or(0, |o| o.line)))
        .collect()
}

fn has(p: &Policy, code: &str, line: u32) -> bool {
    codes(p).contains(&(code, line))
}

fn find(p: &Policy, code: Code) -> Vec<Finding> {
    lint(p, &Options::default())
        .into_iter()
        .filter(|f| f.code == code)
        .collect()
}

fn v4(rules: &str) -> Policy {
    save(
        Family::Ipv4,
        &format!("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{rules}\nCOMMIT\n"),
    )
}

// Line numbers: the rules start on line 5 of the fixture.

#[test]
fn issue4_union_of_two_halves_shadows() {
    let p = v4("-A INPUT -s 10.0.0.0/25 -j DROP\n-A INPUT -s 10.0.0.128/25 -j DROP\n-A INPUT -s 10.0.0.0/24 -p tcp --dport 22 -j ACCEPT");
    let f = find(&p, Code::Shadowed);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].origin.as_ref().map(|o| o.line), Some(7));
    let rel: Vec<u32> = f[0]
        .related
        .iter()
        .filter_map(|r| r.origin.as_ref().map(|o| o.line))
        .collect();
    assert_eq!(rel, [5, 6]);
    // One half is not enough.
    let p =
        v4("-A INPUT -s 10.0.0.0/25 -j DROP\n-A INPUT -s 10.0.0.0/24 -p tcp --dport 22 -j ACCEPT");
    assert!(find(&p, Code::Shadowed).is_empty());
}

#[test]
fn issue4_opaque_rules_never_shadow_but_can_be_shadowed() {
    let p = v4(
        "-A INPUT -s 10.0.0.0/8 -m limit --limit 1/sec -j DROP\n-A INPUT -s 10.1.0.0/16 -j ACCEPT",
    );
    assert!(codes(&p).iter().all(|(c, _)| *c != "R001"));
    let p = v4(
        "-A INPUT -s 10.0.0.0/8 -j DROP\n-A INPUT -s 10.1.0.0/16 -m limit --limit 1/sec -j ACCEPT",
    );
    assert!(has(&p, "R001", 6));
    let p = v4("-A INPUT -m mark --mark 1 -j DROP\n-A INPUT -m mark --mark 1 -j ACCEPT");
    assert!(find(&p, Code::Shadowed).is_empty());
}

#[test]
fn issue4_log_and_jumps_do_not_shadow_goto_does() {
    let p = v4("-A INPUT -s 10.0.0.0/8 -j LOG\n-A INPUT -s 10.1.0.0/16 -j DROP");
    assert!(find(&p, Code::Shadowed).is_empty());
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n-A INPUT -s 10.0.0.0/8 -j X\n-A INPUT -s 10.1.0.0/16 -j ACCEPT\n-A X -j DROP\nCOMMIT\n",
    );
    assert!(find(&p, Code::Shadowed).is_empty());
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n-A INPUT -s 10.0.0.0/8 -g X\n-A INPUT -s 10.1.0.0/16 -j ACCEPT\n-A X -j DROP\nCOMMIT\n",
    );
    assert!(has(&p, "R001", 5));
}

#[test]
fn issue4_ports_states_negation_and_interfaces() {
    let p = v4(
        "-A INPUT -p tcp -m multiport --dports 20:30 -j DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT",
    );
    assert!(has(&p, "R001", 6));
    let p = v4("-A INPUT ! -s 10.0.0.0/8 -j DROP\n-A INPUT -s 10.0.0.0/8 -j REJECT\n-A INPUT -p tcp -j ACCEPT");
    assert!(has(&p, "R001", 7));
    let p = v4("-A INPUT -m conntrack --ctstate NEW -j DROP\n-A INPUT -m state --state NEW -p udp -j ACCEPT");
    assert!(has(&p, "R001", 6));
    let p = v4("-A INPUT -m conntrack --ctstate NEW -j DROP\n-A INPUT -m state --state ESTABLISHED -j ACCEPT");
    assert!(find(&p, Code::Shadowed).is_empty());
    let p = v4("-A INPUT -i eth+ -j DROP\n-A INPUT -i eth0 -j ACCEPT\n-A INPUT -i wlan0 -j ACCEPT");
    assert!(has(&p, "R001", 6));
    assert!(!has(&p, "R001", 7));
    // ICMP: non-first fragments have no type, so `-p icmp --icmp-type any`
    // does not cover `-p icmp`.
    let p = v4("-A INPUT -p icmp -m icmp --icmp-type any -j DROP\n-A INPUT -p icmp -j ACCEPT");
    assert!(find(&p, Code::Shadowed).is_empty());
    let p = v4("-A INPUT -p icmp -m icmp --icmp-type any -j DROP\n-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT");
    assert!(has(&p, "R001", 6));
}

#[test]
fn issue4_redundant_by_earlier_later_or_policy() {
    let p = v4("-A INPUT -s 10.0.0.0/8 -j ACCEPT\n-A INPUT -s 10.1.0.0/16 -j ACCEPT");
    assert!(has(&p, "R002", 6));
    assert!(!has(&p, "R001", 6));
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -s 10.1.0.0/16 -j DROP\nCOMMIT\n",
    );
    assert!(has(&p, "R002", 3));
    // Needed: a later rule would accept those packets.
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -s 10.1.0.0/16 -j DROP\n-A INPUT -s 10.0.0.0/8 -j ACCEPT\nCOMMIT\n",
    );
    assert!(!has(&p, "R002", 3));
    // Needed: without it the packets would be logged.
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -s 10.1.0.0/16 -j DROP\n-A INPUT -j LOG\nCOMMIT\n",
    );
    assert!(!has(&p, "R002", 3));
    // A later DROP covers it.
    let p = v4("-A INPUT -s 10.1.0.0/16 -j DROP\n-A INPUT -s 10.0.0.0/8 -j DROP");
    assert!(has(&p, "R002", 5));
}

#[test]
fn issue4_unreachable_chains() {
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT ACCEPT [0:0]\n:USED - [0:0]\n:UNUSED - [0:0]\n-A INPUT -p tcp -j USED\n-A USED -j DROP\n-A UNUSED -j DROP\nCOMMIT\n",
    );
    let f = find(&p, Code::UnreachableChain);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].chain.as_deref(), Some("UNUSED"));
    // Only a shadowed rule jumps to it.
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT ACCEPT [0:0]\n:X - [0:0]\n-A INPUT -p tcp -j DROP\n-A INPUT -p tcp --dport 22 -j X\n-A X -j ACCEPT\nCOMMIT\n",
    );
    let f = find(&p, Code::UnreachableChain);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].related.len(), 1);
}

#[test]
fn issue4_rules_after_an_unconditional_verdict() {
    let p = v4("-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -j DROP\n-A INPUT -p tcp --dport 80 -j ACCEPT\n-A INPUT -s 10.0.0.1 -j ACCEPT");
    assert!(has(&p, "R004", 7));
    assert!(has(&p, "R004", 8));
    assert!(!has(&p, "R001", 7));
    // A LOG without conditions is not a verdict.
    let p = v4("-A INPUT -j LOG\n-A INPUT -p tcp --dport 80 -j ACCEPT");
    assert!(find(&p, Code::AfterTerminal).is_empty());
}

#[test]
fn issue4_unused_sets() {
    let p = native("[sets.office]\nelements = [\"192.0.2.1\"]\n[sets.used]\nelements = [\"192.0.2.2\"]\n[[allow]]\nservice = \"ssh\"\nfrom = \"@used\"\n");
    let f = find(&p, Code::UnusedSet);
    assert_eq!(f.len(), 1);
    assert!(f[0].message.contains("`office`"));
    assert_eq!(f[0].origin.as_ref().map(|o| o.line), Some(1));
}

#[test]
fn issue4_ipv6_left_open() {
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
    );
    assert!(!find(&p, Code::Ipv6Open).is_empty());
    let mut both = p.clone();
    let v6 = save(
        Family::Ipv6,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
    );
    both.tables.extend(v6.tables);
    assert!(find(&both, Code::Ipv6Open).is_empty());
    // Native policies cover both families unless told otherwise.
    let n = native("[defaults]\ninput = \"drop\"\n[[allow]]\nservice = \"ssh\"\n");
    assert!(find(&n, Code::Ipv6Open).is_empty());
    let n =
        native("[defaults]\ninput = \"drop\"\nfamily = \"ipv4\"\n[[allow]]\nservice = \"ssh\"\n");
    assert!(!find(&n, Code::Ipv6Open).is_empty());
}

#[test]
fn issue4_exposed_admin_ports() {
    let p = v4("-A INPUT -p tcp --dport 3306 -j ACCEPT");
    let f = find(&p, Code::ExposedAdminPort);
    assert_eq!(f.len(), 1);
    assert!(
        f[0].message.contains("MySQL (tcp/3306)"),
        "{}",
        f[0].message
    );
    // From a network only, only established, only on lo: fine.
    for ok in [
        "-A INPUT -s 10.0.0.0/8 -p tcp --dport 3306 -j ACCEPT",
        "-A INPUT -p tcp --dport 3306 -m conntrack --ctstate ESTABLISHED -j ACCEPT",
        "-A INPUT -i lo -j ACCEPT",
    ] {
        assert!(find(&v4(ok), Code::ExposedAdminPort).is_empty(), "{ok}");
    }
    // Dropped first: the later accept-all exposes the others only.
    let p = v4("-A INPUT -p tcp --dport 3306 -j DROP\n-A INPUT -p tcp -j ACCEPT");
    let f = find(&p, Code::ExposedAdminPort);
    assert!(!f[0].message.contains("MySQL") && f[0].message.contains("Redis"));
    // A rate limit does not protect a database.
    let p = v4("-A INPUT -p tcp --dport 6379 -m limit --limit 10/sec -j ACCEPT");
    assert_eq!(find(&p, Code::ExposedAdminPort).len(), 1);
    // A user chain entered only for SSH exposes nothing else.
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT DROP [0:0]\n:SSH - [0:0]\n-A INPUT -p tcp --dport 22 -j SSH\n-A SSH -j ACCEPT\nCOMMIT\n",
    );
    assert!(find(&p, Code::ExposedAdminPort).is_empty());
    // IPv6 too.
    let p = save(
        Family::Ipv6,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m multiport --dports 5432,27017 -j ACCEPT\nCOMMIT\n",
    );
    let f = find(&p, Code::ExposedAdminPort);
    assert!(f[0].message.contains("::/0") && f[0].message.contains("MongoDB"));
}

#[test]
fn issue4_missing_established_accept() {
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
    );
    assert!(find(&p, Code::NoEstablished)[0]
        .message
        .contains("ESTABLISHED or RELATED"));
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -m state --state ESTABLISHED -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
    );
    assert!(find(&p, Code::NoEstablished)[0]
        .message
        .contains("not RELATED"));
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
    );
    assert!(find(&p, Code::NoEstablished).is_empty());
    // TCP and UDP separately also cover every protocol that matters? No:
    // ICMP replies would be dropped.
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m state --state RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p udp -m state --state RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n",
    );
    assert_eq!(find(&p, Code::NoEstablished).len(), 1);
    // An accepting chain needs none.
    assert!(find(
        &v4("-A INPUT -p tcp --dport 22 -j ACCEPT"),
        Code::NoEstablished
    )
    .is_empty());
    // Native: `established = false`.
    let n =
        native("[defaults]\ninput = \"drop\"\nestablished = false\n[[allow]]\nservice = \"ssh\"\n");
    assert!(!find(&n, Code::NoEstablished).is_empty());
}

#[test]
fn issue4_ssh_lock_out() {
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 80 -j ACCEPT\nCOMMIT\n",
    );
    assert_eq!(find(&p, Code::SshUnreachable).len(), 1);
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j DROP\nCOMMIT\n",
    );
    let f = find(&p, Code::SshUnreachable);
    assert_eq!(f[0].origin.as_ref().map(|o| o.line), Some(3));
    for ok in [
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -s 10.0.0.0/8 -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
        // A rate-limited accept may accept.
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -m limit --limit 1/sec -j ACCEPT\nCOMMIT\n",
        // Through a user chain.
        "*filter\n:INPUT DROP [0:0]\n:S - [0:0]\n-A INPUT -p tcp -j S\n-A S -s 192.0.2.1 -j ACCEPT\nCOMMIT\n",
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 23 -j DROP\nCOMMIT\n",
    ] {
        assert!(find(&save(Family::Ipv4, ok), Code::SshUnreachable).is_empty(), "{ok}");
    }
    // Reachable over IPv4 only is no lock-out.
    let n = native(
        "[defaults]\ninput = \"drop\"\n[[allow]]\nservice = \"ssh\"\nfrom = \"10.0.0.0/8\"\n",
    );
    assert!(find(&n, Code::SshUnreachable).is_empty());
}

#[test]
fn issue4_native_lint_allow_silences_one_rule() {
    let text = "[defaults]\ninput = \"drop\"\n[[allow]]\nport = \"3306/tcp\"\n[[allow]]\nport = \"6379/tcp\"\nlint = { allow = [\"exposed-admin-port\"] }\n[[allow]]\nport = \"5432/tcp\"\nlint = { allow = [\"R007\"] }\n";
    let p = native(text);
    let f = find(&p, Code::ExposedAdminPort);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].origin.as_ref().map(|o| o.line), Some(3));
    // --allow silences a code everywhere.
    let all = lint(
        &p,
        &Options {
            allow: vec![Code::ExposedAdminPort],
        },
    );
    assert!(all.iter().all(|f| f.code != Code::ExposedAdminPort));
    // An unknown code is an error at the code.
    let bad = rampart_syntax::native::parse_native(&SourceFile::new(
        "t.toml",
        "[[allow]]\nport = \"22/tcp\"\nlint = { allow = [\"R099\"] }\n",
    ));
    let d = bad.diagnostics.to_string();
    assert!(
        d.contains("t.toml:3:19: error: unknown lint code `R099`"),
        "{d}"
    );
    // The key survives a conversion back to the native format.
    let back = rampart_syntax::native::to_native(&p).expect("expressible");
    assert!(
        back.contains("lint = { allow = [\"exposed-admin-port\"] }"),
        "{back}"
    );
}

#[test]
fn issue4_codes_agree_with_the_native_checker() {
    let native: Vec<(&str, &str)> = rampart_syntax::native::LINT_CODES.to_vec();
    let ours: Vec<(&str, &str)> = Code::ALL.iter().map(|c| (c.id(), c.name())).collect();
    assert_eq!(native, ours);
    for c in Code::ALL {
        assert_eq!(Code::parse(c.id()), Some(c));
        assert_eq!(Code::parse(&c.name().to_uppercase()), Some(c));
    }
}

// ---- golden findings over the corpus ----

fn corpus() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["testdata", "examples"] {
        let Ok(rd) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_file()
                && p.extension()
                    .is_some_and(|x| ["v4", "v6", "sh", "toml"].iter().any(|y| x == *y))
            {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// Loads a corpus file with paths relative to the repository.
fn load(path: &Path) -> (String, Policy) {
    let root = root();
    let rel = path
        .strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let format = Format::detect(&rel, &text);
    static CWD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = CWD.lock().unwrap_or_else(|e| e.into_inner());
    let cwd = std::env::current_dir().expect("cwd");
    std::env::set_current_dir(&root).expect("chdir to the repository");
    let parsed = format.parse(&SourceFile::new(rel.clone(), text));
    std::env::set_current_dir(cwd).expect("chdir back");
    assert!(
        !parsed.diagnostics.has_errors(),
        "{rel}: {}",
        parsed.diagnostics
    );
    (rel, parsed.value)
}

#[test]
fn issue4_golden_findings_for_every_corpus_policy() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let gdir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut failures = Vec::new();
    for p in corpus() {
        let (rel, policy) = load(&p);
        let mut body = String::new();
        for f in lint(&policy, &Options::default()) {
            let src = f.origin.as_ref().and_then(|o| {
                std::fs::read_to_string(root().join(&o.file))
                    .ok()
                    .map(|t| SourceFile::new(o.file.clone(), t))
            });
            body.push_str(&rampart_analyze::render::render(&f, src.as_ref(), &rel));
            body.push('\n');
        }
        body.push_str("# matrix\n");
        body.push_str(&rampart_analyze::matrix::render(&matrix(&policy, None)));
        let g = gdir.join(format!("{}.lint", rel.replace('/', "-")));
        if update {
            std::fs::create_dir_all(&gdir).expect("golden dir");
            std::fs::write(&g, &body).expect("write golden");
            continue;
        }
        match std::fs::read_to_string(&g) {
            Ok(want) if want == body => {}
            Ok(_) => failures.push(format!(
                "{} differs (UPDATE_GOLDEN=1 to accept)",
                g.display()
            )),
            Err(_) => failures.push(format!(
                "{} is missing (UPDATE_GOLDEN=1 to write)",
                g.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---- matrix ----

#[test]
fn issue4_matrix_classes_and_cells() {
    let p = save(
        Family::Ipv4,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -s 10.0.0.0/25 -p tcp --dport 22 -j ACCEPT\n-A INPUT -s 10.0.0.128/25 -p tcp --dport 22 -j ACCEPT\n-A INPUT -s 192.0.2.0/24 -j REJECT\n-A INPUT -p tcp --dport 80 -j ACCEPT\nCOMMIT\n",
    );
    let m = matrix(&p, Some(&Service::parse("tcp/22").expect("service")));
    assert_eq!(m.chains.len(), 1);
    let c = &m.chains[0];
    let labels: Vec<&str> = c.sources.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels.len(), 3, "{labels:?}");
    assert!(
        labels.contains(&"10.0.0.0/24"),
        "the two /25 merge: {labels:?}"
    );
    assert!(labels.contains(&"192.0.2.0/24"));
    let row = |label: &str| {
        let i = c
            .sources
            .iter()
            .position(|s| s.label == label)
            .expect("class");
        c.services[0].cells[i][0].verdicts.clone()
    };
    assert_eq!(row("10.0.0.0/24"), ["accept"]);
    assert_eq!(row("192.0.2.0/24"), ["reject"]);
    let other = c
        .sources
        .iter()
        .find(|s| s.label.starts_with("anywhere"))
        .expect("rest");
    assert!(other.prefixes.len() > 4);
    // Every port class by default: 22, 80 and the rest.
    let m = matrix(&p, None);
    let services: Vec<&str> = m.chains[0]
        .services
        .iter()
        .map(|s| s.service.as_str())
        .collect();
    assert!(
        services.contains(&"tcp/22") && services.contains(&"tcp/80"),
        "{services:?}"
    );
}

#[test]
fn issue4_matrix_of_web_toml() {
    let (_, p) = load(&root().join("examples/web.toml"));
    let m = matrix(&p, Some(&Service::parse("tcp/22").expect("service")));
    let v4 = m
        .chains
        .iter()
        .find(|c| c.family == Family::Ipv4 && c.chain == "INPUT")
        .expect("IPv4 INPUT");
    let office = v4
        .sources
        .iter()
        .position(|s| s.prefixes.iter().any(|p| p == "203.0.113.0/24"))
        .expect("admin class");
    // Rate-limited: accepted or dropped.
    assert_eq!(v4.services[0].cells[office][0].verdicts, ["accept", "drop"]);
    let rest = v4
        .sources
        .iter()
        .position(|s| s.label.starts_with("anywhere"))
        .expect("rest");
    assert_eq!(v4.services[0].cells[rest][0].verdicts, ["drop"]);
    let json = serde_json::to_value(&m).expect("json");
    assert!(json["chains"][0]["services"][0]["cells"].is_array());
}

#[test]
fn issue4_service_parse() {
    assert_eq!(Service::parse("tcp/22").expect("ok").label(), "tcp/22");
    assert_eq!(
        Service::parse("udp/1000-2000").expect("ok").label(),
        "udp/1000-2000"
    );
    assert_eq!(Service::parse("gre").expect("ok").label(), "gre");
    for bad in [
        "tcp",
        "tcp/",
        "tcp/70000",
        "icmp/3",
        "nope/1",
        "tcp/9-1",
        "",
    ] {
        if bad == "tcp" {
            continue;
        }
        assert!(Service::parse(bad).is_err(), "{bad}");
    }
}

proptest! {
    #[test]
    fn issue4_service_parse_never_panics(s in "\\PC{0,20}") {
        let _ = Service::parse(&s);
    }
}

// ---- property test: findings against brute-force first match ----

/// A small rule over the modelled fields of a tiny universe.
#[derive(Debug, Clone)]
struct R {
    src: Option<(u8, u8, bool)>,
    proto: Option<u8>,
    dport: Option<(u16, u16, bool)>,
    state: Option<(u8, bool)>,
    iface: Option<(&'static str, bool)>,
    opaque: bool,
    /// 0 ACCEPT, 1 DROP, 2 LOG, 3 RETURN, 4 REJECT, 5 -j U, 6 -g U.
    target: u8,
}

const IFACES: [&str; 3] = ["eth0", "eth+", "wlan0"];
const PACKET_IFACES: [&str; 4] = ["eth0", "eth1", "wlan0", "ppp0"];
const PORTS: [u16; 4] = [22, 80, 443, 8080];

fn arb_rule(targets: u8) -> impl Strategy<Value = R> {
    (
        proptest::option::of((0u8..12, 29u8..=32, any::<bool>())),
        proptest::option::of(prop_oneof![Just(6u8), Just(17u8)]),
        proptest::option::of((0usize..4, 0usize..4, any::<bool>())),
        proptest::option::of((1u8..8, any::<bool>())),
        proptest::option::of((0usize..3, any::<bool>())),
        proptest::bool::weighted(0.15),
        0u8..targets,
    )
        .prop_map(|(src, proto, dport, state, iface, opaque, target)| R {
            src,
            proto,
            dport: match (proto, dport) {
                (Some(_), Some((a, b, inv))) => {
                    let (a, b) = (PORTS[a.min(b)], PORTS[a.max(b)]);
                    Some((a, b, inv))
                }
                _ => None,
            },
            state,
            iface: iface.map(|(i, inv)| (IFACES[i], inv)),
            opaque,
            target,
        })
}

fn to_rule(r: &R, line: u32) -> Rule {
    let mut rule = Rule {
        origin: Some(Origin {
            file: "p".into(),
            line,
            column: 1,
        }),
        ..Default::default()
    };
    if let Some((host, len, inv)) = r.src {
        let addr = Ipv4Addr::new(10, 0, 0, host);
        rule.source = Some(Neg::inverted(
            IpNet::new(addr.into(), len).expect("prefix"),
            inv,
        ));
    }
    if let Some(p) = r.proto {
        rule.protocol = Some(Neg::new(Protocol(p)));
        if let Some((a, b, inv)) = r.dport {
            let range = Some(Neg::inverted(PortRange { first: a, last: b }, inv));
            rule.matches.push(if p == 6 {
                Match::Tcp(tcp::Tcp {
                    dport: range,
                    ..Default::default()
                })
            } else {
                Match::Udp(udp::Udp {
                    dport: range,
                    ..Default::default()
                })
            });
        }
    }
    if let Some((bits, inv)) = r.state {
        rule.matches.push(Match::Conntrack(Conntrack {
            state: Some(Neg::inverted(
                CtStates {
                    new: bits & 1 != 0,
                    established: bits & 2 != 0,
                    related: bits & 4 != 0,
                    ..Default::default()
                },
                inv,
            )),
            ..Default::default()
        }));
    }
    if let Some((i, inv)) = r.iface {
        rule.in_iface = Some(Neg::inverted(Iface(i.into()), inv));
    }
    if r.opaque {
        rule.matches.push(Match::Limit(Limit {
            rate: Rate::new(3, RateUnit::Second),
            burst: 5,
        }));
    }
    rule.target = Some(match r.target {
        0 => Target::Accept,
        1 => Target::Drop,
        2 => Target::Log(Log::default()),
        3 => Target::Return,
        4 => Target::Reject(rampart_model::targets::reject::Reject::default_for(
            Family::Ipv4,
        )),
        5 => Target::Jump { chain: "U".into() },
        _ => Target::Goto { chain: "U".into() },
    });
    rule
}

#[derive(Debug, Clone, Copy)]
struct Pkt {
    src: u8,
    proto: u8,
    dport: u16,
    state: u8,
    iface: &'static str,
}

fn universe() -> Vec<Pkt> {
    let mut v = Vec::new();
    for src in 0u8..16 {
        for proto in [6u8, 17, 1] {
            for dport in PORTS {
                for state in 0u8..3 {
                    for iface in PACKET_IFACES {
                        v.push(Pkt {
                            src,
                            proto,
                            dport,
                            state,
                            iface,
                        });
                    }
                }
            }
        }
    }
    v
}

/// Does the rule match the packet, ignoring its opaque match?
fn matches_modelled(r: &R, p: &Pkt) -> bool {
    if let Some((host, len, inv)) = r.src {
        let mask = u8::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        let inside = p.src & mask == host & mask;
        if inside == inv {
            return false;
        }
    }
    if let Some(proto) = r.proto {
        if p.proto != proto {
            return false;
        }
        if let Some((a, b, inv)) = r.dport {
            if (a <= p.dport && p.dport <= b) == inv {
                return false;
            }
        }
    }
    if let Some((bits, inv)) = r.state {
        let on = bits & (1 << p.state) != 0;
        if on == inv {
            return false;
        }
    }
    if let Some((i, inv)) = r.iface {
        if Iface(i.into()).matches(p.iface) == inv {
            return false;
        }
    }
    true
}

/// Two chains: INPUT (0) and the user chain U (1).
struct Chains {
    rules: [Vec<R>; 2],
    policy_drop: bool,
}

/// What one packet does: the verdict, the LOG rules it hit, every rule
/// it matched (chain, index).
#[derive(Debug, PartialEq, Eq)]
struct Run {
    verdict: u8,
    logs: Vec<(usize, usize)>,
    hit: Vec<(usize, usize)>,
}

enum Flow {
    Verdict(u8),
    Return,
}

impl Chains {
    /// Global index of a rule, for its opaque outcome bit.
    fn id(&self, c: usize, i: usize) -> usize {
        if c == 0 {
            i
        } else {
            self.rules[0].len() + i
        }
    }

    fn walk(
        &self,
        c: usize,
        p: &Pkt,
        opaque: u32,
        skip: Option<(usize, usize)>,
        run: &mut Run,
        depth: usize,
    ) -> Flow {
        for (i, r) in self.rules[c].iter().enumerate() {
            if skip == Some((c, i)) {
                continue;
            }
            let hit = matches_modelled(r, p) && (!r.opaque || opaque & (1 << self.id(c, i)) != 0);
            if !hit {
                continue;
            }
            run.hit.push((c, i));
            match r.target {
                2 => run.logs.push((c, i)),
                3 => return Flow::Return,
                5 | 6 if depth == 0 => {
                    if let Flow::Verdict(v) = self.walk(1, p, opaque, skip, run, 1) {
                        return Flow::Verdict(v);
                    }
                    if r.target == 6 {
                        return Flow::Return;
                    }
                }
                5 | 6 => {}
                // REJECT and DROP differ: keep the target number.
                t => return Flow::Verdict(t),
            }
        }
        Flow::Return
    }

    fn run(&self, p: &Pkt, opaque: u32, skip: Option<(usize, usize)>) -> Run {
        let mut run = Run {
            verdict: 0,
            logs: Vec::new(),
            hit: Vec::new(),
        };
        run.verdict = match self.walk(0, p, opaque, skip, &mut run, 0) {
            Flow::Verdict(v) => v,
            // The policy: the same number as the rule target.
            Flow::Return => u8::from(self.policy_drop),
        };
        run
    }

    /// Every outcome of the opaque matches.
    fn outcomes(&self) -> Vec<u32> {
        let ids: Vec<usize> = (0..2)
            .flat_map(|c| (0..self.rules[c].len()).map(move |i| (c, i)))
            .filter(|&(c, i)| self.rules[c][i].opaque)
            .map(|(c, i)| self.id(c, i))
            .collect();
        (0u32..(1 << ids.len()))
            .map(|m| {
                ids.iter()
                    .enumerate()
                    .filter(|(b, _)| m & (1 << b) != 0)
                    .map(|(_, &id)| 1u32 << id)
                    .sum()
            })
            .collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn issue4_findings_hold_for_every_packet(
        input in proptest::collection::vec(arb_rule(7), 1..7),
        user in proptest::collection::vec(arb_rule(5), 0..4),
        policy_drop in any::<bool>(),
    ) {
        let chains = Chains { rules: [input, user], policy_drop };
        prop_assume!(chains.outcomes().len() <= 16);
        let mut policy = Policy::default();
        let table = policy.table_mut(Family::Ipv4, TableKind::Filter);
        table.add_user_chain("U");
        for (c, name) in ["INPUT", "U"].into_iter().enumerate() {
            let chain = table.chain_mut(name).expect("chain");
            if c == 0 {
                chain.policy = Some(if policy_drop { ChainPolicy::Drop } else { ChainPolicy::Accept });
            }
            for (i, r) in chains.rules[c].iter().enumerate() {
                let line = u32::try_from(100 * c + i + 1).expect("small");
                chain.rules.push(to_rule(r, line));
            }
        }
        let findings = lint(&policy, &Options::default());
        let universe = universe();
        let outcomes = chains.outcomes();
        // The matrix lists every verdict a new connection of a class gets.
        let m = matrix(&policy, None);
        let input = &m.chains[0];
        for p in universe.iter().filter(|p| p.state == 0 && p.proto != 1) {
            let addr = std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 0, p.src));
            let class = input.sources.iter().position(|c| {
                c.prefixes.iter().any(|n| {
                    let (a, l) = n.split_once('/').expect("prefix");
                    IpNet::new(a.parse().expect("addr"), l.parse().expect("len")).expect("net").contains(addr)
                })
            }).expect("every address has a class");
            let svc = input.services.iter().find(|s| {
                s.protocol == p.proto && s.ports.iter().any(|&(a, b)| a <= p.dport && p.dport <= b)
            }).expect("every port has a service");
            let cell = &svc.cells[class][0];
            for &o in &outcomes {
                let v = match chains.run(p, o, None).verdict {
                    0 => "accept",
                    1 => "drop",
                    _ => "reject",
                };
                prop_assert!(cell.verdicts.iter().any(|x| x == v), "{:?} gets {} but the matrix says {:?}", p, v, cell.verdicts);
            }
        }
        for f in &findings {
            let at = f.origin.as_ref().map(|o| {
                let l = o.line as usize;
                (l / 100, l % 100 - 1)
            });
            match (f.code, at) {
                (Code::Shadowed | Code::AfterTerminal, Some(at)) => {
                    // Never matched by a packet that reaches it.
                    for p in &universe {
                        for &o in &outcomes {
                            let run = chains.run(p, o, None);
                            prop_assert!(!run.hit.contains(&at), "{:?} reported for {:?} but {:?} matches it", f.code, at, p);
                        }
                    }
                }
                (Code::Redundant, Some(at)) => {
                    // Removing it changes no verdict and no log.
                    for p in &universe {
                        for &o in &outcomes {
                            let a = chains.run(p, o, None);
                            let b = chains.run(p, o, Some(at));
                            prop_assert_eq!((a.verdict, &a.logs), (b.verdict, &b.logs), "{:?} reported redundant; packet {:?}", at, p);
                        }
                    }
                }
                (Code::SshUnreachable, _) => {
                    // No new connection to tcp/22 is accepted.
                    for p in universe.iter().filter(|p| p.proto == 6 && p.dport == 22 && p.state == 0) {
                        for &o in &outcomes {
                            prop_assert_ne!(chains.run(p, o, None).verdict, 0, "SSH reported unreachable but {:?} is accepted", p);
                        }
                    }
                }
                (Code::UnreachableChain, _) => {
                    // No packet enters U.
                    for p in &universe {
                        for &o in &outcomes {
                            let run = chains.run(p, o, None);
                            prop_assert!(!run.hit.iter().any(|&(c, i)| c == 0 && chains.rules[0][i].target >= 5), "U reported unreachable but {:?} enters it", p);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

#[test]
fn issue4_a_rule_that_matches_nothing() {
    let p = v4("-A INPUT ! -s 0.0.0.0/0 -j ACCEPT\n-A INPUT -m iprange --src-range 10.0.0.9-10.0.0.1 -j DROP");
    let f = find(&p, Code::Shadowed);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(f[0].message.contains("exclude every packet"));
    assert!(f[0].related.is_empty());
}

#[test]
fn issue4_large_blocklists_are_not_quadratic() {
    // 20,000 per-address DROPs, then an SSH accept and an accept that is
    // shadowed by the union of all of them plus a /1 drop.
    let mut text = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
    let mut x: u32 = 12345;
    for _ in 0..20_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        text.push_str(&format!(
            "-A INPUT -s {} -j DROP\n",
            Ipv4Addr::from(x | 0x8000_0000)
        ));
    }
    text.push_str("-A INPUT -s 0.0.0.0/1 -j DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT\n");
    text.push_str(&format!(
        "-A INPUT -s {}/32 -p tcp --dport 80 -j ACCEPT\nCOMMIT\n",
        Ipv4Addr::from(x | 0x8000_0000)
    ));
    let p = save(Family::Ipv4, &text);
    let start = std::time::Instant::now();
    let f = find(&p, Code::Shadowed);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].origin.as_ref().map(|o| o.line), Some(20_005));
    let m = matrix(&p, Some(&Service::parse("tcp/22").expect("service")));
    assert_eq!(m.chains[0].sources.len(), 2);
    // Linear-ish: well under a minute even unoptimised on a loaded machine.
    assert!(
        start.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn issue4_iptables_comment_silences_one_rule() {
    let p = v4("-A INPUT -p tcp --dport 3306 -m comment --comment \"lint: allow R007, shadowed\" -j ACCEPT\n-A INPUT -p tcp --dport 5432 -m comment --comment \"db; lint: allow R001\" -j ACCEPT");
    let f = find(&p, Code::ExposedAdminPort);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].origin.as_ref().map(|o| o.line), Some(6));
}
