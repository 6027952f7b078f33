//! The `rampart` binary end to end: exit codes, formats, JSON, --fix,
//! generated man page and completions.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rampart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(args)
        .output()
        .expect("run rampart")
}

fn testdata(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
        .display()
        .to_string()
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rampart-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

#[test]
fn check_clean_file_exits_0() {
    let out = rampart(&["check", &testdata("web-server.v4")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_broken_file_exits_2_with_located_errors() {
    let out = rampart(&["check", &testdata("broken/web-server-typos.v4")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("web-server-typos.v4:8:"), "{err}");
    assert!(err.contains('^'), "{err}");
}

#[test]
fn check_warnings_only_exits_1() {
    let d = tmpdir("warn");
    let f = d.join("old-negation.v4");
    std::fs::write(
        &f,
        "*filter\n-A INPUT -p tcp --dport ! 22 -j DROP\nCOMMIT\n",
    )
    .expect("write");
    let out = rampart(&["check", f.to_str().expect("utf8 path")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_json_lists_diagnostics() {
    let out = rampart(&["check", "--json", &testdata("broken/web-server-typos.v4")]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let arr = v.as_array().expect("array");
    assert!(arr.len() >= 3);
    assert!(arr
        .iter()
        .all(|d| d["line"].as_u64().is_some() && d["column"].as_u64().is_some()));
}

#[test]
fn convert_script_to_save_and_back() {
    let out = rampart(&[
        "convert",
        "--to",
        "iptables-save",
        &testdata("media-server.sh"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert!(
        text.contains("-A INPUT -s 192.168.1.0/24 -p udp -m udp --dport 32410:32414 -j ACCEPT"),
        "{text}"
    );
    let d = tmpdir("conv");
    let f = d.join("media.v4");
    std::fs::write(&f, &text).expect("write");
    let again = rampart(&[
        "convert",
        "--to",
        "iptables-save",
        f.to_str().expect("path"),
    ]);
    assert_eq!(String::from_utf8_lossy(&again.stdout), text);
}

#[test]
fn convert_family_from_flag_header_or_addresses() {
    let out = rampart(&[
        "convert",
        "--to",
        "ip6tables-save",
        &testdata("ipv6-server.v6"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("-p ipv6-icmp -m icmp6 --icmpv6-type 1 -j ACCEPT"));
    let d = tmpdir("fam");
    let f = d.join("frag");
    std::fs::write(&f, "-A INPUT -s 2001:db8::/32 -j DROP\n").expect("write");
    let out = rampart(&[
        "convert",
        "--to",
        "ip6tables-save",
        f.to_str().expect("path"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("-A INPUT -s 2001:db8::/32 -j DROP"));
}

#[test]
fn show_is_readable_and_json_is_the_model() {
    let out = rampart(&["show", &testdata("web-server.v4")]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("IPv4 table filter"), "{text}");
    assert!(
        text.contains("chain INPUT (built-in, policy DROP)"),
        "{text}"
    );
    assert!(
        text.contains("web-server.v4:8:"),
        "rules cite their source line: {text}"
    );
    let out = rampart(&["show", "--json", &testdata("web-server.v4")]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["tables"].is_array());
}

#[test]
fn fix_rewrites_pasted_characters_and_keeps_the_original() {
    let d = tmpdir("fix");
    let f = d.join("blog.sh");
    std::fs::copy(testdata("broken/pasted-from-blog.sh"), &f).expect("copy");
    let before = rampart(&["check", f.to_str().expect("path")]);
    assert_eq!(before.status.code(), Some(2));
    let err = String::from_utf8_lossy(&before.stderr);
    assert!(err.contains("en dash"), "{err}");
    let fixed = rampart(&["check", "--fix", f.to_str().expect("path")]);
    assert_eq!(
        fixed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fixed.stderr)
    );
    assert!(d.join("blog.sh.orig").exists());
}

#[test]
fn not_utf8_is_a_located_error_not_a_crash() {
    let d = tmpdir("bin");
    let f = d.join("binary.v4");
    std::fs::write(&f, b"*filter\n-A INPUT \xff\xfe -j DROP\n").expect("write");
    let out = rampart(&["check", f.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("binary.v4:2:10"));
}

#[test]
fn man_page_and_completions_are_generated() {
    let man = rampart(&["generate", "man"]);
    assert_eq!(man.status.code(), Some(0));
    let man = String::from_utf8_lossy(&man.stdout);
    assert!(man.contains(".TH rampart"), "{man}");
    for shell in ["bash", "zsh", "fish"] {
        let c = rampart(&["generate", "completions", shell]);
        assert_eq!(c.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&c.stdout).contains("rampart"));
    }
}

#[test]
fn examples_job_checks_every_bundled_policy() {
    let out = rampart(&["examples"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("# ===== examples/"), "{text}");
    assert!(text.contains("*filter"));
}

fn rampart_stdin(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run rampart");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait rampart")
}

#[test]
fn cidr_aggregate_subtract_intersect_contains_count() {
    let d = tmpdir("cidr");
    let a = d.join("a.txt");
    let b = d.join("b.txt");
    std::fs::write(
        &a,
        "# blocklist\n10.0.0.0/25\n10.0.0.128/25 ; adjacent\n10.0.0.7\n192.0.2.1-192.0.2.6\n2001:db8::/33\n2001:db8:8000::/33\n",
    )
    .expect("write");
    std::fs::write(&b, "10.0.0.64/26\n192.0.2.4\n").expect("write");
    let (a, b) = (
        a.to_str().expect("utf8 path"),
        b.to_str().expect("utf8 path"),
    );
    let text = |o: &Output| String::from_utf8_lossy(&o.stdout).into_owned();

    let out = rampart(&["cidr", "aggregate", a]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out),
        "10.0.0.0/24\n192.0.2.1\n192.0.2.2/31\n192.0.2.4/31\n192.0.2.6\n2001:db8::/32\n"
    );

    let out = rampart(&["cidr", "subtract", a, b]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out),
        "10.0.0.0/26\n10.0.0.128/25\n192.0.2.1\n192.0.2.2/31\n192.0.2.5\n192.0.2.6\n2001:db8::/32\n"
    );

    let out = rampart(&["cidr", "intersect", a, b]);
    assert_eq!(text(&out), "10.0.0.64/26\n192.0.2.4\n");

    let out = rampart(&["cidr", "contains", a, "10.0.0.7", "192.0.2.9"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out),
        format!("10.0.0.7 in 10.0.0.7 ({a}:4)\n192.0.2.9 not in {a}\n")
    );
    let out = rampart(&["cidr", "contains", a, "2001:db8:ffff::1"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out),
        format!("2001:db8:ffff::1 in 2001:db8:8000::/33 ({a}:7)\n")
    );

    let out = rampart(&["cidr", "count", a]);
    assert_eq!(
        text(&out),
        "ipv4: 4 entries, 5 prefixes, 262 addresses\nipv6: 2 entries, 1 prefixes, 79228162514264337593543950336 addresses\n"
    );
}

#[test]
fn cidr_bad_lines_are_located_and_the_rest_is_used() {
    let out = rampart_stdin(
        &["cidr", "aggregate"],
        "10.0.0.0/24\n10.0.0.1/33\nnonsense\n10.0.1.0/24\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "10.0.0.0/23\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("<stdin>:2:10: error: prefix length 33 is longer than 32 bits"),
        "{err}"
    );
    assert!(err.contains(" 2 | 10.0.0.1/33\n   |          ^^"), "{err}");
    assert!(err.contains("<stdin>:3:1: error: expected"), "{err}");
    assert!(err.contains("<stdin>: 2 bad line(s) of 4 skipped"), "{err}");
}

#[test]
fn issue3_apply_refuses_a_policy_that_does_not_lower_before_touching_the_kernel() {
    // Never run `apply` in the host's namespace, even for a policy that is
    // refused: use a throwaway namespace.
    let ns = format!("rampart-cli-{}", std::process::id());
    let made = Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "cannot create a network namespace (needs root); CI must run as root"
        );
        eprintln!("skipped: cannot create a network namespace (not root?)");
        return;
    }
    // web-server.v4 uses `-m recent --hitcount`, which nft cannot express.
    let out = Command::new("ip")
        .args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_rampart"), "apply"])
        .arg(testdata("web-server.v4"))
        .env("RAMPART_STATE_DIR", tmpdir("apply-refused"))
        .env("SSH_CONNECTION", "")
        .output()
        .expect("run rampart in the namespace");
    let listed = Command::new("ip")
        .args(["netns", "exec", &ns, "nft", "list", "ruleset"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("-m recent") && err.contains("nothing applied"),
        "{err}"
    );
    assert!(
        listed.trim().is_empty(),
        "the kernel was changed:\n{listed}"
    );
}

/// A throwaway network namespace, removed on drop. `None` when it cannot
/// be created (not root), which fails the test when CI=true.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Option<Netns> {
        let name = format!("rampart-{tag}-{}", std::process::id());
        let made = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "cannot create a network namespace (needs root); CI must run as root"
            );
            eprintln!("skipped: cannot create a network namespace (not root?)");
            return None;
        }
        Some(Netns(name))
    }

    /// `rampart ARGS` inside the namespace with state in `state` and no
    /// SSH connection (unless `ssh` is given).
    fn rampart(&self, state: &Path, ssh: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0, env!("CARGO_BIN_EXE_rampart")])
            .args(args)
            .env("RAMPART_STATE_DIR", state)
            .env("SSH_CONNECTION", ssh)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run rampart in the namespace")
    }

    /// `ip -n NAME ARGS`, which must succeed.
    fn ip(&self, args: &[&str]) {
        let ok = Command::new("ip")
            .args(["-n", &self.0])
            .args(args)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip -n {} {}", self.0, args.join(" "));
    }

    fn ruleset(&self) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "nft", "list", "ruleset"])
            .output()
            .expect("nft list ruleset");
        assert!(out.status.success(), "nft list ruleset failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls `f` every 100 ms for up to `secs` seconds.
    fn wait_for(&self, secs: u64, mut f: impl FnMut() -> bool) -> bool {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < end {
            if f() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        f()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

const POLICY_A: &str = "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
-A INPUT -i lo -j ACCEPT\n\
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n\
COMMIT\n";

// B opens port 80 and adds a nat table, which a rollback to A must remove.
const POLICY_B: &str = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
-A POSTROUTING -o eth9 -j MASQUERADE\n\
COMMIT\n\
*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
-A INPUT -i lo -j ACCEPT\n\
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n\
-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT\n\
COMMIT\n";

// Drops SSH from everywhere (line 5).
const POLICY_NO_SSH: &str =
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
-A INPUT -p tcp -m tcp --dport 22 -j DROP\n\
COMMIT\n";

fn write_policies(dir: &Path) -> (String, String, String) {
    let a = dir.join("a.v4");
    let b = dir.join("b.v4");
    let c = dir.join("no-ssh.v4");
    std::fs::write(&a, POLICY_A).expect("write a");
    std::fs::write(&b, POLICY_B).expect("write b");
    std::fs::write(&c, POLICY_NO_SSH).expect("write no-ssh");
    let s = |p: PathBuf| p.display().to_string();
    (s(a), s(b), s(c))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn issue3_apply_diff_rollback_in_a_namespace() {
    let Some(ns) = Netns::new("k6-rollback") else {
        return;
    };
    let dir = tmpdir("k6-rollback");
    let state = dir.join("state");
    let (a, b, _) = write_policies(&dir);

    // Nothing applied yet: diff shows everything as new.
    let d = ns.rampart(&state, "", &["diff", &a]);
    assert_eq!(d.status.code(), Some(1), "{}", stderr(&d));
    assert!(String::from_utf8_lossy(&d.stdout).contains("# nothing applied yet"));

    let o = ns.rampart(&state, "", &["apply", &a]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list_a = ns.ruleset();
    assert!(list_a.contains("table inet rampart"), "{list_a}");

    assert_eq!(ns.rampart(&state, "", &["diff", &a]).status.code(), Some(0));
    let d = ns.rampart(&state, "", &["diff", &b]);
    assert_eq!(d.status.code(), Some(1));
    let text = String::from_utf8_lossy(&d.stdout);
    assert!(text.contains("--- applied (entry 1"), "{text}");
    assert!(text.contains("\n+table ip rampart-nat"), "{text}");
    assert!(
        text.contains("+\t\tmeta nfproto ipv4 meta l4proto tcp tcp dport { 22, 80 }"),
        "{text}"
    );

    let o = ns.rampart(&state, "", &["apply", &b]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list_b = ns.ruleset();
    assert!(
        list_b.contains("rampart-nat") && list_b.contains("22, 80"),
        "{list_b}"
    );

    let o = ns.rampart(&state, "", &["rollback"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(ns.ruleset(), list_a);
    let s = ns.rampart(&state, "", &["status"]);
    let st = String::from_utf8_lossy(&s.stdout);
    assert!(st.contains("applied: entry 3 (Rollback)"), "{st}");
    // A's entry has no parent: nothing further back.
    let o = ns.rampart(&state, "", &["rollback"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no previous one"), "{}", stderr(&o));
    assert_eq!(ns.ruleset(), list_a);
    // --state-dir names the directory as the variable does.
    let s = Command::new("ip")
        .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_rampart")])
        .args(["status", "--state-dir"])
        .arg(&state)
        .env_remove("RAMPART_STATE_DIR")
        .output()
        .expect("status");
    assert!(String::from_utf8_lossy(&s.stdout).contains("* "));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn issue3_confirm_timeout_rolls_back_by_itself_and_confirm_keeps() {
    let Some(ns) = Netns::new("k6-confirm") else {
        return;
    };
    let dir = tmpdir("k6-confirm");
    let state = dir.join("state");
    let (a, b, _) = write_policies(&dir);
    assert!(ns.rampart(&state, "", &["apply", &a]).status.success());
    let list_a = ns.ruleset();

    // Not confirmed: the detached guard restores A after 2 s.
    let o = ns.rampart(&state, "", &["apply", "--confirm", "2s", &b]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("rampart confirm"), "{}", stderr(&o));
    assert_ne!(ns.ruleset(), list_a);
    assert!(
        ns.wait_for(20, || ns.ruleset() == list_a),
        "not rolled back: {}",
        ns.ruleset()
    );
    assert!(ns.wait_for(5, || !state.join("pending.json").exists()));
    // The guard clears pending.json, then writes its log line.
    let log = || std::fs::read_to_string(state.join("guard.log")).unwrap_or_default();
    assert!(
        ns.wait_for(5, || log().contains("not confirmed in time")),
        "{}",
        log()
    );

    // Confirmed: B stays, and the guard sees it and exits.
    let o = ns.rampart(&state, "", &["apply", "--confirm", "30s", &b]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list_b = ns.ruleset();
    // A second apply while one awaits confirmation is refused.
    let o = ns.rampart(&state, "", &["apply", &a]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("awaiting confirmation"),
        "{}",
        stderr(&o)
    );
    let o = ns.rampart(&state, "", &["confirm"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(ns.wait_for(10, || {
        std::fs::read_to_string(state.join("guard.log"))
            .is_ok_and(|l| l.contains("confirmed or replaced; exiting"))
    }));
    assert_eq!(ns.ruleset(), list_b);
    assert_eq!(ns.rampart(&state, "", &["confirm"]).status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn issue3_killed_guard_is_replaced_by_the_next_command() {
    let Some(ns) = Netns::new("k6-killed") else {
        return;
    };
    let dir = tmpdir("k6-killed");
    let state = dir.join("state");
    let (a, b, _) = write_policies(&dir);
    assert!(ns.rampart(&state, "", &["apply", &a]).status.success());
    let list_a = ns.ruleset();
    let o = ns.rampart(&state, "", &["apply", "--confirm", "1s", &b]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Kill the guard this test started (its pid is in guard.log).
    let log = std::fs::read_to_string(state.join("guard.log")).expect("guard.log");
    let pid = log
        .lines()
        .find_map(|l| {
            l.split("guard ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<u32>()
                .ok()
        })
        .expect("guard pid in the log");
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    let pending: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(state.join("pending.json")).expect("pending record"),
    )
    .expect("json");
    let deadline = pending["deadline"].as_u64().expect("deadline");
    assert!(ns.wait_for(10, || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .is_ok_and(|d| d.as_secs() >= deadline)
    }));
    assert_ne!(
        ns.ruleset(),
        list_a,
        "nothing rolled back without the guard"
    );
    let s = ns.rampart(&state, "", &["status"]);
    assert!(
        stderr(&s).contains("not confirmed in time"),
        "{}",
        stderr(&s)
    );
    assert_eq!(ns.ruleset(), list_a);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn issue3_lockout_guard_refuses_a_policy_that_drops_ssh() {
    let Some(ns) = Netns::new("k6-lockout") else {
        return;
    };
    let dir = tmpdir("k6-lockout");
    let state = dir.join("state");
    let (a, _, no_ssh) = write_policies(&dir);
    let ssh = "198.51.100.7 53412 192.0.2.10 22";
    let o = ns.rampart(&state, ssh, &["apply", &no_ssh]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("LOCKED OUT"), "{err}");
    assert!(err.contains(&format!("dropped by {no_ssh}:5:1")), "{err}");
    assert!(
        err.contains("nothing applied") && err.contains("--force"),
        "{err}"
    );
    assert!(!ns.ruleset().contains("rampart"));
    // A policy that keeps SSH passes the guard.
    let o = ns.rampart(&state, ssh, &["apply", &a]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("stays reachable"), "{}", stderr(&o));
    // --force applies anyway.
    let o = ns.rampart(&state, ssh, &["apply", "--force", &no_ssh]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(ns.ruleset().contains("tcp dport 22"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 3: "`rampart status`: every rule with its packet/byte counters
/// mapped back to the source file and line, set sizes, `--json`."
#[test]
fn issue3_status_maps_every_rule_to_its_source_line_with_counters() {
    let Some(ns) = Netns::new("k8-status") else {
        return;
    };
    let dir = tmpdir("k8-status");
    let state = dir.join("state");
    let media = testdata("media-server.sh");
    ns.ip(&["link", "set", "lo", "up"]);
    let o = ns.rampart(&state, "", &["apply", &media]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Traffic on the namespace's loopback: `-i lo -j ACCEPT` (line 13) counts it.
    rampart_sys::netns::run_in_named(&ns.0, || {
        use std::io::Write;
        let l = std::net::TcpListener::bind("127.0.0.1:32400").expect("listen");
        let mut c = std::net::TcpStream::connect("127.0.0.1:32400").expect("connect");
        c.write_all(b"hello").expect("write");
        drop(l.accept().expect("accept"));
    })
    .expect("enter the namespace");
    let s = ns.rampart(&state, "", &["status", "--json"]);
    assert_eq!(s.status.code(), Some(0), "{}", stderr(&s));
    let v: serde_json::Value = serde_json::from_slice(&s.stdout).expect("status --json is JSON");
    assert_eq!(v["applied"]["sources"][0], media.as_str());
    assert_eq!(v["applied"]["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(v["live"]["matches"], true, "{v:#}");
    let listing = String::from_utf8_lossy(
        &Command::new("ip")
            .args([
                "netns", "exec", &ns.0, "nft", "-a", "list", "table", "inet", "rampart",
            ])
            .output()
            .expect("nft -a list")
            .stdout,
    )
    .into_owned();
    let mut rules = 0;
    let mut merged = 0;
    for t in v["live"]["tables"].as_array().expect("tables") {
        for c in t["chains"].as_array().expect("chains") {
            for r in c["rules"].as_array().expect("rules") {
                rules += 1;
                assert!(r["packets"].is_u64() && r["bytes"].is_u64(), "{r}");
                let handle = r["handle"].as_u64().expect("handle");
                assert!(listing.contains(&format!("# handle {handle}\n")), "{r}");
                let nft = r["nft"].as_str().expect("nft text");
                let origins = r["origins"].as_array().expect("origins");
                // Only the rules standing for a chain's policy have no line.
                if !nft.contains("policy DROP") {
                    assert!(!origins.is_empty(), "{r}");
                }
                for o in origins {
                    assert_eq!(o["file"], media.as_str(), "{r}");
                    assert!(o["line"].as_u64().is_some_and(|l| l > 1), "{r}");
                }
                merged += usize::from(origins.len() > 1);
            }
        }
    }
    let listed_rules = listing
        .lines()
        .map(str::trim_start)
        .filter(|l| l.contains("# handle") && !l.starts_with("table ") && !l.starts_with("chain "))
        .count();
    assert_eq!(rules, listed_rules, "{listing}");
    assert!(
        merged >= 1,
        "the optimiser merges lines 18 and 19 into one rule"
    );
    let lo = &v["live"]["tables"][0]["chains"][0]["rules"][0];
    assert_eq!(lo["origins"][0]["line"], 13, "{lo}");
    assert!(lo["packets"].as_u64().is_some_and(|p| p >= 3), "{lo}");
    // The text form says the same.
    let s = ns.rampart(&state, "", &["status"]);
    let text = String::from_utf8_lossy(&s.stdout);
    assert!(text.contains("live: matches the applied entry"), "{text}");
    assert!(
        text.contains(&format!("{media}:18:1, {media}:19:1")),
        "{text}"
    );
    // A rule added behind rampart's back: the mapping is refused.
    let added = Command::new("ip")
        .args([
            "netns", "exec", &ns.0, "nft", "add", "rule", "inet", "rampart", "input", "counter",
        ])
        .status()
        .expect("nft add rule");
    assert!(added.success());
    let s = ns.rampart(&state, "", &["status"]);
    assert_eq!(s.status.code(), Some(1));
    let text = String::from_utf8_lossy(&s.stdout);
    assert!(
        text.contains("the live ruleset differs from the applied one")
            && text.contains("chain input: 11 rule(s) loaded, 10 applied"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 3: "Killing rampart at any moment leaves either the old or the
/// new ruleset, never a mix." `apply` of a 5,000-rule policy (not
/// optimised, so the batch is large) is killed with SIGKILL after delays
/// spread over the time a whole apply takes; after each kill the namespace
/// holds exactly A or exactly B.
#[test]
fn issue3_killed_apply_leaves_the_old_or_the_new_ruleset() {
    use std::time::{Duration, Instant};
    let Some(ns) = Netns::new("k8-kill") else {
        return;
    };
    let dir = tmpdir("k8-kill");
    let state = dir.join("state");
    let (a, _, _) = write_policies(&dir);
    let b = testdata("blocklist-5000.sh");
    let apply_b = ["apply", "--no-optimize", b.as_str()];
    let o = ns.rampart(&state, "", &["apply", &a]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list_a = ns.ruleset();
    let started = Instant::now();
    let o = ns.rampart(&state, "", &apply_b);
    let full = started.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list_b = ns.ruleset();
    assert!(list_b.matches("drop").count() >= 5000, "B is loaded");
    let deadline = Instant::now() + Duration::from_secs(300);
    let iterations = 30u32;
    let (mut saw_a, mut saw_b) = (0, 0);
    let o = ns.rampart(&state, "", &["apply", &a]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for i in 0..iterations {
        assert!(Instant::now() < deadline, "the test ran past its deadline");
        // 0 .. 1.2 × the time of a whole apply.
        let delay = full * (i * 6) / (iterations * 5);
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_rampart")])
            .args(apply_b)
            .env("RAMPART_STATE_DIR", &state)
            .env("SSH_CONNECTION", "")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start rampart apply");
        std::thread::sleep(delay);
        // `ip netns exec` execs rampart in the same process: this kills it.
        let _ = child.kill();
        child.wait().expect("reap rampart");
        let now = ns.ruleset();
        if now == list_a {
            saw_a += 1;
        } else if now == list_b {
            saw_b += 1;
            let o = ns.rampart(&state, "", &["apply", &a]);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            assert_eq!(ns.ruleset(), list_a);
        } else {
            panic!(
                "after a kill at {delay:?} the namespace holds neither A nor B \
                 ({} lines; A has {}, B has {})",
                now.lines().count(),
                list_a.lines().count(),
                list_b.lines().count()
            );
        }
    }
    eprintln!(
        "killed apply: {saw_a} time(s) the old ruleset, {saw_b} time(s) the new (whole apply {full:?})"
    );
    assert!(saw_a > 0, "a kill right at the start leaves A");
    // The state store survives the kills: status still reads it.
    let s = ns.rampart(&state, "", &["status"]);
    assert!(s.status.code().is_some_and(|c| c <= 1), "{}", stderr(&s));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- issue 4: rampart why ----

#[test]
fn issue4_why_accept_shows_rules_with_lines() {
    let out = rampart(&[
        "why",
        "--policy",
        &testdata("web-server.v4"),
        "tcp",
        "198.51.100.9:51515",
        "->",
        "10.0.0.1:22",
        "--in",
        "eth0",
        "--local",
        "10.0.0.1/24%eth0",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("web-server.v4:8 -> ACCEPT: input interface eth0 does not match lo"),
        "{text}"
    );
    assert!(text.contains("filter SSH_CHECK:"), "{text}");
    assert!(text.contains("verdict: ACCEPT by "), "{text}");
    assert!(
        text.contains("web-server.v4:19:1 (ip filter SSH_CHECK rule 4)"),
        "{text}"
    );
}

#[test]
fn issue4_why_drop_reject_nat_and_json() {
    let web = testdata("web-server.v4");
    let out = rampart(&[
        "why",
        "--policy",
        &web,
        "tcp 203.0.113.5:4000 -> 10.0.0.1:3306",
        "--in",
        "eth0",
        "--local",
        "10.0.0.1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("verdict: DROP by "));
    let router = testdata("nat-router.v4");
    let local = "198.51.100.1/24%ppp0,192.168.1.1/24%br-lan";
    let out = rampart(&[
        "why",
        "--policy",
        &router,
        "tcp 203.0.113.7:40000 -> 198.51.100.1:22",
        "--in",
        "ppp0",
        "--local",
        local,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("REJECT (tcp-reset)"));
    let out = rampart(&[
        "why",
        "--policy",
        &router,
        "tcp",
        "203.0.113.7:40000",
        "->",
        "198.51.100.1:8080",
        "--in",
        "ppp0",
        "--local",
        local,
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["verdict"]["verdict"], "accept");
    assert_eq!(v["decided_by"]["origin"]["line"], 32);
    assert_eq!(v["nat"][0]["after_addr"], "192.168.1.20");
    assert_eq!(v["nat"][0]["after_port"], 80);
    assert!(v["trace"].as_array().is_some_and(|t| t.len() > 5));
}

#[test]
fn issue4_why_icmp_state_and_other_formats() {
    let out = rampart(&[
        "why",
        "--policy",
        &testdata("media-server.sh"),
        "icmp",
        "203.0.113.5",
        "->",
        "192.168.1.10",
        "--icmp-type",
        "echo-request",
        "--in",
        "eth0",
        "--local",
        "192.168.1.10/24%eth0",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("media-server.sh:25"));
    let out = rampart(&[
        "why",
        "--policy",
        &testdata("ipv6-server.v6"),
        "udp [2001:db8::9]:53 -> [2001:db8:1::10]:40000",
        "--state",
        "established",
        "--in",
        "eth0",
        "--local",
        "2001:db8:1::10",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("conntrack ESTABLISHED"));
}

#[test]
fn issue4_why_bad_input_exits_2() {
    let web = testdata("web-server.v4");
    for args in [
        vec!["why", "--policy", &web, "tcp 1.2.3.4:5 -> 10.0.0.1:99999"],
        vec!["why", "--policy", &web, "tcp", "1.2.3.4:5", "-"],
        vec![
            "why",
            "--policy",
            &web,
            "tcp 1.2.3.4:5 -> 10.0.0.1:22",
            "--local",
            "nonsense",
        ],
        vec![
            "why",
            "--policy",
            &web,
            "tcp 1.2.3.4:5 -> 10.0.0.1:22",
            "--state",
            "sleepy",
        ],
        vec![
            "why",
            "--policy",
            "/nonexistent/policy.v4",
            "tcp 1.2.3.4:5 -> 10.0.0.1:22",
        ],
    ] {
        let out = rampart(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    // `live` without an applied policy.
    let state = tmpdir("why-live");
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["why", "tcp 1.2.3.4:5 -> 10.0.0.1:22"])
        .env("RAMPART_STATE_DIR", &state)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no policy applied by rampart"));
}

/// Issue 4: `rampart why` without `--policy` reads the policy rampart
/// applied (the state store's current entry), with its source lines.
#[test]
fn issue4_why_live_reads_the_applied_policy() {
    let Some(ns) = Netns::new("ev-why") else {
        return;
    };
    let dir = tmpdir("ev-why");
    let state = dir.join("state");
    let media = testdata("media-server.sh");
    let o = ns.rampart(&state, "", &["apply", &media]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let packet = "tcp 203.0.113.5:40000 -> 192.168.1.10:32400";
    let local = "192.168.1.10/24%eth0";
    let w = ns.rampart(
        &state,
        "",
        &["why", packet, "--in", "eth0", "--local", local],
    );
    let text = String::from_utf8_lossy(&w.stdout);
    assert_eq!(w.status.code(), Some(0), "{text}{}", stderr(&w));
    assert!(text.contains("media-server.sh:16"), "{text}");
    let w = ns.rampart(
        &state,
        "",
        &[
            "why",
            "--policy",
            "live",
            "tcp 203.0.113.5:40000 -> 192.168.1.10:22",
            "--in",
            "eth0",
            "--local",
            local,
        ],
    );
    assert_eq!(
        w.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&w.stdout)
    );
    assert!(String::from_utf8_lossy(&w.stdout).contains("REJECT (icmp-host-prohibited)"));
}

#[test]
fn issue4_lint_exit_codes_text_and_json() {
    let d = tmpdir("lint");
    // Clean: exit 0.
    let clean = d.join("clean.v4");
    std::fs::write(
        &clean,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
    )
    .expect("write");
    let out = rampart(&[
        "lint",
        "--allow",
        "ipv6-open",
        clean.to_str().expect("utf8"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Findings: exit 1, located with a caret and the covering rule.
    let bad = d.join("bad.v4");
    std::fs::write(
        &bad,
        "*filter\n:INPUT DROP [0:0]\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -s 10.0.0.0/25 -j DROP\n-A INPUT -s 10.0.0.128/25 -j DROP\n-A INPUT -s 10.0.0.0/24 -p tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp --dport 3306 -j ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
    )
    .expect("write");
    let p = bad.to_str().expect("utf8");
    let out = rampart(&["lint", p]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bad.v4:6:1: warning[R001 shadowed]"),
        "{text}"
    );
    assert!(text.contains(" 6 | -A INPUT -s 10.0.0.0/24"), "{text}");
    assert!(text.contains("   | ^^^^"), "{text}");
    assert!(
        text.contains("bad.v4:4:1: -A INPUT -s 10.0.0.0/25 -j DROP"),
        "{text}"
    );
    assert!(text.contains("error[R007 exposed-admin-port]"), "{text}");
    // JSON.
    let out = rampart(&["lint", "--json", p]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let codes: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(
        codes.contains(&"R001") && codes.contains(&"R007"),
        "{codes:?}"
    );
    assert_eq!(v[0]["origin"]["file"], p);
    // --severity error keeps only errors; --allow silences a code.
    let out = rampart(&[
        "lint",
        "--json",
        "--severity",
        "error",
        "--allow",
        "R007",
        p,
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    // Bad input: exit 2.
    let broken = rampart(&["lint", &testdata("broken/web-server-typos.v4")]);
    assert_eq!(broken.status.code(), Some(2));
    let unknown = rampart(&["lint", "--allow", "R999", p]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn issue4_matrix_table_and_json() {
    let out = rampart(&["matrix", "--port", "tcp/22", &testdata("web-server.v4")]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("IPv4 INPUT"), "{text}");
    assert!(text.contains("203.0.113.10/32"), "{text}");
    let out = rampart(&["matrix", "--json", &testdata("web-server.v4")]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["chains"][0]["chain"], "INPUT");
    assert!(v["chains"][0]["sources"]
        .as_array()
        .is_some_and(|s| s.len() >= 2));
    let bad = rampart(&["matrix", "--port", "tcp/99999", &testdata("web-server.v4")]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Issue 4: `rampart replay` on a small capture whose every packet's fate
/// is known: a handshake to SSH (NEW accepted by line 6, the reply by the
/// OUTPUT policy, the ACK ESTABLISHED by line 5), a DNS query and answer,
/// an ICMP error about the DNS flow (RELATED), scans from one source to
/// 23 and 80 (the INPUT policy drops them), the host's SYN-ACK to a SYN
/// the new policy refuses (no flow was kept, so INVALID; OUTPUT accepts
/// it), a SYN-ACK arriving for nothing (INVALID, dropped by line 7), a
/// stray ACK (NEW for conntrack, dropped by the policy) and an ARP frame.
#[test]
fn issue4_replay_reports_hits_drops_and_sources() {
    use etherparse::PacketBuilder;
    use rampart_capture::{LinkType, PcapWriter};
    let dir = tmpdir("replay");
    let policy = dir.join("p.v4");
    std::fs::write(
        &policy,
        "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
         -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
         -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n\
         -A INPUT -m conntrack --ctstate INVALID -j DROP\n\
         -A INPUT -p udp -m udp --dport 53 -j ACCEPT\nCOMMIT\n",
    )
    .expect("policy");
    let host = [198, 51, 100, 10];
    let admin = [192, 0, 2, 5];
    let scanner = [203, 0, 113, 9];
    let eth = |src: [u8; 4], dst: [u8; 4]| {
        let (a, b) = if src == host {
            ([2; 6], [1; 6])
        } else {
            ([1; 6], [2; 6])
        };
        PacketBuilder::ethernet2(a, b).ipv4(src, dst, 64)
    };
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut push = |f: &mut dyn FnMut(&mut Vec<u8>)| {
        let mut v = Vec::new();
        f(&mut v);
        frames.push(v);
    };
    push(&mut |v| {
        eth(admin, host)
            .tcp(40000, 22, 1, 100)
            .syn()
            .write(v, &[])
            .expect("syn")
    });
    push(&mut |v| {
        eth(host, admin)
            .tcp(22, 40000, 9, 100)
            .syn()
            .ack(2)
            .write(v, &[])
            .expect("synack")
    });
    push(&mut |v| {
        eth(admin, host)
            .tcp(40000, 22, 2, 100)
            .ack(10)
            .write(v, &[])
            .expect("ack")
    });
    push(&mut |v| eth(admin, host).udp(5000, 53).write(v, b"q").expect("dns"));
    push(&mut |v| {
        eth(host, admin)
            .udp(53, 5000)
            .write(v, b"answer")
            .expect("dns reply")
    });
    let mut quoted = Vec::new();
    PacketBuilder::ipv4(host, admin, 64)
        .udp(53, 5000)
        .write(&mut quoted, b"answer")
        .expect("quoted");
    push(&mut |v| {
        eth(admin, host)
            .icmpv4_raw(3, 3, [0; 4])
            .write(v, &quoted)
            .expect("icmp")
    });
    for port in [23, 80, 23] {
        push(&mut |v| {
            eth(scanner, host)
                .tcp(6000, port, 1, 100)
                .syn()
                .write(v, &[])
                .expect("scan")
        });
    }
    // The host answers a refused SYN (the old policy let it in): under the
    // new policy that SYN was dropped, so this SYN-ACK belongs to nothing.
    push(&mut |v| {
        eth(scanner, host)
            .tcp(6001, 80, 1, 100)
            .syn()
            .write(v, &[])
            .expect("syn80")
    });
    push(&mut |v| {
        eth(host, scanner)
            .tcp(80, 6001, 5, 100)
            .syn()
            .ack(2)
            .write(v, &[])
            .expect("sa")
    });
    // A SYN-ACK coming in for a connection the host never opened.
    push(&mut |v| {
        eth(scanner, host)
            .tcp(443, 7000, 5, 100)
            .syn()
            .ack(2)
            .write(v, &[])
            .expect("sa in")
    });
    push(&mut |v| {
        eth(scanner, host)
            .tcp(6001, 80, 2, 100)
            .ack(6)
            .write(v, &[])
            .expect("ack80")
    });
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[1; 6]);
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0; 28]);
    frames.push(arp);
    let cap = dir.join("c.pcap");
    let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET).expect("pcap");
    for (i, f) in frames.iter().enumerate() {
        w.write(1_700_000_000_000_000_000 + i as u64 * 1_000_000, f)
            .expect("write");
    }
    std::fs::write(&cap, w.into_inner()).expect("capture");
    let p = policy.display().to_string();
    let c = cap.display().to_string();
    let out = rampart(&["replay", "--policy", &p, &c, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["packets"], 14);
    assert_eq!(v["not_ip"], 1);
    assert_eq!(v["host_addresses"][0], "198.51.100.10");
    assert_eq!(v["verdicts"]["accept"], 7, "{v:#}");
    assert_eq!(v["verdicts"]["drop"], 6, "{v:#}");
    assert_eq!(v["conntrack"]["related"], 1);
    assert_eq!(v["conntrack"]["invalid"], 2, "{v:#}");
    let hit = |line: u64| {
        v["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .find(|h| h["line"] == line)
            .map(|h| {
                (
                    h["verdict"].as_str().unwrap_or("").to_string(),
                    h["packets"].as_u64(),
                )
            })
    };
    assert_eq!(hit(5), Some(("accept".into(), Some(2))), "{v:#}");
    assert_eq!(hit(6), Some(("accept".into(), Some(1))));
    assert_eq!(hit(7), Some(("drop".into(), Some(1))));
    assert_eq!(hit(8), Some(("accept".into(), Some(1))));
    assert_eq!(v["dropped"], 6);
    assert_eq!(v["top_dropped_sources"][0]["source"], "203.0.113.9");
    assert_eq!(v["top_dropped_sources"][0]["packets"], 6);
    assert_eq!(v["top_dropped_ports"][0]["port"], 80);
    assert_eq!(v["top_dropped_ports"][0]["packets"], 3);
    // The readable report names the lines.
    let text = rampart(&["replay", "--policy", &p, &c]);
    let s = String::from_utf8_lossy(&text.stdout);
    assert!(
        s.contains(&format!("{p}:5 (ip filter INPUT rule 1)")),
        "{s}"
    );
    assert!(s.contains("the policy DROP of ip filter INPUT"), "{s}");
    assert!(s.contains("tcp/23"), "{s}");
    // A cut capture: exit 2, the byte offset and the packet.
    let bytes = std::fs::read(&cap).expect("read");
    std::fs::write(&cap, &bytes[..bytes.len() - 10]).expect("cut");
    let bad = rampart(&["replay", "--policy", &p, &c, "--local", "198.51.100.10"]);
    assert_eq!(bad.status.code(), Some(2));
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(
        e.contains("(packet 14): the file ends inside a packet"),
        "{e}"
    );
    std::fs::write(&cap, b"not a capture at all").expect("garbage");
    let bad = rampart(&["replay", "--policy", &p, &c, "--local", "198.51.100.10"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a pcap or pcapng file"));
}

// ---- issue 6: guard test and import fail2ban ----

#[test]
fn issue6_guard_test_prints_line_address_user_and_summary() {
    let d = tmpdir("guard-test");
    let log = d.join("auth.log");
    let mut bytes = b"Nov 22 00:00:01 web sshd[1]: Failed password for root from 198.51.100.1 port 5 ssh2\n\
Nov 22 00:00:02 web CRON[2]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n\
Nov 22 00:00:03 web sshd[3]: Invalid user oracle from 2001:db8::9 port 40000\n"
        .to_vec();
    bytes.extend_from_slice(b"\xff\xfe\x00 binary\n");
    std::fs::write(&log, bytes).expect("write log");
    let log = log.display().to_string();
    let out = rampart(&["guard", "test", "sshd", &log]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("       1  198.51.100.1"), "{text}");
    assert!(text.contains("root"), "{text}");
    assert!(text.contains("       3  2001:db8::9"), "{text}");
    assert!(text.contains("oracle"), "{text}");
    assert!(
        text.contains("Lines: 4 read, 2 matched, 0 ignored, 1 skipped"),
        "{text}"
    );
    assert!(text.contains("lines/s"), "{text}");
    let out = rampart(&["guard", "test", "--json", "sshd", &log]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["matches"][1]["line"], 3);
    assert_eq!(v["matches"][1]["address"], "2001:db8::9");
    assert_eq!(v["matches"][1]["user"], "oracle");
    assert_eq!(v["summary"]["skipped"], 1);
    // A filter file with an error is named with its place; exit 2.
    let bad = d.join("bad.conf");
    std::fs::write(&bad, "[Definition]\nfailregex = ^x (<HOST>\n").expect("write");
    let out = rampart(&["guard", "test", &bad.display().to_string(), &log]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.conf:2"), "{err}");
}

#[test]
fn issue6_import_fail2ban_reports_what_it_cannot_carry_over() {
    let d = tmpdir("import-f2b");
    std::fs::create_dir_all(d.join("filter.d")).expect("mkdir");
    std::fs::write(
        d.join("filter.d/myapp.conf"),
        "[Definition]\nfailregex = ^\\s*login failed for <F-USER>\\S+</F-USER> from <HOST>$\n",
    )
    .expect("write filter");
    std::fs::write(
        d.join("jail.conf"),
        "[DEFAULT]\nbantime = 1h\nfindtime = 10m\nmaxretry = 5\naction = iptables-multiport\n\n\
[myapp]\nenabled = true\nlogpath = /var/log/myapp.log\n          /var/log/myapp2.log\nmaxretry = 3\nport = http,https\n\
bantime.increment = true\nbantime.factor = 2\nbantime.maxtime = 1w\nignorecommand = /bin/true\n\n[off]\nenabled = false\nfilter = myapp\n",
    )
    .expect("write jail");
    let out_file = d.join("guard.toml");
    let out = rampart(&[
        "import",
        "fail2ban",
        &d.display().to_string(),
        "--out",
        &out_file.display().to_string(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("jail.conf:5: warning: `action` is not carried over"),
        "{err}"
    );
    assert!(
        err.contains("jail.conf:16: warning: jail [myapp]: ignorecommand"),
        "{err}"
    );
    let text = std::fs::read_to_string(&out_file).expect("output");
    assert!(text.contains("[jail.myapp]"), "{text}");
    assert!(text.contains("filter = \"fail2ban:myapp\""), "{text}");
    assert!(
        text.contains("logpath = [\"/var/log/myapp.log\", \"/var/log/myapp2.log\"]"),
        "{text}"
    );
    assert!(text.contains("maxretry = 3"), "{text}");
    assert!(text.contains("bantime = \"1h\""), "{text}");
    assert!(text.contains("port = [\"http\", \"https\"]"), "{text}");
    assert!(text.contains("factor = 2.0"), "{text}");
    assert!(!text.contains("[jail.off]"), "{text}");
    // The file it wrote is valid for `rampart guard check`.
    let out = rampart(&["guard", "check", &out_file.display().to_string()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("jail myapp: filter fail2ban:myapp"));
}
