//! rampart-sys against the kernel, inside throwaway network namespaces:
//! for each policy that compiles, `nft -f` of the compiled text in one
//! namespace and rampart's own netlink batch in another must give the same
//! `nft list ruleset`; a batch the kernel refuses leaves the loaded tables
//! as they were. Needs root, `ip` and `nft`; in CI (CI=true) a missing
//! prerequisite is a failure, elsewhere a printed notice.

use rampart_nft::{Ruleset, Stmt, Verdict};
use rampart_syntax::diag::SourceFile;
use rampart_syntax::format::Format;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The policies whose netlink encoding must match `nft -f`.
const POLICIES: &[&str] = &[
    "testdata/media-server.sh",
    "testdata/ipv6-server.v6",
    "testdata/nat-router.v4",
    "testdata/docker-host.v4",
    "examples/plex.toml",
    "examples/router.toml",
    "examples/imported.toml",
    "testdata/blocklist-5000.sh",
    "testdata/mail-server.v4",
    "testdata/ipset-blocklist.sh",
    "examples/web.toml",
    "examples/mail.toml",
    "examples/docker-host.toml",
];

fn lower(rel: &str) -> Ruleset {
    let root = root();
    let text = std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let format = Format::detect(rel, &text);
    // Native includes resolve against the working directory: one at a time.
    static CWD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = CWD.lock().unwrap_or_else(|e| e.into_inner());
    let cwd = std::env::current_dir().expect("cwd");
    std::env::set_current_dir(&root).expect("chdir to the repository");
    let parsed = format.parse(&SourceFile::new(rel.to_string(), text));
    std::env::set_current_dir(cwd).expect("chdir back");
    assert!(
        !parsed.diagnostics.has_errors(),
        "{rel}: {}",
        parsed.diagnostics
    );
    rampart_nft::lower(&parsed.value).unwrap_or_else(|e| panic!("{rel} does not lower: {e:?}"))
}

/// A network namespace created by the test and deleted on drop (also when
/// the test fails).
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("rampart-sys-{}-{tag}", std::process::id());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip");
        assert!(
            out.status.success(),
            "ip netns add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Netns(name)
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

    fn apply(&self, rs: &Ruleset) -> Result<usize, rampart_sys::ApplyError> {
        let rs = rs.clone();
        rampart_sys::netns::run_in_named(&self.0, move || rampart_sys::apply(&rs))
            .expect("enter the namespace")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Root, `ip netns` and `nft` present? Panics in CI when not.
fn kernel_available() -> bool {
    static PROBE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let probe = || -> Result<(), String> {
        let n = PROBE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("rampart-sys-probe-{}-{n}", std::process::id());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .map_err(|e| format!("cannot run ip: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let ns = Netns(name);
        ns.nft(&["list", "ruleset"]).map(|_| ())
    };
    match probe() {
        Ok(()) => true,
        Err(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("the netlink kernel tests need root, ip and nft in CI: {why}");
            }
            eprintln!(
                "NOTICE: skipping the netlink kernel test (needs root, ip netns, nft): {why}"
            );
            false
        }
    }
}

/// `nft list ruleset` without the ` expires 9m59s944ms` of elements with a
/// timeout: the time left depends on when each namespace was listed.
fn without_expiry(listing: &str) -> String {
    let mut out = String::with_capacity(listing.len());
    let mut rest = listing;
    while let Some(i) = rest.find(" expires ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " expires ".len()..];
        let n = after
            .find(|c: char| !(c.is_ascii_digit() || "dhms".contains(c)))
            .unwrap_or(after.len());
        rest = &after[n..];
    }
    out.push_str(rest);
    out
}

fn tmp_file(name: &str, text: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("rampart-sys-{}-{name}", std::process::id()));
    std::fs::write(&p, text).expect("write temp file");
    p
}

#[test]
fn issue3_netlink_apply_lists_like_nft_f() {
    if !kernel_available() {
        return;
    }
    let mut failures = Vec::new();
    let (mut t_nft, mut t_nl) = (Duration::ZERO, Duration::ZERO);
    let variants = POLICIES
        .iter()
        .flat_map(|rel| [(*rel, false), (*rel, true)]);
    for (i, (rel, optimized)) in variants.enumerate() {
        // Both what `lower` gives and what `rampart compile`/`apply` send
        // (the optimised ruleset).
        let rs = if optimized {
            rampart_nft::optimize(lower(rel))
        } else {
            lower(rel)
        };
        let rel = &format!("{rel}{}", if optimized { " (optimised)" } else { "" });
        let file = tmp_file(&format!("{i}.nft"), &rampart_nft::to_text(&rs));
        let a = Netns::new(&format!("a{i}"));
        let b = Netns::new(&format!("b{i}"));
        let t0 = Instant::now();
        a.nft(&["-f", &file.display().to_string()])
            .unwrap_or_else(|e| panic!("{rel}: nft -f: {e}"));
        t_nft += t0.elapsed();
        let t0 = Instant::now();
        if let Err(e) = b.apply(&rs) {
            failures.push(format!("{rel}: netlink apply failed: {e}"));
            continue;
        }
        t_nl += t0.elapsed();
        // Applying again replaces the tables (never fails, same result).
        if let Err(e) = b.apply(&rs) {
            failures.push(format!("{rel}: second netlink apply failed: {e}"));
        }
        let want = without_expiry(&a.nft(&["list", "ruleset"]).expect("list A"));
        let got = without_expiry(&b.nft(&["list", "ruleset"]).expect("list B"));
        if want != got {
            let wf = tmp_file(&format!("{i}.want"), &want);
            let gf = tmp_file(&format!("{i}.got"), &got);
            let diff = Command::new("diff")
                .args(["-u", &wf.display().to_string(), &gf.display().to_string()])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            failures.push(format!(
                "{rel}: nft list ruleset differs (- nft -f, + netlink):\n{diff}"
            ));
        } else {
            eprintln!(
                "{rel}: identical `nft list ruleset` ({} lines)",
                want.lines().count()
            );
        }
        let _ = std::fs::remove_file(&file);
    }
    eprintln!(
        "apply time over {} policies: nft -f (process) {:?}, netlink {:?}",
        POLICIES.len(),
        t_nft,
        t_nl
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn issue3_refused_batch_leaves_the_loaded_tables_untouched() {
    if !kernel_available() {
        return;
    }
    let rs = lower("testdata/nat-router.v4");
    let ns = Netns::new("bad");
    ns.apply(&rs).expect("first apply");
    let before = ns.nft(&["list", "ruleset"]).expect("list");
    // The same ruleset with one rule jumping to a chain that does not exist.
    let mut bad = rs.clone();
    let table = &mut bad.tables[0];
    let chain = &mut table.chains[0];
    chain.rules.push(rampart_nft::Rule {
        stmts: vec![Stmt::Verdict(Verdict::Jump("no-such-chain".into()))],
        comment: None,
        origin: None,
        origins: Vec::new(),
    });
    let err = ns
        .apply(&bad)
        .expect_err("the kernel refuses a jump to a missing chain");
    let text = err.to_string();
    assert!(
        text.contains("jump no-such-chain"),
        "error names the rule: {text}"
    );
    assert!(text.contains("No such file or directory"), "errno: {text}");
    let after = ns.nft(&["list", "ruleset"]).expect("list");
    assert_eq!(before, after, "a refused batch changed the ruleset");
}

/// A named interval set large enough that its elements take several
/// `NEWSETELEM` messages, and a plain hash set, both with a rule that
/// looks them up: netlink and `nft -f` list the same.
#[test]
fn issue3_large_sets_list_like_nft_f() {
    use rampart_nft::*;
    if !kernel_available() {
        return;
    }
    let n: u32 = 20_000;
    // Addresses spread over the space, some adjacent (merged) ones.
    let addr =
        |i: u32| std::net::IpAddr::V4(std::net::Ipv4Addr::from(i.wrapping_mul(2_654_435_761) | 1));
    let elements: Vec<Element> = (0..n)
        .map(|i| Element {
            key: vec![if i % 10 == 0 {
                Expr::Prefix(addr(i), 24)
            } else {
                Expr::Addr(addr(i))
            }],
            timeout: None,
            comment: None,
        })
        .collect();
    let ports: Vec<Element> = (1..=2000u64)
        .map(|p| Element {
            key: vec![Expr::Num(p * 7)],
            timeout: None,
            comment: None,
        })
        .collect();
    let set = |name: &str, key, interval, elements| Set {
        name: name.into(),
        key: vec![key],
        interval,
        timeout_flag: false,
        auto_merge: interval,
        timeout: None,
        size: None,
        dynamic: false,
        elements,
    };
    let rs = Ruleset {
        tables: vec![Table {
            family: TableFamily::Inet,
            name: "rampart".into(),
            sets: vec![
                set("big", KeyType::Ipv4Addr, true, elements),
                set("ports", KeyType::InetService, false, ports),
            ],
            chains: vec![Chain {
                name: "input".into(),
                base: Some(BaseChain {
                    kind: ChainType::Filter,
                    hook: Hook::Input,
                    priority: Priority::FILTER,
                    policy: ChainPolicy::Accept,
                }),
                rules: vec![Rule {
                    stmts: vec![
                        Stmt::eq(Expr::Meta(MetaKey::Nfproto), Expr::sym("ipv4")),
                        Stmt::eq(
                            Expr::payload(Proto::Ip, "saddr"),
                            Expr::SetRef("big".into()),
                        ),
                        Stmt::eq(Expr::Meta(MetaKey::L4proto), Expr::sym("tcp")),
                        Stmt::eq(
                            Expr::payload(Proto::Tcp, "dport"),
                            Expr::SetRef("ports".into()),
                        ),
                        Stmt::Counter,
                        Stmt::Verdict(Verdict::Drop),
                    ],
                    comment: Some("large sets".into()),
                    origin: None,
                    origins: Vec::new(),
                }],
            }],
        }],
    };
    let batch = rampart_sys::encode(&rs, 1).expect("encodes");
    let file = tmp_file("big.nft", &rampart_nft::to_text(&rs));
    let a = Netns::new("biga");
    let b = Netns::new("bigb");
    let t0 = Instant::now();
    a.nft(&["-f", &file.display().to_string()]).expect("nft -f");
    let t_nft = t0.elapsed();
    let t0 = Instant::now();
    b.apply(&rs).expect("netlink apply");
    let t_nl = t0.elapsed();
    let _ = std::fs::remove_file(&file);
    eprintln!(
        "{n}-element interval set + 2000-element hash set: {} messages, {} bytes; nft -f {t_nft:?}, netlink {t_nl:?}",
        batch.msgs.len(),
        batch.bytes().len()
    );
    let want = a.nft(&["list", "ruleset"]).expect("list A");
    let got = b.nft(&["list", "ruleset"]).expect("list B");
    assert!(want == got, "large sets list differently");
}
