//! rampart-nft: lowering per construct, golden files for every policy of
//! `testdata/` and `examples/`, and the real kernel: each policy that
//! lowers is loaded with `nft -c -f` and `nft -f` inside a throwaway network
//! namespace (never in the host's).
//!
//! `UPDATE_GOLDEN=1 cargo test -p rampart-nft` rewrites `tests/golden/`.

use rampart_model::Family;
use rampart_syntax::{Format, SourceFile};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Parses an iptables-save fragment of one family and returns the nft
/// rules of the result (one per line, without indentation) or the errors.
fn compile(family: Family, text: &str) -> Result<Vec<String>, Vec<String>> {
    let file = SourceFile::new("t.rules".to_string(), text.to_string());
    let parsed = rampart_syntax::iptables::parse_save(&file, family);
    assert!(
        !parsed.diagnostics.has_errors(),
        "fixture does not parse: {}",
        parsed.diagnostics
    );
    match rampart_nft::lower(&parsed.value) {
        Ok(rs) => Ok(rs
            .tables
            .iter()
            .flat_map(|t| &t.chains)
            .flat_map(|c| &c.rules)
            .map(rampart_nft::print::rule)
            .collect()),
        Err(e) => Err(e.iter().map(|e| e.to_string()).collect()),
    }
}

fn one(family: Family, rule: &str) -> String {
    let text = format!("*filter\n{rule}\nCOMMIT\n");
    let rules = compile(family, &text).unwrap_or_else(|e| panic!("{rule}: {e:?}"));
    rules.into_iter().next().unwrap_or_default()
}

fn v4(rule: &str) -> String {
    one(Family::Ipv4, rule)
}

fn v6(rule: &str) -> String {
    one(Family::Ipv6, rule)
}

fn err4(rule: &str, table: &str) -> String {
    let text = format!("*{table}\n{rule}\nCOMMIT\n");
    match compile(Family::Ipv4, &text) {
        Ok(r) => panic!("{rule} lowered to {r:?}"),
        Err(e) => e.join("\n"),
    }
}

fn nat4(rule: &str) -> String {
    let text = format!("*nat\n{rule}\nCOMMIT\n");
    let rules = compile(Family::Ipv4, &text).unwrap_or_else(|e| panic!("{rule}: {e:?}"));
    rules.into_iter().next().unwrap_or_default()
}

#[test]
fn issue3_generic_matches() {
    assert_eq!(
        v4("-A INPUT -s 10.0.0.0/8 -i eth+ -p tcp -j ACCEPT"),
        "meta nfproto ipv4 ip saddr 10.0.0.0/8 iifname \"eth*\" meta l4proto tcp counter accept"
    );
    assert_eq!(
        v4("-A INPUT -s 10.0.12.0/255.0.255.0 -j DROP"),
        "meta nfproto ipv4 ip saddr & 255.0.255.0 == 10.0.12.0 counter drop"
    );
    assert_eq!(
        v4("-A FORWARD ! -d 192.0.2.1/32 ! -o lo ! -p udp -f -j DROP"),
        "meta nfproto ipv4 ip daddr != 192.0.2.1 oifname != \"lo\" meta l4proto != udp ip frag-off & 0x00001fff != 0 counter drop"
    );
    assert_eq!(
        v6("-A INPUT -s 2001:db8::/32 -j ACCEPT"),
        "meta nfproto ipv6 ip6 saddr 2001:db8::/32 counter accept"
    );
    assert_eq!(v4("-A INPUT"), "meta nfproto ipv4 counter");
}

#[test]
fn issue3_ports_flags_multiport_icmp() {
    assert_eq!(
        v4("-A INPUT -p tcp -m tcp --sport 1000:2000 ! --dport 80 --tcp-flags SYN,RST SYN -j ACCEPT"),
        "meta nfproto ipv4 meta l4proto tcp tcp sport 1000-2000 tcp dport != 80 tcp flags & (syn|rst) == syn counter accept"
    );
    assert_eq!(
        v4("-A INPUT -p udp -m multiport --dports 53,5000:5010 -j ACCEPT"),
        "meta nfproto ipv4 meta l4proto udp udp dport { 53, 5000-5010 } counter accept"
    );
    assert_eq!(
        v4("-A INPUT -p tcp -m multiport ! --ports 22,80 -j DROP"),
        "meta nfproto ipv4 meta l4proto tcp tcp sport != { 22, 80 } tcp dport != { 22, 80 } counter drop"
    );
    assert_eq!(
        v4("-A INPUT -p tcp -m multiport --ports 22 -j DROP"),
        "meta nfproto ipv4 meta l4proto tcp tcp sport . tcp dport { 22 . 0-65535, 0-65535 . 22 } counter drop"
    );
    assert_eq!(
        v4("-A INPUT -p icmp -m icmp --icmp-type 3/4 -j ACCEPT"),
        "meta nfproto ipv4 meta l4proto icmp icmp type destination-unreachable icmp code 4 counter accept"
    );
    assert_eq!(
        v4("-A INPUT -p icmp -m icmp ! --icmp-type 8 -j ACCEPT"),
        "meta nfproto ipv4 meta l4proto icmp icmp type != echo-request counter accept"
    );
    assert_eq!(
        v6("-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT"),
        "meta nfproto ipv6 meta l4proto ipv6-icmp icmpv6 type nd-neighbor-solicit counter accept"
    );
}

#[test]
fn issue3_conntrack_state_is_an_or_of_state_and_nat_status() {
    assert_eq!(
        v4("-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT"),
        "meta nfproto ipv4 ct state related,established counter accept"
    );
    let text = "*filter\n-A FORWARD -m conntrack --ctstate NEW,DNAT -j ACCEPT\nCOMMIT\n";
    assert_eq!(
        compile(Family::Ipv4, text).expect("lowers"),
        vec![
            "meta nfproto ipv4 ct state { new } counter accept",
            "meta nfproto ipv4 ct state != { new } ct status dnat counter accept",
        ]
    );
    assert_eq!(
        v4("-A INPUT -m conntrack ! --ctstate INVALID -j ACCEPT"),
        "meta nfproto ipv4 ct state != { invalid } counter accept"
    );
    assert_eq!(
        v4("-A INPUT -m conntrack --ctstatus ASSURED --ctdir REPLY --ctexpire 10:20 -j ACCEPT"),
        "meta nfproto ipv4 ct direction reply ct status assured ct expiration 10000ms-20999ms counter accept"
    );
    // A limit before a split would run twice.
    let e = err4(
        "-A INPUT -m limit --limit 1/sec -m conntrack --ctstate NEW,DNAT -j ACCEPT",
        "filter",
    );
    assert!(e.contains("t.rules:2:1"), "{e}");
}

#[test]
fn issue3_misc_matches() {
    assert_eq!(
        v4("-A INPUT -m limit --limit 3/min --limit-burst 7 -j LOG --log-prefix \"x: \" --log-level 6 --log-uid"),
        "meta nfproto ipv4 limit rate 3/minute burst 7 packets counter log prefix \"x: \" level info flags skuid"
    );
    assert_eq!(
        v4("-A INPUT -m comment --comment \"hello world\" -j ACCEPT"),
        "meta nfproto ipv4 counter accept comment \"hello world\""
    );
    assert_eq!(
        v4("-A INPUT -m iprange --src-range 1.2.3.4-1.2.3.9 -j DROP"),
        "meta nfproto ipv4 ip saddr 1.2.3.4-1.2.3.9 counter drop"
    );
    assert_eq!(
        v4("-A INPUT -m mark --mark 0x1/0xff -m connmark ! --mark 0x5 -j DROP"),
        "meta nfproto ipv4 meta mark & 0x000000ff == 0x00000001 ct mark != 0x00000005 counter drop"
    );
    assert_eq!(
        v4("-A INPUT -m mac --mac-source 00:11:22:AA:BB:CC -j DROP"),
        "meta nfproto ipv4 ether saddr 00:11:22:aa:bb:cc counter drop"
    );
    assert_eq!(
        v4("-A INPUT -m length --length 100:200 -m ttl --ttl-lt 5 -j DROP"),
        "meta nfproto ipv4 meta length 100-200 ip ttl < 5 counter drop"
    );
    assert_eq!(
        v6("-A INPUT -m hl --hl-gt 5 -j DROP"),
        "meta nfproto ipv6 ip6 hoplimit > 5 counter drop"
    );
    assert_eq!(
        v4("-A INPUT -m pkttype --pkt-type broadcast -j DROP"),
        "meta nfproto ipv4 meta pkttype broadcast counter drop"
    );
    assert_eq!(
        v4("-A INPUT -m addrtype --src-type LOCAL,BROADCAST --limit-iface-in -j DROP"),
        "meta nfproto ipv4 fib saddr . iif type { local, broadcast } counter drop"
    );
    assert_eq!(
        v4("-A OUTPUT -m owner --uid-owner 1000 -j DROP"),
        "meta nfproto ipv4 meta skuid 1000 counter drop"
    );
}

#[test]
fn issue3_targets() {
    assert_eq!(
        v4("-A INPUT -j REJECT --reject-with icmp-host-prohibited"),
        "meta nfproto ipv4 counter reject with icmp type host-prohibited"
    );
    assert_eq!(
        v6("-A INPUT -j REJECT"),
        "meta nfproto ipv6 counter reject with icmpv6 type port-unreachable"
    );
    assert_eq!(
        v4("-A INPUT -p tcp -j REJECT --reject-with tcp-reset"),
        "meta nfproto ipv4 meta l4proto tcp counter reject with tcp reset"
    );
    assert_eq!(
        v4("-A INPUT -j NFLOG --nflog-group 5 --nflog-prefix foo"),
        "meta nfproto ipv4 counter log prefix \"foo\" group 5"
    );
    assert_eq!(
        v4("-A INPUT -j MARK --set-xmark 0x1/0xff"),
        "meta nfproto ipv4 counter meta mark set meta mark & 0xffffff00 ^ 0x00000001"
    );
    assert_eq!(
        v4("-A INPUT -j CONNMARK --save-mark"),
        "meta nfproto ipv4 counter ct mark set meta mark"
    );
    assert_eq!(
        nat4("-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.1-10.0.0.9:8080 --persistent"),
        "meta l4proto tcp tcp dport 80 counter dnat to 10.0.0.1-10.0.0.9:8080 persistent"
    );
    assert_eq!(
        nat4("-A POSTROUTING -o eth0 -j MASQUERADE --random-fully"),
        "oifname \"eth0\" counter masquerade fully-random"
    );
    assert_eq!(
        nat4("-A PREROUTING -d 10.0.0.0/8 -j NETMAP --to 192.168.0.0/8"),
        "ip daddr 10.0.0.0/8 counter dnat prefix to 192.0.0.0/8"
    );
}

#[test]
fn issue3_unlowerable_constructs_name_the_line() {
    let e = err4(
        "-A INPUT -m recent --name x --rcheck --seconds 60 --hitcount 4 -j DROP",
        "filter",
    );
    assert!(e.starts_with("t.rules:2:1: -m recent: --hitcount"), "{e}");
    let e = err4("-A FORWARD -m physdev --physdev-in eth0 -j DROP", "filter");
    assert!(e.contains("-m physdev"), "{e}");
    let e = err4("-A OUTPUT -m owner ! --uid-owner 0 -j DROP", "filter");
    assert!(e.contains("without a socket"), "{e}");
}

#[test]
fn issue3_hashlimit_is_a_meter_per_key() {
    assert_eq!(
        v4("-A INPUT -p tcp -m tcp --dport 22 -m hashlimit --hashlimit-upto 4/min --hashlimit-burst 4 --hashlimit-mode srcip --hashlimit-name ssh -j ACCEPT"),
        "meta nfproto ipv4 meta l4proto tcp tcp dport 22 update @hashlimit.ssh.v4 { ip saddr limit rate 4/minute burst 4 packets } counter accept"
    );
    assert_eq!(
        v4("-A INPUT -p tcp -m hashlimit --hashlimit-above 10/sec --hashlimit-burst 5 --hashlimit-mode srcip,dstport --hashlimit-srcmask 24 --hashlimit-name x --hashlimit-htable-expire 30000 -j DROP"),
        "meta nfproto ipv4 meta l4proto tcp update @hashlimit.x.v4 { ip saddr & 255.255.255.0 . tcp dport limit rate over 10/second burst 5 packets } counter drop"
    );
    let text = "*filter\n-A INPUT -p tcp -m hashlimit --hashlimit-upto 1/sec --hashlimit-mode srcip --hashlimit-name x --hashlimit-htable-expire 30000 --hashlimit-htable-max 1000 -j ACCEPT\nCOMMIT\n";
    let file = SourceFile::new("t.rules".to_string(), text.to_string());
    let parsed = rampart_syntax::iptables::parse_save(&file, Family::Ipv4);
    let rs = rampart_nft::lower(&parsed.value).expect("lowers");
    let set = &rs.tables[0].sets[0];
    assert_eq!(
        (
            set.name.as_str(),
            set.timeout,
            set.size,
            set.dynamic,
            set.timeout_flag
        ),
        ("hashlimit.x.v4", Some(30), Some(8192), true, true),
        "xt_hashlimit raises a max below the table size (8192 buckets by default) to the size"
    );
    // The set holds as many keys as xt_hashlimit's table: the max, else
    // 8 × the size.
    for (opts, size) in [
        (
            "--hashlimit-htable-size 512 --hashlimit-htable-max 1000",
            1000,
        ),
        ("--hashlimit-htable-size 512", 4096),
        ("--hashlimit-htable-size 512 --hashlimit-htable-max 0", 4096),
        ("", 65536),
    ] {
        let text = format!("*filter\n-A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-mode srcip --hashlimit-name x {opts} -j ACCEPT\nCOMMIT\n");
        let parsed =
            rampart_syntax::iptables::parse_save(&SourceFile::new("t.rules", text), Family::Ipv4);
        assert!(
            !parsed.diagnostics.has_errors(),
            "{opts}: {}",
            parsed.diagnostics
        );
        let rs = rampart_nft::lower(&parsed.value).expect("lowers");
        assert_eq!(rs.tables[0].sets[0].size, Some(size), "{opts}");
    }
    // -p icmp has no ports: xt_hashlimit would key on port 0.
    let e = err4(
        "-A INPUT -p icmp -m hashlimit --hashlimit-upto 1/sec --hashlimit-mode dstport --hashlimit-name y -j ACCEPT",
        "filter",
    );
    assert!(
        e.contains("--hashlimit-mode srcport/dstport needs -p tcp"),
        "{e}"
    );
}

#[test]
fn issue3_connlimit_is_ct_count_per_group() {
    assert_eq!(
        v4("-A INPUT -p tcp -m tcp --dport 25 -m connlimit --connlimit-above 20 --connlimit-mask 24 --connlimit-saddr -j DROP"),
        "meta nfproto ipv4 meta l4proto tcp tcp dport 25 add @connlimit.0 { ip saddr & 255.255.255.0 ct count over 20 } counter drop"
    );
    assert_eq!(
        v6("-A INPUT -p tcp -m connlimit --connlimit-upto 2 --connlimit-mask 64 --connlimit-daddr -j ACCEPT"),
        "meta nfproto ipv6 meta l4proto tcp add @connlimit.0 { ip6 daddr & ffff:ffff:ffff:ffff:: ct count 2 } counter accept"
    );
}

#[test]
fn issue3_recent_is_a_set_with_timeout() {
    let text = "*filter\n-A INPUT -m recent --set --name SSH --rsource\n-A INPUT -m recent --update --seconds 60 --name SSH -j DROP\n-A INPUT -m recent ! --rcheck --seconds 60 --name SSH --mask 255.255.255.0 -j ACCEPT\nCOMMIT\n";
    assert_eq!(
        compile(Family::Ipv4, text).expect("lowers"),
        vec![
            "meta nfproto ipv4 update @recent.SSH.v4 { ip saddr } counter",
            "meta nfproto ipv4 ip saddr @recent.SSH.v4 update @recent.SSH.v4 { ip saddr } counter drop",
            "meta nfproto ipv4 ip saddr & 255.255.255.0 != @recent.SSH.v4 counter accept",
        ]
    );
    // One set timeout cannot serve two windows.
    let text = "*filter\n-A INPUT -m recent --rcheck --seconds 60 --name A -j DROP\n-A INPUT -m recent --rcheck --name A -j DROP\nCOMMIT\n";
    let e = compile(Family::Ipv4, text).expect_err("refused").join("\n");
    assert!(e.contains("both with --seconds 60 and without"), "{e}");
    let e = err4(
        "-A INPUT -m recent --name x --rcheck --rttl -j DROP",
        "filter",
    );
    assert!(e.contains("--rttl"), "{e}");
}

#[test]
fn issue3_set_target_adds_and_deletes() {
    let text = "*filter\n-A INPUT -p tcp -j SET --add-set banned src --exist --timeout 600\n-A INPUT -p tcp -j SET --add-set banned src\n-A INPUT -p tcp -j SET --del-set banned src\nCOMMIT\n";
    let mut policy = {
        let file = SourceFile::new("t.rules".to_string(), text.to_string());
        rampart_syntax::iptables::parse_save(&file, Family::Ipv4).value
    };
    policy.sets.push(rampart_model::IpSet {
        name: "banned".into(),
        kind: rampart_model::SetKind::HashIp,
        family: Some(Family::Ipv4),
        timeout: Some(3600),
        options: Default::default(),
        elements: Vec::new(),
        origin: None,
    });
    let rs = rampart_nft::lower(&policy).expect("lowers");
    let rules: Vec<String> = rs.tables[0].chains[0]
        .rules
        .iter()
        .map(rampart_nft::print::rule)
        .collect();
    assert_eq!(
        rules,
        vec![
            "meta nfproto ipv4 meta l4proto tcp counter update @banned { ip saddr timeout 600s }",
            "meta nfproto ipv4 meta l4proto tcp counter add @banned { ip saddr }",
            "meta nfproto ipv4 meta l4proto tcp counter delete @banned { ip saddr }",
        ]
    );
    assert!(rs.tables[0].sets[0].dynamic);
}

/// Files of `testdata/` and `examples/` that are not policies of their
/// own: they are read by a policy that includes them.
const NOT_POLICIES: &[(&str, &str)] = &[(
    "examples/blocklist.txt",
    "the address list of examples/web.toml's [sets.blocklist]",
)];

/// The policies that rampart refuses to lower, each with the exact error:
/// a construct without a faithful nftables lowering, named with its line.
/// A corpus file that fails to lower and is not here, or is here and
/// lowers, fails the tests.
pub const REFUSED: &[(&str, &str)] = &[(
    "testdata/web-server.v4",
    "testdata/web-server.v4:18:1: -m recent: --hitcount counts hits in a sliding window of --seconds; nft set elements keep no hit history (a limit or quota would only approximate it) (iptables table filter, chain SSH_CHECK)\n",
)];

/// Every file directly in `testdata/` and `examples/` (sub-directories hold
/// included files, broken inputs and goldens), except [`NOT_POLICIES`]:
/// a new file is a new test case whatever its name.
fn corpus() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["testdata", "examples"] {
        let rd = std::fs::read_dir(root().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        for e in rd.flatten() {
            let p = e.path();
            let rel = format!("{dir}/{}", e.file_name().to_string_lossy());
            if p.is_file() && !NOT_POLICIES.iter().any(|(n, _)| *n == rel) {
                v.push(p);
            }
        }
    }
    v.sort();
    assert!(v.len() >= 14, "the corpus shrank to {} files", v.len());
    v
}

/// `testdata/x.v4` for a corpus path.
fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

/// Lowers every corpus file; refusals must be exactly [`REFUSED`].
fn corpus_rulesets() -> Vec<(PathBuf, rampart_nft::Ruleset)> {
    let mut ok = Vec::new();
    let mut problems = Vec::new();
    let mut refused = Vec::new();
    for p in corpus() {
        let r = rel(&p);
        match (lower_rs(&p), REFUSED.iter().find(|(n, _)| *n == r)) {
            (Ok(rs), None) => ok.push((p, rs)),
            (Ok(_), Some(_)) => problems.push(format!(
                "{r} lowers now: take it off REFUSED so the kernel tests load it"
            )),
            (Err(e), Some((_, want))) if e == *want => refused.push(r),
            (Err(e), Some((_, want))) => {
                problems.push(format!("{r}: refused with\n{e}\nexpected\n{want}"))
            }
            (Err(e), None) => problems.push(format!("{r} does not lower:\n{e}")),
        }
    }
    for (n, _) in REFUSED {
        if !refused.iter().any(|r| r == n) && !problems.iter().any(|p| p.starts_with(n)) {
            problems.push(format!("{n} is listed as refused but is not in the corpus"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    ok
}

#[test]
fn issue3_every_corpus_file_lowers_or_is_an_expected_refusal() {
    let ok = corpus_rulesets();
    let names: Vec<String> = ok.iter().map(|(p, _)| rel(p)).collect();
    assert_eq!(
        ok.len() + REFUSED.len(),
        corpus().len(),
        "lowered: {names:?}"
    );
    for (p, rs) in ok {
        // No policy of the corpus lowers to nothing.
        let before: usize = rs
            .tables
            .iter()
            .flat_map(|t| &t.chains)
            .map(|c| c.rules.len())
            .sum();
        assert!(before > 0, "{}: an empty ruleset", rel(&p));
    }
}

/// Loads and lowers one corpus file to its ruleset, or the errors as text.
fn lower_rs(path: &Path) -> Result<rampart_nft::Ruleset, String> {
    let root = root();
    let rel = path
        .strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let format = Format::detect(&rel, &text);
    // Native includes resolve against the working directory, which is
    // process-wide: one test at a time.
    static CWD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = CWD.lock().unwrap_or_else(|e| e.into_inner());
    let cwd = std::env::current_dir().expect("cwd");
    std::env::set_current_dir(&root).expect("chdir to the repository");
    let parsed = format.parse(&SourceFile::new(rel.clone(), text));
    std::env::set_current_dir(cwd).expect("chdir back");
    assert!(
        !parsed.diagnostics.has_errors(),
        "{rel} does not parse: {}",
        parsed.diagnostics
    );
    rampart_nft::lower(&parsed.value).map_err(|e| e.iter().map(|e| format!("{e}\n")).collect())
}

#[test]
fn issue3_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let gdir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut failures = Vec::new();
    for p in corpus() {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = p
            .parent()
            .and_then(|d| d.file_name())
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default();
        let outputs = match lower_rs(&p) {
            Ok(rs) => vec![
                ("nft", rampart_nft::to_text(&rs)),
                (
                    "optimized.nft",
                    rampart_nft::to_text(&rampart_nft::optimize(rs)),
                ),
            ],
            Err(e) => vec![("errors", e)],
        };
        for (ext, body) in outputs {
            let g = gdir.join(format!("{dir}-{name}.{ext}"));
            if update {
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
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A network namespace created by the test and deleted on drop.
struct Netns(String);

impl Netns {
    fn new(n: usize) -> Result<Netns, String> {
        let name = format!("rampart-test-{}-{n}", std::process::id());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .map_err(|e| format!("cannot run ip: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "ip netns add failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(Netns(name))
    }

    fn nft(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "nft"])
            .args(args)
            .output()
            .map_err(|e| format!("cannot run nft: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Can this process create network namespaces and run nft?
fn kernel_available() -> Result<(), String> {
    let ns = Netns::new(0)?;
    ns.nft(&["list", "ruleset"]).map(|_| ())
}

#[test]
fn issue3_compiled_policies_load_into_the_kernel() {
    if let Err(why) = kernel_available() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the kernel test needs root, ip and nft in CI: {why}");
        }
        eprintln!("NOTICE: skipping the kernel test (needs root, ip netns and nft): {why}");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("rampart-nft-test-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let mut loaded = 0;
    let mut failures = Vec::new();
    for (n, (p, rs)) in corpus_rulesets().into_iter().enumerate() {
        let opt = rampart_nft::optimize(rs.clone());
        // The plain text, the optimised text, and the optimised JSON: each
        // checked, loaded, and loaded again (which replaces, never fails).
        let mut listings = Vec::new();
        for (k, (body, json)) in [
            (rampart_nft::to_text(&rs), false),
            (rampart_nft::to_text(&opt), false),
            (rampart_nft::to_json(&opt).to_string(), true),
        ]
        .into_iter()
        .enumerate()
        {
            let file = tmp.join(format!("{n}-{k}.nft"));
            std::fs::write(&file, &body).expect("write nft file");
            let f = file.display().to_string();
            let ns = match Netns::new(3 * n + k + 1) {
                Ok(ns) => ns,
                Err(e) => panic!("{e}"),
            };
            let j: &[&str] = if json { &["-j"] } else { &[] };
            let args = |a: &[&'static str]| -> Vec<String> {
                j.iter().chain(a).map(|s| s.to_string()).collect()
            };
            let run = |a: &[&'static str]| {
                let mut v = args(a);
                v.push(f.clone());
                ns.nft(&v.iter().map(String::as_str).collect::<Vec<_>>())
            };
            let res = run(&["-c", "-f"])
                .and_then(|_| run(&["-f"]))
                .and_then(|_| run(&["-f"]))
                .and_then(|_| ns.nft(&["list", "ruleset"]));
            match res {
                Ok(l) => listings.push(l),
                Err(e) => failures.push(format!("{} ({k}): {e}", p.display())),
            }
        }
        if let [_, text, json] = listings.as_slice() {
            // JSON and text of the same ruleset give the same kernel state.
            // nft keeps `auto-merge` only from text, and lists a one-element
            // anonymous set loaded from JSON as `== x` (same match).
            let norm = |s: &str| -> String {
                s.lines()
                    .filter(|l| !l.contains("auto-merge"))
                    .map(|l| {
                        // Drop `expires T`: time passes between loads.
                        let mut out = Vec::new();
                        let mut words = l.split_whitespace().filter(|w| *w != "==");
                        while let Some(w) = words.next() {
                            if w == "expires" {
                                let _ = words.next();
                            } else {
                                out.push(w);
                            }
                        }
                        out.join(" ")
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            if norm(text) != norm(json) {
                failures.push(format!(
                    "{}: the JSON loads differently from the text",
                    p.display()
                ));
            }
            loaded += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!("{loaded} compiled policies loaded into the kernel");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every corpus policy but the expected refusals, in all three forms.
    assert_eq!(loaded + REFUSED.len(), corpus().len(), "loaded {loaded}");
}

#[test]
fn issue3_blocklist_script_becomes_a_set_lookup() {
    let rs = lower_rs(&root().join("testdata/blocklist-5000.sh")).expect("lowers");
    let opt = rampart_nft::optimize(rs);
    let rules: Vec<&rampart_nft::Rule> =
        opt.tables[0].chains.iter().flat_map(|c| &c.rules).collect();
    assert!(rules.len() <= 5, "{} rules", rules.len());
    let origins: usize = rules.iter().map(|r| r.origins.len()).sum();
    assert_eq!(origins, 5000, "every source line stays mapped");
}

/// hashlimit and recent behave in the kernel as in iptables: UDP packets
/// sent to the namespace's own loopback, counted per rule.
#[test]
fn issue3_hashlimit_and_recent_in_the_kernel() {
    if kernel_available().is_err() {
        eprintln!("NOTICE: skipping (needs root, ip netns and nft)");
        return;
    }
    let text = "*filter\n:OUTPUT ACCEPT [0:0]\n\
-A OUTPUT -p udp -m udp --dport 9 -m hashlimit --hashlimit-upto 1/hour --hashlimit-burst 3 --hashlimit-mode dstip,dstport --hashlimit-name t -j ACCEPT\n\
-A OUTPUT -p udp -m udp --dport 9 -j DROP\n\
-A OUTPUT -p udp -m udp --dport 12 -m hashlimit --hashlimit-above 1/hour --hashlimit-burst 2 --hashlimit-mode dstip --hashlimit-name a -j DROP\n\
-A OUTPUT -p udp -m udp --dport 10 -m recent --set --name R\n\
-A OUTPUT -p udp -m udp --dport 11 -m recent --rcheck --seconds 60 --name R -j DROP\n\
COMMIT\n";
    let file = SourceFile::new("t.rules".to_string(), text.to_string());
    let parsed = rampart_syntax::iptables::parse_save(&file, Family::Ipv4);
    let rs = rampart_nft::lower(&parsed.value).expect("lowers");
    let path = std::env::temp_dir().join(format!("rampart-k2-{}.nft", std::process::id()));
    std::fs::write(&path, rampart_nft::to_text(&rs)).expect("write");
    let ns = Netns::new(9999).expect("netns");
    ns.nft(&["-f", &path.display().to_string()]).expect("loads");
    let _ = std::fs::remove_file(&path);
    let sh = "ip link set lo up; s() { echo x 2>/dev/null > /dev/udp/127.0.0.1/$1; }; \
              for i in 1 2 3 4 5; do s 9; s 12; done; s 11; s 10; s 11; s 11; true";
    let st = Command::new("ip")
        .args(["netns", "exec", &ns.0, "bash", "-c", sh])
        .status()
        .expect("bash");
    assert!(st.success());
    let list = ns
        .nft(&["list", "chain", "inet", "rampart", "output"])
        .expect("list");
    let packets = |needle: &str| -> Option<u64> {
        let l = list.lines().find(|l| l.contains(needle))?;
        let w: Vec<&str> = l.split_whitespace().collect();
        let i = w.iter().rposition(|x| *x == "packets")?;
        w.get(i + 1)?.parse().ok()
    };
    // upto 1/hour burst 3: 3 of 5 accepted, 2 dropped.
    assert_eq!(packets("@hashlimit.t.v4"), Some(3), "{list}");
    assert_eq!(packets("udp dport 9 counter"), Some(2), "{list}");
    // above 1/hour burst 2: the first 2 pass, 3 are over.
    assert_eq!(packets("@hashlimit.a.v4"), Some(3), "{list}");
    // rcheck before --set misses; the two after it hit.
    assert_eq!(packets("ip saddr @recent.R.v4"), Some(2), "{list}");
}

/// Issue 6: the native `[protect]` table lowers to meters that update
/// dynamic sets from the packet path and a drop of the ban set's members.
#[test]
fn issue6_protect_meters_ban_into_dynamic_sets() {
    let text = "[defaults]\ninput = \"drop\"\n[protect]\n\
syn_rate = { per_source = \"50/second\", burst = 100, ban = \"10m\" }\n\
new_rate = { per_source = \"100/second\", burst = 200 }\n\
connlimit = { per_source = 200, ban = \"1h\" }\n";
    let parsed = rampart_syntax::native::parse_native(&SourceFile::new("p.toml", text.to_string()));
    assert!(!parsed.diagnostics.has_errors(), "{}", parsed.diagnostics);
    let rs = rampart_nft::lower(&parsed.value).expect("lowers");
    let out = rampart_nft::to_text(&rs);
    for want in [
        "set protect-ban {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout 3600s\n\t\tsize 1048576\n\t}",
        "set hashlimit.protect-syn.v4 {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout 1s\n\t\tsize 1048576\n\t}",
        "meta nfproto ipv4 meta l4proto tcp tcp flags & (fin|syn|rst|ack) == syn update @hashlimit.protect-syn.v4 { ip saddr limit rate over 50/second burst 100 packets } counter add @protect-ban { ip saddr timeout 600s } comment \"protect: syn_rate\"",
        "meta nfproto ipv4 ct state new update @hashlimit.protect-new.v4 { ip saddr limit rate over 100/second burst 200 packets } counter drop comment \"protect: new_rate\"",
        "ct count over 200 } counter add @protect-ban { ip saddr timeout 3600s } comment \"protect: connlimit\"",
        "meta nfproto ipv6 ip6 saddr @protect-ban-v6 counter drop comment \"protect: ban\"",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    // Right after the loopback accept, before ESTABLISHED.
    let input = &rs.tables[0]
        .chains
        .iter()
        .find(|c| c.name == "input")
        .expect("input")
        .rules;
    for fam in ["ipv4", "ipv6"] {
        let lines: Vec<String> = input
            .iter()
            .map(rampart_nft::print::rule)
            .filter(|l| l.starts_with(&format!("meta nfproto {fam} ")))
            .collect();
        assert!(lines[0].contains("iifname \"lo\""), "{lines:#?}");
        assert!(lines[1].contains("protect: syn_rate"), "{lines:#?}");
        assert!(lines[4].contains("protect: ban"), "{lines:#?}");
        assert!(
            lines[5].contains("ct state related,established"),
            "{lines:#?}"
        );
    }
}
