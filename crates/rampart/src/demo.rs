//! `rampart demo`: the bundled `examples/web.toml` applied for real, in a
//! throwaway network namespace, with connections that it accepts and drops.
//!
//! Two namespaces (`rampart-demo-PID-server`, `rampart-demo-PID-client`)
//! joined by a veth pair; the policy goes into the server's namespace over
//! netlink, listeners open on ports 22, 80, 443 and 3306 there, and the
//! client connects from three addresses: an ordinary one, one of the admin
//! network and one on the blocklist. The namespaces are deleted when the
//! demo ends, also on an error (`Scratch` guards). Ctrl-C kills the process
//! before the guards run (rampart installs no signal handler: the
//! workspace has no `unsafe` and no crate for it), so every run first
//! deletes the namespaces of demos whose process is gone. The host's own
//! namespace, ruleset and settings are never touched; the policy's drop
//! logging stays inside the namespace (the kernel logs from other
//! namespaces only with `net.netfilter.nf_log_all_netns=1`).

use crate::input;
use anyhow::{anyhow, Context, Result};
use rampart_syntax::native::Loader;
use rampart_sys::netns::{self, Scratch};
use rampart_sys::probe::{self, Outcome};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;
use std::time::Duration;

const POLICY: &str = "examples/web.toml";
const PREFIX: &str = "rampart-demo-";
const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const ADMIN: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
const BLOCKED: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 66);
const PORTS: [u16; 4] = [22, 80, 443, 3306];
/// How long a connection may go unanswered before it counts as dropped.
const DEADLINE: Duration = Duration::from_secs(1);

/// What the policy should do to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Accepted,
    Dropped,
}

/// One connection of the demo. The expectations are read off
/// `examples/web.toml` by hand (rampart has no packet evaluator yet); the
/// `why` column quotes the rule that decides.
struct Probe {
    from: Ipv4Addr,
    port: u16,
    service: &'static str,
    expect: Expect,
    why: &'static str,
}

const PROBES: &[Probe] = &[
    Probe {
        from: CLIENT,
        port: 22,
        service: "ssh",
        expect: Expect::Dropped,
        why: "ssh is allowed only from @office and 203.0.113.0/24",
    },
    Probe {
        from: ADMIN,
        port: 22,
        service: "ssh",
        expect: Expect::Accepted,
        why: "[[allow]] ssh from 203.0.113.0/24 (\"admins only\")",
    },
    Probe {
        from: CLIENT,
        port: 80,
        service: "http",
        expect: Expect::Accepted,
        why: "[[allow]] http, https from anywhere",
    },
    Probe {
        from: CLIENT,
        port: 443,
        service: "https",
        expect: Expect::Accepted,
        why: "[[allow]] http, https from anywhere",
    },
    Probe {
        from: CLIENT,
        port: 3306,
        service: "mysql",
        expect: Expect::Dropped,
        why: "no rule allows it: [defaults] input = \"drop\"",
    },
    Probe {
        from: BLOCKED,
        port: 80,
        service: "http",
        expect: Expect::Dropped,
        why: "[[deny]] from @blocklist (192.0.2.66 is listed) comes first",
    },
];

pub fn run() -> Result<ExitCode> {
    if !netns::is_root() {
        eprintln!(
            "rampart: error: `rampart demo` needs root (CAP_NET_ADMIN) to create network namespaces \
             and load nftables into one; run `sudo rampart demo`. `rampart examples` shows the \
             bundled policies without root."
        );
        return Ok(ExitCode::from(2));
    }
    remove_stale();
    let rs = load_policy()?;

    let pid = std::process::id();
    let server = Scratch::create(&format!("{PREFIX}{pid}-server"))?;
    let client = Scratch::create(&format!("{PREFIX}{pid}-client"))?;
    wire(&server, &client)?;

    let applied = server
        .run(move || rampart_sys::apply(&rs))?
        .with_context(|| format!("applying {POLICY} in {}", server.name()))?;
    // Sockets keep the namespace they were made in, so listeners opened on
    // a thread inside the server's namespace listen there; the kernel
    // completes handshakes from the listen backlog, nobody needs to accept.
    let listeners = server.run(|| {
        PORTS
            .iter()
            .map(|p| TcpListener::bind((Ipv4Addr::UNSPECIFIED, *p)))
            .collect::<std::io::Result<Vec<_>>>()
    })??;

    println!(
        "rampart demo: {POLICY} applied over netlink ({applied} bytes, one transaction) in network \
         namespace {} ({SERVER}), listening on TCP {}; connecting from namespace {}:\n",
        server.name(),
        PORTS.map(|p| p.to_string()).join(", "),
        client.name()
    );
    let results = probe_all(client.name())?;
    drop(listeners);

    println!(
        "{:<12} {:>5}  {:<6} {:<9} {:<28} WHY",
        "FROM", "PORT", "", "EXPECTED", "RESULT"
    );
    let mut mismatches = 0;
    for (p, got) in PROBES.iter().zip(&results) {
        let (text, matches) = match (got, p.expect) {
            (Outcome::Accepted, e) => ("accepted".to_string(), e == Expect::Accepted),
            (Outcome::TimedOut, e) => (
                format!("dropped (no answer in {}s)", DEADLINE.as_secs()),
                e == Expect::Dropped,
            ),
            (Outcome::Refused, _) => ("refused (TCP reset)".to_string(), false),
            (Outcome::Error(e), _) => (format!("error: {e}"), false),
            (other, _) => (format!("{other:?}"), false),
        };
        if !matches {
            mismatches += 1;
        }
        println!(
            "{:<12} {:>5}  {:<6} {:<9} {:<28} {}{}",
            p.from.to_string(),
            p.port,
            p.service,
            match p.expect {
                Expect::Accepted => "accepted",
                Expect::Dropped => "dropped",
            },
            text,
            p.why,
            if matches { "" } else { "  <-- MISMATCH" }
        );
    }
    drop(client);
    drop(server);
    println!();
    if mismatches == 0 {
        println!(
            "all {} connections were treated as the policy says; the namespaces are deleted",
            PROBES.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{mismatches} of {} connections were NOT treated as the policy says; the namespaces are deleted",
            PROBES.len()
        );
        Ok(ExitCode::from(1))
    }
}

/// `examples/web.toml` from the bundled files, lowered and optimised as
/// `rampart apply` does.
fn load_policy() -> Result<rampart_nft::Ruleset> {
    let mut loader = input::BundledLoader;
    let text = loader.read(POLICY).map_err(anyhow::Error::msg)?;
    let parsed = rampart_syntax::native::parse_native_with(
        &rampart_syntax::SourceFile::new(POLICY.to_string(), text),
        &mut loader,
    );
    if parsed.diagnostics.has_errors() {
        return Err(anyhow!(
            "the bundled {POLICY} has errors:\n{}",
            parsed.diagnostics
        ));
    }
    let rs = rampart_nft::lower(&parsed.value).map_err(|errors| {
        anyhow!(
            "the bundled {POLICY} does not lower to nftables: {}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    Ok(rampart_nft::optimize(rs))
}

/// A veth pair `eth0`–`eth0` between the namespaces, the server at
/// 192.0.2.1/24, the client with one address per kind of peer.
fn wire(server: &Scratch, client: &Scratch) -> Result<()> {
    server.ip(&[
        "link",
        "add",
        "eth0",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        client.name(),
    ])?;
    for (ns, addrs) in [
        (server, vec![format!("{SERVER}/24")]),
        (
            client,
            vec![
                format!("{CLIENT}/24"),
                format!("{BLOCKED}/24"),
                format!("{ADMIN}/24"),
            ],
        ),
    ] {
        for a in &addrs {
            ns.ip(&["addr", "add", a, "dev", "eth0"])?;
        }
        ns.ip(&["link", "set", "lo", "up"])?;
        ns.ip(&["link", "set", "eth0", "up"])?;
    }
    // The admin network is on the same wire.
    server.ip(&["route", "add", "203.0.113.0/24", "dev", "eth0"])?;
    Ok(())
}

/// Every probe at once (each on its own thread inside the client's
/// namespace), so the drops cost one deadline, not one each.
fn probe_all(client: &str) -> Result<Vec<Outcome>> {
    std::thread::scope(|s| {
        let handles: Vec<_> = PROBES
            .iter()
            .map(|p| {
                let (from, port) = (p.from, p.port);
                s.spawn(move || {
                    netns::run_in_named(client, move || {
                        probe::tcp_connect(
                            Some(IpAddr::V4(from)),
                            SocketAddr::new(IpAddr::V4(SERVER), port),
                            DEADLINE,
                        )
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow!("a probe thread panicked"))?
                    .context("entering the client namespace")
            })
            .collect()
    })
}

/// Deletes the namespaces of earlier demos whose process no longer runs
/// (a demo interrupted with Ctrl-C).
fn remove_stale() {
    let Ok(names) = netns::list_named() else {
        return;
    };
    for name in names {
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            match netns::delete_named(&name) {
                Ok(()) => eprintln!("removed {name}, left by an interrupted demo"),
                Err(e) => eprintln!("rampart: warning: {e}"),
            }
        }
    }
}
