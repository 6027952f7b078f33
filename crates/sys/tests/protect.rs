//! Issue 6: in-kernel flood protection (`[protect]` in the native policy)
//! on a real kernel. A server namespace gets the policy over netlink; an
//! attacker namespace connects as fast as it can; the kernel lets through
//! about the meter's burst, puts the attacker in the dynamic ban set by
//! itself (no daemon runs) and drops its next connection, while another
//! namespace still connects.
//!
//! Needs root, `ip` and `nft`; in CI (CI=true) a missing prerequisite is
//! a failure, elsewhere a printed notice.

use rampart_syntax::diag::SourceFile;
use rampart_sys::netns::Scratch;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

fn ready() -> bool {
    let tool = |t: &str| Command::new(t).arg("--version").output().is_ok();
    let why = if !rampart_sys::netns::is_root() {
        "not root"
    } else if !tool("ip") || !tool("nft") {
        "ip or nft missing"
    } else {
        return true;
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the protection kernel test needs root, ip and nft in CI: {why}");
    }
    eprintln!("NOTICE: skipping the protection kernel test: {why}");
    false
}

const RATE: u64 = 5;
const BURST: u64 = 10;

const POLICY: &str = r#"
[defaults]
input = "drop"

[protect]
syn_rate = { per_source = "5/second", burst = 10, ban = "10m" }
connlimit = { per_source = 50 }

[[allow]]
port = "8080/tcp"
"#;

fn sa(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().expect("address"), port)
}

#[test]
fn issue6_syn_flood_is_limited_and_banned_in_the_kernel() {
    if !ready() {
        return;
    }
    let parsed = rampart_syntax::native::parse_native_with(
        &SourceFile::new("flood.toml", POLICY.to_string()),
        &mut |p: &str| -> Result<String, String> { Err(format!("no file {p}")) },
    );
    assert!(!parsed.diagnostics.has_errors(), "{}", parsed.diagnostics);
    let rs = rampart_nft::lower(&parsed.value).expect("lowers");

    let id = std::process::id();
    let srv = Scratch::create(&format!("prot-s{id}")).expect("namespace");
    let atk = Scratch::create(&format!("prot-a{id}")).expect("namespace");
    let good = Scratch::create(&format!("prot-g{id}")).expect("namespace");
    srv.ip(&["link", "set", "lo", "up"]).expect("lo");
    srv.ip(&["link", "add", "br0", "type", "bridge"])
        .expect("bridge");
    srv.ip(&["addr", "add", "10.68.0.1/24", "dev", "br0"])
        .expect("addr");
    srv.ip(&["link", "set", "br0", "up"]).expect("up");
    for (i, ns) in [&atk, &good].into_iter().enumerate() {
        let dev = format!("v{i}");
        srv.ip(&[
            "link",
            "add",
            &dev,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ns.name(),
        ])
        .expect("veth");
        srv.ip(&["link", "set", &dev, "master", "br0"])
            .expect("enslave");
        srv.ip(&["link", "set", &dev, "up"]).expect("up");
        ns.ip(&["link", "set", "lo", "up"]).expect("lo");
        ns.ip(&[
            "addr",
            "add",
            &format!("10.68.0.{}/24", i + 2),
            "dev",
            "eth0",
        ])
        .expect("addr");
        ns.ip(&["link", "set", "eth0", "up"]).expect("up");
    }
    srv.run(move || rampart_sys::apply(&rs))
        .expect("enter")
        .expect("the policy applies over netlink");
    let listener = srv
        .run(|| TcpListener::bind(sa("0.0.0.0", 8080)).expect("listen"))
        .expect("enter");
    // ARP first, so the first SYN is not lost to neighbour resolution.
    good.run(|| TcpStream::connect_timeout(&sa("10.68.0.1", 8080), Duration::from_secs(5)))
        .expect("enter")
        .expect("the good client connects before the flood");

    // The flood: 150 connection attempts as fast as the handshakes allow.
    let (through, elapsed) = atk
        .run(|| {
            let start = Instant::now();
            let mut kept = Vec::new();
            for _ in 0..150 {
                if let Ok(s) =
                    TcpStream::connect_timeout(&sa("10.68.0.1", 8080), Duration::from_millis(20))
                {
                    kept.push(s);
                }
            }
            (kept.len() as u64, start.elapsed())
        })
        .expect("enter");
    let allowed = RATE + BURST + RATE * elapsed.as_secs_f64().ceil() as u64;
    eprintln!(
        "SYN flood: {through} of 150 connections got through in {:.2} s (meter: {RATE}/s, burst {BURST}; at most {allowed} without the ban)",
        elapsed.as_secs_f64()
    );
    assert!(
        through >= 1,
        "the meter must let the first connections through"
    );
    assert!(
        through <= RATE + BURST + 1,
        "{through} connections got through; the ban should stop the flood after the burst"
    );

    // The kernel banned the attacker by itself.
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            srv.name(),
            "nft",
            "list",
            "set",
            "inet",
            "rampart",
            "protect-ban",
        ])
        .output()
        .expect("nft list set");
    let listing = String::from_utf8_lossy(&out.stdout);
    // The attacker is 10.68.0.2, the good client 10.68.0.3.
    assert!(
        listing.contains("10.68.0.2"),
        "attacker not in the ban set:\n{listing}"
    );
    assert!(
        !listing.contains("10.68.0.3"),
        "the good client was banned:\n{listing}"
    );

    // Its next connection fails; the other namespace still connects.
    let again = atk
        .run(|| TcpStream::connect_timeout(&sa("10.68.0.1", 8080), Duration::from_millis(500)))
        .expect("enter");
    assert!(again.is_err(), "the banned attacker connected again");
    good.run(|| TcpStream::connect_timeout(&sa("10.68.0.1", 8080), Duration::from_secs(5)))
        .expect("enter")
        .expect("the good client connects during the ban");
    drop(listener);
}
