//! The commands that deal with the host: `harden`, `save`, `demo` and the
//! systemd unit. Kept apart from `cli.rs` because these need root, `ip`
//! and systemd, and change kernel state — only ever inside network
//! namespaces the tests create: the host's own `/proc/sys` and ruleset are
//! never written. Without root they are skipped with a notice, except in
//! CI (`CI=true`), where that is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rampart")
}

fn rampart(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run rampart")
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rampart-host-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Skips (returns false) when a requirement is missing; fails in CI.
fn require(ok: bool, what: &str) -> bool {
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{what}: CI must provide it (run the tests as root with iproute2 and systemd installed)"
        );
        eprintln!("NOTICE: skipped: {what}");
    }
    ok
}

/// A network namespace made by the test, deleted on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Option<Netns> {
        let name = format!("rampart-host-{}-{tag}", std::process::id());
        let made = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        require(
            made,
            "cannot create a network namespace (needs root and iproute2)",
        )
        .then_some(Netns(name))
    }

    /// `ip netns exec NS rampart ARGS...`
    fn rampart(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0, bin()])
            .args(args)
            .output()
            .expect("run rampart in the namespace")
    }

    /// A sysctl as the namespace sees it.
    fn sysctl(&self, rel: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "cat"])
            .arg(Path::new("/proc/sys").join(rel))
            .output()
            .expect("run cat in the namespace");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

const WATCHED: &[&str] = &[
    "net/ipv4/conf/all/rp_filter",
    "net/ipv4/conf/all/accept_redirects",
    "net/ipv4/conf/default/accept_source_route",
    "net/ipv4/conf/all/log_martians",
    "net/ipv6/conf/all/accept_redirects",
];

fn host_values() -> Vec<String> {
    WATCHED
        .iter()
        .map(|k| std::fs::read_to_string(Path::new("/proc/sys").join(k)).unwrap_or_default())
        .collect()
}

#[test]
fn issue3_harden_check_apply_restore_inside_a_namespace() {
    let host_before = host_values();
    let Some(ns) = Netns::new("harden") else {
        return;
    };
    // A veth end gives the namespace an interface besides lo.
    let made = Command::new("ip")
        .args([
            "-n", &ns.0, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(made, "ip link add veth in the namespace");
    let state = tmpdir("harden-state");
    let st = state.to_str().expect("utf8 path");
    let before: Vec<String> = WATCHED.iter().map(|k| ns.sysctl(k)).collect();

    let check = ns.rampart(&["harden", "--check", "--state-dir", st]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check.stderr));
    let report = text(&check.stdout);
    assert!(report.contains("net.ipv4.conf.eth0.rp_filter"), "{report}");
    assert!(report.contains("DIFFERS"), "{report}");
    assert!(!report.contains("conf.lo."), "{report}");
    // two uplinks (eth0, eth1): loose reverse-path filtering is written
    let json = ns.rampart(&["harden", "--json", "--state-dir", st]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert!(v["differing"].as_u64().expect("count") > 0);
    let rp = v["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .find(|s| s["key"] == "net.ipv4.conf.eth0.rp_filter")
        .expect("eth0 rp_filter reported");
    assert_eq!(rp["recommended"], "2");

    let apply = ns.rampart(&["harden", "--apply", "--state-dir", st]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply.stderr));
    assert_eq!(ns.sysctl("net/ipv4/conf/all/rp_filter"), "2");
    assert_eq!(ns.sysctl("net/ipv4/conf/eth0/rp_filter"), "2");
    assert_eq!(ns.sysctl("net/ipv4/conf/all/accept_redirects"), "0");
    assert_eq!(ns.sysctl("net/ipv4/conf/all/log_martians"), "1");
    assert_eq!(ns.sysctl("net/ipv6/conf/all/accept_redirects"), "0");
    let record = std::fs::read_to_string(state.join("harden.json")).expect("record written");
    assert!(record.contains("\"previous\""), "{record}");
    let again = ns.rampart(&["harden", "--check", "--state-dir", st]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stdout));

    let restore = ns.rampart(&["harden", "--restore", "--state-dir", st]);
    assert_eq!(restore.status.code(), Some(0), "{}", text(&restore.stderr));
    let after: Vec<String> = WATCHED.iter().map(|k| ns.sysctl(k)).collect();
    assert_eq!(before, after);
    assert!(!state.join("harden.json").exists());
    assert_eq!(host_before, host_values(), "the host's settings changed");
    std::fs::remove_dir_all(state).expect("cleanup");
}

impl Netns {
    /// `rampart ARGS... --state-dir STATE` in the namespace, not over SSH.
    fn run_state(&self, state: &Path, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0, bin()])
            .args(args)
            .arg("--state-dir")
            .arg(state)
            .env("SSH_CONNECTION", "")
            .output()
            .expect("run rampart in the namespace")
    }

    fn ruleset(&self) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "nft", "list", "ruleset"])
            .output()
            .expect("run nft in the namespace");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    }

    /// The namespace's values of [`WATCHED`] and the forwarding switches.
    fn settings(&self) -> Vec<String> {
        WATCHED
            .iter()
            .chain(&["net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"])
            .map(|k| format!("{k}={}", self.sysctl(k)))
            .collect()
    }
}

/// `apply` of a policy with kernel settings (native `ip_forward`) and
/// `harden --apply` are steps of the state history: the automatic rollback
/// of an unconfirmed `apply --confirm` restores the rules and writes back
/// the forwarding switches it turned on, and `rollback` then undoes the
/// hardening too — rules and settings, inside a namespace only.
#[test]
fn issue3_rollback_restores_rules_and_kernel_settings() {
    let host_before = host_values();
    let Some(ns) = Netns::new("rollback-settings") else {
        return;
    };
    let made = Command::new("ip")
        .args([
            "-n", &ns.0, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(made, "ip link add veth in the namespace");
    let state = tmpdir("rollback-settings");
    let a = state.join("a.toml");
    std::fs::write(
        &a,
        "[defaults]\ninput = \"drop\"\n\n[[allow]]\nservice = \"ssh\"\n",
    )
    .expect("write");
    let b = state.join("b.toml");
    std::fs::write(
        &b,
        "[defaults]\ninput = \"drop\"\nforward = \"drop\"\nip_forward = true\n\n[[allow]]\nservice = [\"ssh\", \"http\"]\n",
    )
    .expect("write");
    let a_path = a.to_str().expect("utf8");
    let b_path = b.to_str().expect("utf8");
    let ok = |out: Output| {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        out
    };
    let original = ns.settings();
    assert!(original.contains(&"net/ipv4/ip_forward=0".to_string()));

    // 1. A: rules only.
    ok(ns.run_state(&state, &["apply", a_path]));
    let rules_a = ns.ruleset();
    assert_eq!(ns.settings(), original);
    // 2. harden: settings only, recorded as a step.
    ok(ns.run_state(&state, &["harden", "--apply"]));
    let hardened = ns.settings();
    assert_ne!(hardened, original);
    assert_eq!(ns.ruleset(), rules_a, "harden does not touch the rules");
    // 3. B with --confirm: rules and both forwarding switches. The
    // window must outlast the checks below on a loaded CI machine (2 s
    // did not, once); the wait for the rollback then polls.
    let applied = ok(ns.run_state(&state, &["apply", "--confirm", "10s", b_path]));
    assert!(
        text(&applied.stderr).contains("net.ipv4.ip_forward = 1 (was 0)"),
        "{}",
        text(&applied.stderr)
    );
    assert_eq!(ns.sysctl("net/ipv4/ip_forward"), "1");
    assert_eq!(ns.sysctl("net/ipv6/conf/all/forwarding"), "1");
    assert_ne!(ns.ruleset(), rules_a);
    let status = ok(ns.run_state(&state, &["status", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(v["applied"]["settings"][0]["key"], "net.ipv4.ip_forward");
    assert_eq!(v["applied"]["settings"][0]["previous"], "0");

    // 4. Not confirmed: the guard restores A's rules, then the settings
    // from before B (the hardening stays: it came before B).
    let t0 = std::time::Instant::now();
    loop {
        let st = ok(ns.run_state(&state, &["status", "--json"]));
        let v: serde_json::Value = serde_json::from_slice(&st.stdout).expect("json");
        if v["applied"]["kind"] == "auto-rollback" {
            break;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(60),
            "no automatic rollback: {}",
            String::from_utf8_lossy(&st.stdout)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(ns.ruleset(), rules_a);
    assert_eq!(ns.settings(), hardened);

    // 5. rollback: back before the hardening; the rules stay A's.
    let back = ok(ns.run_state(&state, &["rollback"]));
    assert!(
        text(&back.stderr).contains("kernel settings written back"),
        "{}",
        text(&back.stderr)
    );
    assert_eq!(ns.settings(), original);
    assert_eq!(ns.ruleset(), rules_a);
    // 6. A was the first policy: nothing before it.
    let first = ns.run_state(&state, &["rollback"]);
    assert_eq!(first.status.code(), Some(2), "{}", text(&first.stderr));

    // harden before any apply: rollback writes the values back and
    // leaves no rampart table behind.
    let fresh = tmpdir("rollback-settings-fresh");
    let ns2 = Netns::new("rollback-settings-2").expect("namespace");
    let before2 = ns2.settings();
    ok(ns2.run_state(&fresh, &["harden", "--apply"]));
    assert_ne!(ns2.settings(), before2);
    let back = ok(ns2.run_state(&fresh, &["rollback"]));
    assert!(
        text(&back.stderr).contains("no rules were applied before"),
        "{}",
        text(&back.stderr)
    );
    assert_eq!(ns2.settings(), before2);
    assert!(!ns2.ruleset().contains("rampart"), "{}", ns2.ruleset());
    let save = ns2.run_state(&fresh, &["save", "--to", "/nonexistent/x.toml"]);
    assert_eq!(save.status.code(), Some(2), "{}", text(&save.stderr));

    assert_eq!(host_before, host_values(), "the host's settings changed");
    let _ = std::fs::remove_dir_all(state);
    let _ = std::fs::remove_dir_all(fresh);
}

#[test]
fn issue3_save_stores_the_applied_source_or_says_nothing_was_applied() {
    let state = tmpdir("save-state");
    let to = state.join("etc/policy.toml");
    let args = |to: &Path| {
        rampart(&[
            "save",
            "--state-dir",
            state.to_str().expect("utf8"),
            "--to",
            to.to_str().expect("utf8"),
        ])
    };
    let none = args(&to);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        text(&none.stderr).contains("no policy was applied by this rampart"),
        "{}",
        text(&none.stderr)
    );
    assert!(!to.exists());

    let Some(ns) = Netns::new("save") else {
        return;
    };
    let apply = |file: &Path| {
        let out = Command::new("ip")
            .args(["netns", "exec", &ns.0, bin(), "apply", "--state-dir"])
            .arg(&state)
            .arg(file)
            .env("SSH_CONNECTION", "")
            .output()
            .expect("run rampart apply in the namespace");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    };
    // A native policy is saved as the text that was applied.
    let policy = "[defaults]\ninput = \"drop\"\n\n[[allow]]\nservice = \"ssh\"\n";
    let native = state.join("policy-in.toml");
    std::fs::write(&native, policy).expect("write");
    apply(&native);
    let saved = args(&to);
    assert_eq!(saved.status.code(), Some(0), "{}", text(&saved.stderr));
    assert_eq!(std::fs::read_to_string(&to).expect("saved"), policy);

    // An imported policy is converted to the native format when it can be.
    let save_file = state.join("rules.v4");
    std::fs::write(
        &save_file,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n",
    )
    .expect("write");
    apply(&save_file);
    let converted = args(&to);
    assert_eq!(
        converted.status.code(),
        Some(0),
        "{}",
        text(&converted.stderr)
    );
    let check = rampart(&["check", to.to_str().expect("utf8")]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));

    // One that the native format cannot express is refused; the file stays.
    let before = std::fs::read_to_string(&to).expect("saved");
    let docker = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/docker-host.v4");
    apply(&docker);
    let refused = args(&to);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("cannot be expressed"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(std::fs::read_to_string(&to).expect("kept"), before);
    drop(ns);
    std::fs::remove_dir_all(state).expect("cleanup");
}

#[test]
fn issue3_systemd_unit_verifies() {
    let out = rampart(&["generate", "systemd"]);
    assert!(out.status.success());
    let unit = text(&out.stdout);
    let dist = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist/rampart.service"),
    )
    .expect("dist/rampart.service");
    assert_eq!(unit, dist);
    for line in [
        "Type=oneshot",
        "RemainAfterExit=yes",
        "Before=network-pre.target",
        "Wants=network-pre.target",
        "DefaultDependencies=no",
        "ConditionPathExists=/etc/rampart/policy.toml",
        "ExecStart=/usr/sbin/rampart apply /etc/rampart/policy.toml",
        "ExecReload=/usr/sbin/rampart apply /etc/rampart/policy.toml",
        "CapabilityBoundingSet=CAP_NET_ADMIN",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing {line}");
    }
    let have = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !require(
        have,
        "systemd-analyze not installed (apt-get install systemd)",
    ) {
        return;
    }
    // `verify` checks that ExecStart's binary exists, so the copy names the
    // binary under test instead of /usr/sbin/rampart; --man=no because the
    // man page named in Documentation= is not installed here.
    let d = tmpdir("systemd");
    let copy = d.join("rampart.service");
    std::fs::write(&copy, unit.replace("/usr/sbin/rampart", bin())).expect("write");
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .expect("run systemd-analyze");
    let err = text(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {err}");
    // Unknown or misspelt keys are only warnings: none may name the unit.
    assert!(!err.contains("rampart.service"), "{err}");
    std::fs::remove_dir_all(d).expect("cleanup");
}

#[test]
fn issue3_demo_accepts_and_drops_as_the_policy_says_and_cleans_up() {
    let Some(probe) = Netns::new("demo-probe") else {
        return;
    };
    drop(probe);
    let out = rampart(&["demo"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let left: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("rampart-demo-"))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for row in [
        "192.0.2.2       22  ssh    dropped   dropped",
        "203.0.113.7     22  ssh    accepted  accepted",
        "192.0.2.2       80  http   accepted  accepted",
        "192.0.2.2      443  https  accepted  accepted",
        "192.0.2.2     3306  mysql  dropped   dropped",
        "192.0.2.66      80  http   dropped   dropped",
    ] {
        assert!(stdout.contains(row), "missing `{row}` in\n{stdout}");
    }
}

#[test]
fn issue3_demo_without_root_says_so_and_exits_2() {
    let have = Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have || !is_root() {
        eprintln!("NOTICE: skipped: needs root and setpriv to run the demo as nobody");
        return;
    }
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            bin(),
            "demo",
        ])
        .output()
        .expect("run setpriv");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("needs root") && err.contains("rampart examples"),
        "{err}"
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0")
}
