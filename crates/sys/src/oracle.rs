//! The kernel oracle: what the real kernel decides for a crafted packet
//! under a given ruleset, and which rule decided it.
//!
//! [`Oracle::new`] builds a throwaway network namespace `fw` that holds the
//! ruleset, and one peer namespace per interface name, each joined to `fw`
//! by a veth pair whose `fw` end carries that name (`eth0` by default).
//! [`Oracle::load`] applies a [`rampart_nft::Ruleset`] in `fw` over netlink
//! and reads the rules back ([`crate::list_rules`]) so kernel handles map to
//! the ruleset's rules and their policy lines. A [`Probe`] goes to `fw`
//! ([`Oracle::send`], from the peer behind an interface, with a raw
//! socket), through it ([`Oracle::forward`]: `fw` is a router, forwarding
//! switched on inside it only), from it ([`Oracle::send_from_host`], a raw
//! socket inside `fw`) or from it to itself ([`Oracle::send_to_itself`],
//! out and back in on `lo`), and is followed with nftables trace events
//! ([`crate::trace`]):
//!
//! * the oracle's own table `inet rampart-oracle` marks every packet that
//!   arrives on one of its interfaces with `meta nftrace set 1` in a
//!   prerouting chain at priority -1000 (before conntrack, defragmentation
//!   and rampart's raw chains), and every packet the oracle's own sockets
//!   send from `fw` in an output chain at priority -1000; it has an empty
//!   input chain and an empty postrouting chain at the highest priority:
//!   their policy event means the packet passed every other chain of its
//!   path, i.e. it was **accepted** (delivered to `fw`, or on its way out),
//!   and their first event shows the packet as it leaves, every NAT
//!   rewrite done ([`Observation::delivered`]);
//! * a rule event with verdict drop (`drop`, `reject`, a drop policy) ends
//!   the packet: **dropped**, or **rejected** when that rule holds a
//!   `reject` expression;
//! * neither within the wait: the kernel dropped the packet outside
//!   nftables (routing, a martian source, reassembly waiting for the other
//!   fragments): **unseen**.
//!
//! With [`OracleConfig::quiet`], what `fw`'s own stack sends by itself
//! (resets, SYN-ACKs, ICMP errors and echo replies) is dropped before
//! conntrack, so that the kernel's state follows the probes alone.
//!
//! Setup that keeps the kernel from dropping probes before nftables:
//! `rp_filter` 0 and `accept_local` 1 in `fw`; every destination address is
//! made local on `fw`'s `lo` before its first probe (so any address can be
//! a destination, and replies go back towards the peer through a default
//! route); fixed MAC addresses with permanent neighbour entries, so a
//! policy dropping ARP or neighbour discovery cannot cut the link.
//!
//! ```no_run
//! use rampart_sys::craft::{tcp_flags, Probe};
//! use rampart_sys::oracle::{KernelVerdict, Oracle, OracleConfig};
//! # fn ruleset() -> rampart_nft::Ruleset { unimplemented!() }
//! let mut oracle = Oracle::new(&OracleConfig::default())?; // needs root
//! oracle.load(&ruleset())?;
//! let syn = Probe::tcp("192.0.2.5".parse()?, "198.51.100.1".parse()?, 40000, 22, tcp_flags::SYN);
//! let seen = oracle.send("eth0", &syn)?;
//! if seen.verdict == KernelVerdict::Accept {
//!     println!("accepted by {:?}", seen.deciding_origin());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Limits (what cannot be sent this way): the source cannot be a martian
//! (0.0.0.0/8, 127/8 from outside, multicast, the limited broadcast) nor
//! the destination multicast (the limited broadcast 255.255.255.255 is
//! fine); fragments are reassembled by the kernel before any rule sees
//! them; an interface is one of the names given at creation (a policy's
//! `-i eth1` needs `eth1` in [`OracleConfig::interfaces`]); routes are
//! `fw`'s own (the first peer is the default route; [`Oracle::route`]
//! adds others); a forwarded packet with TTL 1 never reaches the FORWARD
//! hook (the kernel answers "time exceeded": [`Observation::ttl_exceeded`]
//! tells it).
//!
//! A policy rampart does not lower to nftables can be loaded as an
//! iptables-save text ([`Oracle::load_xtables`], `iptables-nft-restore`):
//! iptables-nft's tables are nftables tables whose rules hold xtables
//! compatibility expressions, traced by the same events.

use crate::craft::{tcp_flags, tcp_of, CraftError, Probe, RawSender, Sniffer, L4};
use crate::netns::{run_in_named, Scratch};
use crate::nla::{messages, Buf, NLMSG_ERROR, NLM_F_ACK, NLM_F_REQUEST};
use crate::trace::{TraceEvent, TraceSocket, TraceType, TraceVerdict};
use rampart_model::Origin;
use rampart_nft::{BaseChain, ChainType, Hook, Ruleset, TableFamily};
use rustix::fd::OwnedFd;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The oracle's own table (in `fw`, beside rampart's).
pub const ORACLE_TABLE: &str = "rampart-oracle";
/// The priority of the oracle's last input and postrouting chains.
const LAST: i32 = i32::MAX - 1;
/// Conntrack's priority at prerouting and output.
const CONNTRACK_PRIORITY: i32 = -200;
/// How long a probe may take to show up in the trace at all.
const FIRST_EVENT: Duration = Duration::from_secs(2);
/// How long after its last event a packet may take to reach a verdict.
const SETTLE: Duration = Duration::from_millis(300);

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// What to build.
#[derive(Debug, Clone)]
pub struct OracleConfig {
    /// Names of `fw`'s input interfaces (veth ends), at most 15 bytes
    /// each; one peer namespace sits behind each.
    pub interfaces: Vec<String>,
    /// Drop every packet `fw`'s own stack sends by itself (TCP resets,
    /// SYN-ACKs, ICMP errors and echo replies, neighbour discovery) before
    /// conntrack and the ruleset see it, so that the kernel's state follows
    /// only the probes: the evaluator's packet sequences list the host's
    /// answers explicitly when they matter. Off for tests that need the
    /// host to answer ([`Oracle::handshake`], [`Oracle::udp_reply`]).
    pub quiet: bool,
}

impl Default for OracleConfig {
    fn default() -> Self {
        OracleConfig {
            interfaces: vec!["eth0".into()],
            quiet: false,
        }
    }
}

/// Why the oracle failed (not a verdict: an error of the harness).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OracleError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Craft(#[from] CraftError),
    #[error(transparent)]
    Apply(#[from] crate::ApplyError),
    #[error("input interface {0:?} is not one of the oracle's ({1})")]
    UnknownInterface(String, String),
    #[error("cannot use {0} as a destination: {1}")]
    Destination(IpAddr, String),
    #[error("the probe never reached nftables (no trace event within {0:?})")]
    NoTrace(Duration),
    #[error("no SYN-ACK came back for the handshake from {0}")]
    NoSynAck(IpAddr),
    #[error("cannot send from the host: {0}")]
    HostSend(String),
}

/// The kernel's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KernelVerdict {
    /// Passed every chain of its path (input for a packet to `fw`,
    /// postrouting for a forwarded or host-sent one).
    Accept,
    Drop,
    /// Dropped by a rule with a `reject` expression (an error was sent back).
    Reject,
    /// Stolen or queued by a rule (`queue`, ...).
    Other,
    /// Traced on the way in, but no verdict within the wait: dropped
    /// outside nftables (routing, martian source, reassembly).
    Unseen,
}

impl KernelVerdict {
    pub fn name(self) -> &'static str {
        match self {
            KernelVerdict::Accept => "accept",
            KernelVerdict::Drop => "drop",
            KernelVerdict::Reject => "reject",
            KernelVerdict::Other => "other",
            KernelVerdict::Unseen => "unseen",
        }
    }
}

/// One step of a packet's walk, mapped to the ruleset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub family: TableFamily,
    pub table: String,
    pub chain: String,
    /// The base chain whose walk this step belongs to (the chain itself,
    /// or the base chain that jumped here).
    pub base_chain: String,
    pub kind: TraceType,
    /// Rule events: the kernel handle and the 0-based position in its chain.
    pub handle: Option<u64>,
    pub position: Option<usize>,
    pub verdict: Option<TraceVerdict>,
    /// The rule's policy lines ([`rampart_nft::Rule::origins`]).
    pub origins: Vec<Origin>,
    /// The rule's kernel expressions (`meta`, `cmp`, `reject`, ...).
    pub exprs: Vec<String>,
    /// Source and destination as this chain saw them (after NAT, if any),
    /// on the first event of each base chain.
    pub addresses: Option<(IpAddr, IpAddr)>,
    /// Source and destination ports as this chain saw them (TCP, UDP),
    /// with [`Step::addresses`].
    pub ports: Option<(u16, u16)>,
    /// The conntrack state the kernel reported with this step
    /// ([`crate::trace::ct_bits`]), on the first event of each base chain.
    pub ct_state: Option<u32>,
}

/// Addresses and ports of a packet as one chain saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TCP and UDP ports.
    pub ports: Option<(u16, u16)>,
}

/// What the kernel did with one probe.
#[derive(Debug, Clone)]
pub struct Observation {
    pub verdict: KernelVerdict,
    /// Every step in rampart's tables, in order (the oracle's own chains
    /// are left out).
    pub steps: Vec<Step>,
    /// The step that decided: the one that dropped, or for an accepted
    /// packet the accepting step of the filter-priority input chain (a
    /// rule, or the chain's policy when no rule decided), else of the last
    /// other filter-type input chain, else the last accepting step.
    pub deciding: Option<Step>,
    /// Whether conntrack runs for this packet: the ruleset uses `ct` (so
    /// the namespace registered conntrack) and the packet reached a chain
    /// after conntrack's hooks (input, forward, postrouting, or
    /// prerouting/output above priority -200), where every tracked packet
    /// carries its state.
    pub conntrack: bool,
    /// An accepted packet as it left the ruleset, every NAT rewrite done:
    /// what the oracle's last input chain (delivered to `fw`) or last
    /// postrouting chain (forwarded or sent by `fw`, on its way to the
    /// wire) saw.
    pub delivered: Option<Endpoints>,
    /// The hooks whose chains (rampart's, or iptables-nft's) saw the
    /// packet, in order of first sight.
    pub hooks: Vec<Hook>,
    /// `fw` counted an IP header error while the probe was followed
    /// (`InHdrErrors` of `/proc/net/snmp` or `snmp6`): for a routed
    /// probe, IP forwarding found its TTL (hop limit) at 1 or 0, dropped
    /// it before the FORWARD hook and answered time exceeded. Only for
    /// probes that arrive ([`Oracle::send`], [`Oracle::forward`]).
    pub ttl_exceeded: bool,
}

impl Observation {
    /// The conntrack state as the kernel reported it on the way into the
    /// deciding base chain (the last report before the decision; for an
    /// accepted packet, the last report), as
    /// [`crate::trace::ct_bits`]; INVALID when conntrack ran
    /// ([`Observation::conntrack`]) and attached no entry; `None` when
    /// conntrack did not run or the kernel does not report states (before
    /// Linux 6.12).
    pub fn ct_state(&self) -> Option<u32> {
        // An accepted packet's state is the one it leaves with (a chain
        // before conntrack may have decided it, a raw chain accepting).
        let last = self.steps.len().saturating_sub(1);
        let end = match self.verdict {
            KernelVerdict::Accept => last,
            _ => self
                .deciding
                .as_ref()
                .and_then(|d| self.steps.iter().rposition(|s| s == d))
                .unwrap_or(last),
        };
        let reported = self
            .steps
            .get(..=end)
            .and_then(|s| s.iter().rev().find_map(|s| s.ct_state));
        // Conntrack ran but attached nothing: the kernel's INVALID.
        reported.or(self.conntrack.then_some(crate::trace::ct_bits::INVALID))
    }

    /// The deciding rule's first policy line, if it has one (a chain
    /// policy or a rule rampart added has none).
    pub fn deciding_origin(&self) -> Option<&Origin> {
        self.deciding.as_ref()?.origins.first()
    }
}

/// A TCP connection opened through the oracle: next packets from the peer
/// carry these sequence numbers and are ESTABLISHED for conntrack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFlow {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// The peer's next sequence number.
    pub seq: u32,
    /// What the peer acknowledges (fw's next sequence number).
    pub ack: u32,
}

impl TcpFlow {
    /// A packet of the flow from the peer with `flags`.
    pub fn probe(&self, flags: u8) -> Probe {
        Probe {
            l4: L4::Tcp {
                sport: self.sport,
                dport: self.dport,
                flags,
                seq: self.seq,
                ack: self.ack,
            },
            ..Probe::tcp(self.src, self.dst, self.sport, self.dport, flags)
        }
    }
}

#[derive(Debug)]
struct Peer {
    iface: String,
    /// The peer's MAC address (a permanent neighbour entry's).
    mac: String,
    /// The peer's link addresses: the next hop of routes through it.
    gw4: String,
    gw6: String,
    _ns: Scratch,
    sender: RawSender,
    sniffer: Sniffer,
}

#[derive(Debug, Clone)]
struct RuleInfo {
    position: usize,
    exprs: Vec<String>,
    origins: Vec<Origin>,
    /// The rule's drop is a reject (a `reject` expression, or the
    /// xtables `REJECT` target).
    rejects: bool,
}

/// The harness: namespaces, the trace listener and the loaded ruleset's
/// handle map. Everything is removed when it is dropped.
#[derive(Debug)]
pub struct Oracle {
    // Peers before fw: dropped (deleted) first.
    peers: Vec<Peer>,
    fw: Scratch,
    trace: TraceSocket,
    ct: OwnedFd,
    locals: HashSet<IpAddr>,
    rules: HashMap<(u8, String, String, u64), RuleInfo>,
    bases: HashMap<(u8, String, String), BaseChain>,
    /// The loaded ruleset uses conntrack (`ct` expressions).
    ct_active: bool,
    listeners: Vec<TcpListener>,
    udp: Vec<UdpSocket>,
    /// Raw sockets inside `fw`, for packets the host itself sends.
    host: RawSender,
    /// Forwarding has been switched on in `fw`.
    forwarding: bool,
    /// iptables-nft tables are loaded ([`Oracle::load_xtables`]).
    xtables: bool,
    /// Addresses given permanent neighbour entries ([`Oracle::resolve`]).
    resolved: HashSet<IpAddr>,
    /// `fw`'s `/proc/net/snmp` and `/proc/net/snmp6`, opened inside it.
    snmp: [std::fs::File; 2],
}

fn fam_code(f: TableFamily) -> u8 {
    match f {
        TableFamily::Inet => 1,
        TableFamily::Ip => 2,
        TableFamily::Ip6 => 10,
    }
}

fn fam_of(code: u8) -> TableFamily {
    match code {
        2 => TableFamily::Ip,
        10 => TableFamily::Ip6,
        _ => TableFamily::Inet,
    }
}

fn write_sysctl(key: &str, value: &str) -> std::io::Result<()> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    std::fs::write(&path, value).map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}")))
}

/// The oracle's table (nft text): mark at the door (packets arriving on
/// the oracle's interfaces, and packets the oracle's own process sends from
/// `fw`: `meta skuid 0` holds only for a full socket of a root process, never
/// for what the kernel sends by itself), notice the end of input and of
/// postrouting (each with a `counter` rule, whose trace event carries the
/// packet's header as it leaves). In `quiet` mode, everything else `fw`
/// sends (but neighbour discovery) is dropped before conntrack. It is loaded with `nft -f`, since the ruleset model
/// has no `meta nftrace` statement.
fn oracle_table(interfaces: &[String], quiet: bool) -> String {
    let names: Vec<String> = interfaces.iter().map(|i| format!("\"{i}\"")).collect();
    // Neighbour discovery stays: a peer must resolve a link-local
    // destination of `fw`.
    let silence = if quiet {
        "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n\t\tdrop\n"
    } else {
        ""
    };
    format!(
        "table inet {ORACLE_TABLE} {{\n\
         \tchain arrive {{\n\t\ttype filter hook prerouting priority -1000; policy accept;\n\
         \t\tiifname {{ {} }} meta nftrace set 1\n\t}}\n\
         \tchain depart {{\n\t\ttype filter hook output priority -1000; policy accept;\n\
         \t\tmeta skuid 0 meta nftrace set 1 accept\n{silence}\t}}\n\
         \tchain passed {{\n\t\ttype filter hook input priority {LAST}; policy accept;\n\t\tcounter\n\t}}\n\
         \tchain left {{\n\t\ttype filter hook postrouting priority {LAST}; policy accept;\n\t\tcounter\n\t}}\n}}\n",
        names.join(", ")
    )
}

fn nft_in(ns: &str, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run `nft`: {e}")))?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "nft -f (oracle table) failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Runs `argv` with `text` on its standard input; an error carries its
/// standard error.
fn run_with_stdin(argv: &[&str], text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut child = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run `{}`: {e}", argv[0])))?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "{} failed: {}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The line (1-based) of every `-A` of an iptables-save text, per
/// (table, chain) in order, and whether its target is `REJECT`.
fn xt_rule_lines(text: &str) -> HashMap<(String, String), Vec<(u32, bool)>> {
    let mut out: HashMap<(String, String), Vec<(u32, bool)>> = HashMap::new();
    let mut table = String::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if let Some(t) = l.strip_prefix('*') {
            table = t.trim().to_string();
            continue;
        }
        // A counters prefix `[P:B] -A ...` (iptables-save -c).
        let l = match l.strip_prefix('[') {
            Some(r) => r.split_once(']').map_or(l, |(_, rest)| rest.trim_start()),
            None => l,
        };
        let mut words = l.split_whitespace();
        if words.next() != Some("-A") {
            continue;
        }
        let Some(chain) = words.next() else { continue };
        let words: Vec<&str> = words.collect();
        let rejects = words
            .windows(2)
            .any(|w| matches!(w[0], "-j" | "--jump") && w[1] == "REJECT");
        out.entry((table.clone(), chain.to_string()))
            .or_default()
            .push((i as u32 + 1, rejects));
    }
    out
}

/// The built-in chains iptables-nft makes for `table`: name, hook, type
/// and priority (as `iptables-nft` registers them).
fn xt_base_chains(table: &str) -> Vec<(&'static str, Hook, ChainType, rampart_nft::Priority)> {
    use rampart_nft::Priority as P;
    use ChainType::{Filter, Nat, Route};
    use Hook::*;
    match table {
        "raw" => vec![
            ("PREROUTING", Prerouting, Filter, P::RAW),
            ("OUTPUT", Output, Filter, P::RAW),
        ],
        "mangle" => vec![
            ("PREROUTING", Prerouting, Filter, P::MANGLE),
            ("INPUT", Input, Filter, P::MANGLE),
            ("FORWARD", Forward, Filter, P::MANGLE),
            ("OUTPUT", Output, Route, P::MANGLE),
            ("POSTROUTING", Postrouting, Filter, P::MANGLE),
        ],
        "nat" => vec![
            ("PREROUTING", Prerouting, Nat, P::DSTNAT),
            ("INPUT", Input, Nat, P::SRCNAT),
            ("OUTPUT", Output, Nat, P::DSTNAT),
            ("POSTROUTING", Postrouting, Nat, P::SRCNAT),
        ],
        "filter" => vec![
            ("INPUT", Input, Filter, P::FILTER),
            ("FORWARD", Forward, Filter, P::FILTER),
            ("OUTPUT", Output, Filter, P::FILTER),
        ],
        "security" => vec![
            ("INPUT", Input, Filter, P::SECURITY),
            ("FORWARD", Forward, Filter, P::SECURITY),
            ("OUTPUT", Output, Filter, P::SECURITY),
        ],
        _ => Vec::new(),
    }
}

/// IP header errors counted by a namespace's IPv4 and IPv6 stacks
/// (`InHdrErrors`: forwarding counts a packet whose TTL or hop limit ran
/// out there), from its `/proc/net/snmp` and `/proc/net/snmp6`.
fn in_hdr_errors(files: &[std::fs::File; 2]) -> std::io::Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    let mut total = 0u64;
    for (i, mut f) in files.iter().enumerate() {
        f.seek(SeekFrom::Start(0))?;
        let mut text = String::new();
        f.read_to_string(&mut text)?;
        if i == 0 {
            // "Ip: Forwarding DefaultTTL InReceives InHdrErrors ..." then
            // "Ip: 1 64 ..." (names, then values).
            let mut ip = text.lines().filter(|l| l.starts_with("Ip:"));
            if let (Some(names), Some(values)) = (ip.next(), ip.next()) {
                if let Some(k) = names.split_whitespace().position(|w| w == "InHdrErrors") {
                    total += values
                        .split_whitespace()
                        .nth(k)
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                }
            }
        } else {
            total += text
                .lines()
                .find_map(|l| l.strip_prefix("Ip6InHdrErrors"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(total)
}

fn netfilter_socket() -> std::io::Result<OwnedFd> {
    let fd = rustix::net::socket_with(
        rustix::net::AddressFamily::NETLINK,
        rustix::net::SocketType::RAW,
        rustix::net::SocketFlags::CLOEXEC,
        Some(rustix::net::netlink::NETFILTER),
    )?;
    rustix::net::bind(&fd, &rustix::net::netlink::SocketAddrNetlink::new(0, 0))?;
    Ok(fd)
}

impl Oracle {
    /// Creates the namespaces, links, addresses and the oracle's table, and
    /// starts listening for trace events. Needs root, `ip` (iproute2).
    pub fn new(cfg: &OracleConfig) -> Result<Oracle, OracleError> {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let tag = format!("rk{}-{n}", std::process::id());
        let fw = Scratch::create(&format!("{tag}-fw"))?;
        let fwn = fw.name().to_string();
        fw.ip(&["link", "set", "lo", "up"])?;
        run_in_named(&fwn, || -> std::io::Result<()> {
            for (k, v) in [
                ("net.ipv4.conf.all.rp_filter", "0"),
                ("net.ipv4.conf.default.rp_filter", "0"),
                ("net.ipv4.conf.all.accept_local", "1"),
                ("net.ipv4.conf.default.accept_local", "1"),
                ("net.ipv6.conf.all.accept_dad", "0"),
                ("net.ipv6.conf.default.accept_dad", "0"),
            ] {
                write_sysctl(k, v)?;
            }
            Ok(())
        })??;
        let mut peers = Vec::new();
        for (i, iface) in cfg.interfaces.iter().enumerate() {
            let peer = Scratch::create(&format!("{tag}-p{i}"))?;
            let pname = peer.name().to_string();
            let fw_mac = format!("02:00:00:00:{:02x}:01", i + 1);
            let peer_mac = format!("02:00:00:00:{:02x}:02", i + 1);
            fw.ip(&[
                "link", "add", iface, "address", &fw_mac, "type", "veth", "peer", "name", "p0",
                "address", &peer_mac, "netns", &pname,
            ])?;
            // Link addresses from 169.254.0.0/16 (rarely in a policy). The
            // fw end has no IPv4 address of its own (routes through the peer
            // are `onlink`): MASQUERADE then takes the address the policy's
            // context gives the interface, as on the real host.
            let fw4 = format!("169.254.{}.1", 100 + i);
            let peer4 = format!("169.254.{}.2", 100 + i);
            let fw6 = format!("fe80::{}:1", i + 1);
            let peer6 = format!("fe80::{}:2", i + 1);
            fw.ip(&[
                "-6",
                "addr",
                "add",
                &format!("{fw6}/64"),
                "dev",
                iface,
                "nodad",
            ])?;
            fw.ip(&["link", "set", iface, "up"])?;
            peer.ip(&["link", "set", "lo", "up"])?;
            peer.ip(&["addr", "add", &format!("{peer4}/30"), "dev", "p0"])?;
            peer.ip(&[
                "-6",
                "addr",
                "add",
                &format!("{peer6}/64"),
                "dev",
                "p0",
                "nodad",
            ])?;
            peer.ip(&["link", "set", "p0", "up"])?;
            for (ns, addr, mac, dev) in [
                (&peer, fw4.as_str(), fw_mac.as_str(), "p0"),
                (&peer, fw6.as_str(), fw_mac.as_str(), "p0"),
                (&fw, peer4.as_str(), peer_mac.as_str(), iface.as_str()),
                (&fw, peer6.as_str(), peer_mac.as_str(), iface.as_str()),
            ] {
                ns.ip(&[
                    "neigh",
                    "replace",
                    addr,
                    "lladdr",
                    mac,
                    "dev",
                    dev,
                    "nud",
                    "permanent",
                ])?;
            }
            peer.ip(&["route", "add", "default", "via", &fw4, "dev", "p0"])?;
            peer.ip(&["-6", "route", "add", "default", "via", &fw6, "dev", "p0"])?;
            if i == 0 {
                // Replies (RST, ICMP errors, SYN-ACKs) leave towards the first
                // peer, which drops them (not local, no forwarding).
                fw.ip(&[
                    "route", "add", "default", "via", &peer4, "dev", iface, "onlink",
                ])?;
                fw.ip(&["-6", "route", "add", "default", "via", &peer6, "dev", iface])?;
            }
            let (sender, sniffer) = run_in_named(&pname, || -> std::io::Result<_> {
                Ok((RawSender::open()?, Sniffer::open()?))
            })??;
            peers.push(Peer {
                iface: iface.clone(),
                mac: peer_mac.clone(),
                gw4: peer4,
                gw6: peer6,
                _ns: peer,
                sender,
                sniffer,
            });
        }
        for iface in &cfg.interfaces {
            run_in_named(&fwn, {
                let iface = iface.clone();
                move || -> std::io::Result<()> {
                    write_sysctl(&format!("net.ipv4.conf.{iface}.rp_filter"), "0")?;
                    write_sysctl(&format!("net.ipv4.conf.{iface}.accept_local"), "1")
                }
            })??;
        }
        let (trace, ct, host, snmp) = run_in_named(&fwn, || -> std::io::Result<_> {
            Ok((
                TraceSocket::open()?,
                netfilter_socket()?,
                RawSender::open()?,
                [
                    std::fs::File::open("/proc/thread-self/net/snmp")?,
                    std::fs::File::open("/proc/thread-self/net/snmp6")?,
                ],
            ))
        })??;
        let o = Oracle {
            peers,
            fw,
            trace,
            ct,
            locals: HashSet::new(),
            rules: HashMap::new(),
            bases: HashMap::new(),
            ct_active: false,
            listeners: Vec::new(),
            udp: Vec::new(),
            host,
            forwarding: false,
            xtables: false,
            resolved: HashSet::new(),
            snmp,
        };
        nft_in(o.fw.name(), &oracle_table(&cfg.interfaces, cfg.quiet))?;
        Ok(o)
    }

    /// The name of the namespace holding the ruleset.
    pub fn fw_namespace(&self) -> &str {
        self.fw.name()
    }

    fn in_fw<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::io::Result<T> {
        run_in_named(self.fw.name(), f)
    }

    /// Applies `rs` in `fw` (replacing rampart's tables, in one
    /// transaction) and reads the handles back. Conntrack entries stay.
    pub fn load(&mut self, rs: &Ruleset) -> Result<(), OracleError> {
        if std::mem::take(&mut self.xtables) {
            self.clear_tables()?;
        }
        let owned = rs.clone();
        self.in_fw(move || crate::apply_replacing(&owned, &crate::OWN_TABLES).map(|_| ()))??;
        self.rules.clear();
        self.bases.clear();
        self.ct_active = false;
        for t in &rs.tables {
            let (fam, name) = (t.family, t.name.clone());
            let live = self.in_fw(move || crate::list_rules(fam, &name))??;
            for chain in &t.chains {
                if let Some(b) = chain.base {
                    self.bases
                        .insert((fam_code(t.family), t.name.clone(), chain.name.clone()), b);
                }
            }
            for lr in live {
                let origins = t
                    .chains
                    .iter()
                    .find(|c| c.name == lr.chain)
                    .and_then(|c| c.rules.get(lr.position))
                    .map(|r| {
                        if r.origins.is_empty() {
                            r.origin.iter().cloned().collect()
                        } else {
                            r.origins.clone()
                        }
                    })
                    .unwrap_or_default();
                self.ct_active |= lr.exprs.iter().any(|e| e == "ct");
                self.rules.insert(
                    (
                        fam_code(t.family),
                        t.name.clone(),
                        lr.chain.clone(),
                        lr.handle,
                    ),
                    RuleInfo {
                        position: lr.position,
                        rejects: lr.exprs.iter().any(|e| e == "reject"),
                        exprs: lr.exprs,
                        origins,
                    },
                );
            }
        }
        Ok(())
    }

    /// Removes every table of `fw` but the oracle's (rampart's, and
    /// iptables-nft's after [`Oracle::load_xtables`]).
    fn clear_tables(&mut self) -> Result<(), OracleError> {
        let mut text = String::new();
        for fam in [TableFamily::Inet, TableFamily::Ip, TableFamily::Ip6] {
            for t in self.in_fw(move || crate::list_tables(fam))?? {
                if t != ORACLE_TABLE {
                    text.push_str(&format!("delete table {} {t}\n", fam.name()));
                }
            }
        }
        if !text.is_empty() {
            nft_in(self.fw.name(), &text)?;
        }
        self.rules.clear();
        self.bases.clear();
        self.ct_active = false;
        Ok(())
    }

    /// Loads an iptables-save text (`v6`: ip6tables-save) with
    /// `iptables-nft-restore` (`ip6tables-nft-restore`) in `fw`, after
    /// removing every other table (so recent lists, limits and quotas
    /// start empty): for policies rampart does not lower to nftables
    /// (`-m recent --hitcount`, `-m string`, `-j TTL`, ...), which the
    /// kernel runs through its xtables compatibility expressions. Every
    /// `-A` line is one kernel rule; `file` names the text in the rules'
    /// origins (line numbers are the text's, 1-based), as the importer
    /// does. Followed like [`Oracle::load`]ed rulesets: iptables-nft's
    /// tables (`ip filter`, `ip nat`, ...) are traced by the same events.
    /// Conntrack counts as active when the text uses it (a nat table,
    /// `-m conntrack`/`state`/`connmark`/`connlimit`/`helper`, `-j CT`,
    /// `CONNMARK`): the kernel registers it for those only.
    pub fn load_xtables(&mut self, v6: bool, text: &str, file: &str) -> Result<(), OracleError> {
        self.clear_tables()?;
        let tool = if v6 {
            "ip6tables-nft-restore"
        } else {
            "iptables-nft-restore"
        };
        run_with_stdin(
            &["ip", "netns", "exec", self.fw.name(), tool, "--wait"],
            text,
        )?;
        let fam = if v6 {
            TableFamily::Ip6
        } else {
            TableFamily::Ip
        };
        let lines = xt_rule_lines(text);
        for table in self.in_fw(move || crate::list_tables(fam))?? {
            for (chain, hook, kind, priority) in xt_base_chains(&table) {
                self.bases.insert(
                    (fam_code(fam), table.clone(), chain.to_string()),
                    BaseChain {
                        kind,
                        hook,
                        priority,
                        policy: rampart_nft::ChainPolicy::Accept,
                    },
                );
            }
            let name = table.clone();
            let live = self.in_fw(move || crate::list_rules(fam, &name))??;
            for lr in live {
                let at = lines
                    .get(&(table.clone(), lr.chain.clone()))
                    .and_then(|v| v.get(lr.position));
                self.rules.insert(
                    (fam_code(fam), table.clone(), lr.chain.clone(), lr.handle),
                    RuleInfo {
                        position: lr.position,
                        rejects: at.is_some_and(|(_, rejects)| *rejects)
                            || lr.exprs.iter().any(|e| e == "reject"),
                        exprs: lr.exprs,
                        origins: at
                            .map(|(line, _)| Origin {
                                file: file.to_string(),
                                line: *line,
                                column: 1,
                            })
                            .into_iter()
                            .collect(),
                    },
                );
            }
        }
        self.ct_active = text.contains("*nat")
            || [
                "-m conntrack",
                "-m state",
                "-m connmark",
                "-m connlimit",
                "-m helper",
                "-j CT",
                "-j CONNMARK",
            ]
            .iter()
            .any(|w| text.contains(w));
        self.xtables = true;
        Ok(())
    }

    /// Forgets every conntrack entry of `fw` (each probe then starts a new
    /// flow unless the caller wants otherwise).
    pub fn flush_conntrack(&self) -> Result<(), OracleError> {
        // IPCTNL_MSG_CT_DELETE without attributes: flush the table.
        let mut b = Buf::default();
        b.msg((1 << 8) | 2, NLM_F_REQUEST | NLM_F_ACK, 1, 0, 0, |_| {});
        let fd = &self.ct;
        rustix::net::sendto(
            fd,
            &b.b,
            rustix::net::SendFlags::empty(),
            &rustix::net::netlink::SocketAddrNetlink::new(0, 0),
        )
        .map_err(std::io::Error::from)?;
        rustix::net::sockopt::set_socket_timeout(
            fd,
            rustix::net::sockopt::Timeout::Recv,
            Some(Duration::from_secs(5)),
        )
        .map_err(std::io::Error::from)?;
        let mut buf = vec![0u8; 8192];
        loop {
            let (n, _) = rustix::net::recv(fd, &mut buf[..], rustix::net::RecvFlags::empty())
                .map_err(std::io::Error::from)?;
            for (ty, _, seq, payload) in messages(&buf[..n.min(buf.len())]) {
                if ty == NLMSG_ERROR && seq == 1 {
                    let code = payload
                        .get(..4)
                        .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                    // ENOENT: nothing to flush (conntrack not loaded yet).
                    if code != 0 && code != -2 {
                        return Err(std::io::Error::from_raw_os_error(-code).into());
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Enters a TCP or UDP connection into `fw`'s conntrack table as if
    /// both directions had been seen (`src:sport → dst:dport` the original
    /// direction; TCP ESTABLISHED, replied and assured), so that a probe of
    /// it is ESTABLISHED and an ICMP error quoting it RELATED. Uses
    /// `conntrack -I` (conntrack-tools) inside `fw`.
    pub fn insert_connection(
        &self,
        proto: u8,
        (src, sport): (IpAddr, u16),
        (dst, dport): (IpAddr, u16),
    ) -> Result<(), OracleError> {
        let name = match proto {
            6 => "tcp",
            17 => "udp",
            p => {
                return Err(OracleError::Io(std::io::Error::other(format!(
                    "cannot enter a connection of protocol {p} (TCP and UDP only)"
                ))))
            }
        };
        let (s, d, sp, dp) = (
            src.to_string(),
            dst.to_string(),
            sport.to_string(),
            dport.to_string(),
        );
        let mut args = vec![
            "netns",
            "exec",
            self.fw.name(),
            "conntrack",
            "-I",
            "-p",
            name,
            "-s",
            &s,
            "-d",
            &d,
            "--sport",
            &sp,
            "--dport",
            &dp,
            "-r",
            &d,
            "-q",
            &s,
            "--reply-port-src",
            &dp,
            "--reply-port-dst",
            &sp,
            "-u",
            "SEEN_REPLY,ASSURED",
            "-t",
            "120",
        ];
        if proto == 6 {
            args.extend(["--state", "ESTABLISHED"]);
        }
        let out = std::process::Command::new("ip")
            .args(&args)
            .output()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run `conntrack`: {e}")))?;
        if !out.status.success() {
            return Err(OracleError::Io(std::io::Error::other(format!(
                "conntrack -I failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))));
        }
        Ok(())
    }

    /// Makes `addr` an address of `fw` (on `lo`), so probes to it are
    /// delivered locally.
    pub fn ensure_local(&mut self, addr: IpAddr) -> Result<(), OracleError> {
        if self.locals.contains(&addr) {
            return Ok(());
        }
        let bad = |why: &str| Err(OracleError::Destination(addr, why.into()));
        match addr {
            // The limited broadcast is delivered locally as it is.
            IpAddr::V4(a) if a.is_broadcast() => {
                self.locals.insert(addr);
                return Ok(());
            }
            IpAddr::V4(a) if a.is_multicast() || a.is_unspecified() => {
                return bad("multicast or unspecified");
            }
            IpAddr::V6(a) if a.is_multicast() || a.is_unspecified() => {
                return bad("multicast or unspecified");
            }
            _ => {}
        }
        if !addr.is_loopback() {
            let (flag, pfx) = if addr.is_ipv4() {
                ("-4", "32")
            } else {
                ("-6", "128")
            };
            let a = format!("{addr}/{pfx}");
            let mut args = vec![flag, "addr", "add", a.as_str(), "dev", "lo"];
            if addr.is_ipv6() {
                args.push("nodad");
            }
            self.fw.ip(&args)?;
            self.wait_local(addr)?;
        }
        self.locals.insert(addr);
        Ok(())
    }

    /// IPv6 installs the local route of a new address from a work queue
    /// (after DAD, even with `nodad`): poll until it is there, or a probe
    /// sent at once would be routed away.
    fn wait_local(&self, addr: IpAddr) -> Result<(), OracleError> {
        if addr.is_ipv4() {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        let a = addr.to_string();
        loop {
            let out = std::process::Command::new("ip")
                .args([
                    "-n",
                    self.fw.name(),
                    "-6",
                    "route",
                    "show",
                    "table",
                    "local",
                    &a,
                ])
                .output()?;
            if out.status.success() && !out.stdout.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(OracleError::Destination(
                    addr,
                    "its local route did not appear within 3 s".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Gives `fw`'s interface `iface` the address `addr/prefix` (a host
    /// address with its subnet, so `addrtype` and connected routes are as
    /// on the real host); probes to `addr` are then delivered locally.
    pub fn add_local(&mut self, addr: IpAddr, prefix: u8, iface: &str) -> Result<(), OracleError> {
        self.peer(iface)?;
        if self.locals.contains(&addr) {
            return Ok(());
        }
        let a = format!("{addr}/{prefix}");
        let mut args = vec!["addr", "add", a.as_str(), "dev", iface];
        if addr.is_ipv6() {
            args.push("nodad");
        }
        self.fw.ip(&args)?;
        self.wait_local(addr)?;
        self.locals.insert(addr);
        Ok(())
    }

    /// Opens a listening TCP socket in `fw` at `addr` (so a SYN gets a
    /// SYN-ACK and the flow can become ESTABLISHED).
    pub fn listen_tcp(&mut self, addr: SocketAddr) -> Result<(), OracleError> {
        self.ensure_local(addr.ip())?;
        let l = self.in_fw(move || TcpListener::bind(addr))??;
        self.listeners.push(l);
        Ok(())
    }

    /// Binds a UDP socket in `fw` at `addr`; returns its index for
    /// [`Oracle::udp_reply`].
    pub fn bind_udp(&mut self, addr: SocketAddr) -> Result<usize, OracleError> {
        self.ensure_local(addr.ip())?;
        let s = self.in_fw(move || UdpSocket::bind(addr))??;
        s.set_read_timeout(Some(FIRST_EVENT))?;
        self.udp.push(s);
        Ok(self.udp.len() - 1)
    }

    /// Receives one datagram on UDP socket `idx` and answers it: the
    /// answer is the reply that makes conntrack call the flow ESTABLISHED.
    pub fn udp_reply(&self, idx: usize) -> Result<SocketAddr, OracleError> {
        let s = self
            .udp
            .get(idx)
            .ok_or_else(|| std::io::Error::other("no such UDP socket"))?;
        let mut buf = [0u8; 2048];
        let (_, from) = s.recv_from(&mut buf)?;
        s.send_to(b"reply", from)?;
        Ok(from)
    }

    fn peer(&self, iif: &str) -> Result<&Peer, OracleError> {
        self.peers.iter().find(|p| p.iface == iif).ok_or_else(|| {
            OracleError::UnknownInterface(
                iif.to_string(),
                self.peers
                    .iter()
                    .map(|p| p.iface.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
    }

    /// Sends `probe` into `fw` through interface `iif` and reports what the
    /// kernel decided. The destination is made an address of `fw` first
    /// ([`Oracle::ensure_local`]): the probe is for the host itself.
    pub fn send(&mut self, iif: &str, probe: &Probe) -> Result<Observation, OracleError> {
        self.ensure_local(probe.dst)?;
        self.arrive(iif, probe)
    }

    /// Sends `probe` into `fw` through interface `iif` as it is: a
    /// destination that is not (and does not become, by DNAT) an address
    /// of `fw` is routed through — forwarding is switched on in `fw` (only
    /// there) on first use. Routes are `fw`'s: the peers' default route
    /// ([`Oracle::route`] adds others).
    pub fn forward(&mut self, iif: &str, probe: &Probe) -> Result<Observation, OracleError> {
        if !self.forwarding {
            self.in_fw(|| -> std::io::Result<()> {
                write_sysctl("net.ipv4.ip_forward", "1")?;
                write_sysctl("net.ipv6.conf.all.forwarding", "1")
            })??;
            self.forwarding = true;
        }
        self.resolve(probe.dst)?;
        self.arrive(iif, probe)
    }

    fn arrive(&mut self, iif: &str, probe: &Probe) -> Result<Observation, OracleError> {
        let bytes = probe.to_bytes()?;
        self.trace.drain()?;
        let before = in_hdr_errors(&self.snmp)?;
        self.peer(iif)?.sender.send_bytes(probe.dst, &bytes)?;
        let mut obs = self.follow(probe, false)?;
        obs.ttl_exceeded = in_hdr_errors(&self.snmp)? > before;
        Ok(obs)
    }

    /// Sends `probe` from `fw` itself (a raw socket inside it: the output
    /// hook, routed by `fw`'s routes, then postrouting) and reports what
    /// the kernel decided.
    pub fn send_from_host(&mut self, probe: &Probe) -> Result<Observation, OracleError> {
        self.host_send(probe, false)
    }

    /// Sends `probe` from `fw` to itself (a loopback or local destination)
    /// and follows it all the way: output, postrouting, then in on `lo`
    /// through prerouting and input.
    pub fn send_to_itself(&mut self, probe: &Probe) -> Result<Observation, OracleError> {
        self.host_send(probe, true)
    }

    fn host_send(&mut self, probe: &Probe, to_itself: bool) -> Result<Observation, OracleError> {
        if !to_itself {
            self.resolve(probe.dst)?;
        }
        let bytes = probe.to_bytes()?;
        self.trace.drain()?;
        match self.host.send_bytes(probe.dst, &bytes) {
            Ok(()) => {}
            // The output hook dropped it: the kernel tells the sender.
            Err(CraftError::Io(e)) if e.raw_os_error() == Some(1) => {}
            Err(e) => return Err(OracleError::HostSend(e.to_string())),
        }
        self.follow(probe, to_itself)
    }

    /// Makes `addr` resolve on every interface of `fw` to the peer behind
    /// it (a permanent neighbour entry), so that a packet routed to it as
    /// an on-link address leaves at once. Otherwise it waits in the
    /// neighbour queue for an answer that never comes, holding its
    /// conntrack entry past [`Oracle::flush_conntrack`] for seconds; and
    /// source NAT gives a later connection of the same source the mapping
    /// of that entry. [`Oracle::forward`] and the host's sends resolve
    /// the probe's destination; a caller resolves a destination NAT
    /// rewrites to. Addresses of `fw` itself are left alone.
    pub fn resolve(&mut self, addr: IpAddr) -> Result<(), OracleError> {
        if self.locals.contains(&addr)
            || addr.is_multicast()
            || addr.is_unspecified()
            || addr.is_loopback()
            || addr == IpAddr::from([255, 255, 255, 255])
            || !self.resolved.insert(addr)
        {
            return Ok(());
        }
        let a = addr.to_string();
        for p in &self.peers {
            self.fw.ip(&[
                "neigh",
                "replace",
                &a,
                "lladdr",
                &p.mac,
                "dev",
                &p.iface,
                "nud",
                "permanent",
            ])?;
        }
        Ok(())
    }

    /// Routes `net` (`ADDR/PREFIX`, `0.0.0.0/0` for the default route)
    /// out of `fw` through interface `iface`, to the peer behind it
    /// (replacing a route to the same network).
    pub fn route(&mut self, net: &str, iface: &str) -> Result<(), OracleError> {
        let peer = self.peer(iface)?;
        let v6 = net.contains(':');
        let gw = if v6 { &peer.gw6 } else { &peer.gw4 };
        let args = [
            if v6 { "-6" } else { "-4" },
            "route",
            "replace",
            net,
            "via",
            gw.as_str(),
            "dev",
            iface,
            "onlink",
        ];
        self.fw.ip(&args)?;
        Ok(())
    }

    /// Removes a route made with [`Oracle::route`].
    pub fn unroute(&mut self, net: &str) -> Result<(), OracleError> {
        let v6 = net.contains(':');
        self.fw
            .ip(&[if v6 { "-6" } else { "-4" }, "route", "del", net])?;
        Ok(())
    }

    /// Opens a TCP connection to a listener made with
    /// [`Oracle::listen_tcp`]: sends the SYN `syn` (its observation is
    /// returned), reads fw's SYN-ACK in the peer and sends the final ACK.
    pub fn handshake(
        &mut self,
        iif: &str,
        syn: &Probe,
    ) -> Result<(Observation, TcpFlow), OracleError> {
        let L4::Tcp {
            sport, dport, seq, ..
        } = syn.l4
        else {
            return Err(CraftError::Build("a handshake needs a TCP probe".into()).into());
        };
        let syn = Probe {
            l4: L4::Tcp {
                sport,
                dport,
                flags: tcp_flags::SYN,
                seq,
                ack: 0,
            },
            ..syn.clone()
        };
        let first = self.send(iif, &syn)?;
        let (src, dst) = (syn.src, syn.dst);
        // fw's replies leave by its default route, towards the first peer.
        let synack = self.peers[0]
            .sniffer
            .wait_for(Instant::now() + FIRST_EVENT, |p| {
                tcp_of(p).is_some_and(|(s, d, sp, dp, f, _, _)| {
                    s == dst
                        && d == src
                        && sp == dport
                        && dp == sport
                        && f & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN | tcp_flags::ACK
                })
            })?
            .and_then(|p| tcp_of(&p))
            .ok_or(OracleError::NoSynAck(dst))?;
        let flow = TcpFlow {
            src,
            dst,
            sport,
            dport,
            seq: seq.wrapping_add(1),
            ack: synack.5.wrapping_add(1),
        };
        self.send(iif, &flow.probe(tcp_flags::ACK))?;
        Ok((first, flow))
    }

    /// Follows `probe` by its trace id to a verdict; `through_lo`: the end
    /// of postrouting is not the end (the packet comes back in on `lo`).
    fn follow(&mut self, probe: &Probe, through_lo: bool) -> Result<Observation, OracleError> {
        let start = Instant::now();
        // The first event that shows our packet's header names its id.
        let mut id = loop {
            let Some(ev) = self.trace.next(start + FIRST_EVENT)? else {
                return Err(OracleError::NoTrace(FIRST_EVENT));
            };
            if is_ours(&ev, probe) {
                break ev.id;
            }
        };
        let mut steps = Vec::new();
        let mut base = String::new();
        let mut verdict = KernelVerdict::Unseen;
        let mut last = Instant::now();
        let mut deciding: Option<Step> = None;
        let mut deciding_rank = 0u8;
        let mut after_conntrack = false;
        let mut delivered: Option<Endpoints> = None;
        let mut hooks: Vec<Hook> = Vec::new();
        // Coming back in on lo, the packet gets a new trace id (the id
        // hashes the input interface): found again by its header.
        let mut looped = false;
        while let Some(ev) = self.trace.next(last + SETTLE)? {
            if ev.id != id {
                let again = looped
                    && ev.table == ORACLE_TABLE
                    && ev.chain == "arrive"
                    && delivered.is_some_and(|d| {
                        ev.addresses() == Some((d.src, d.dst))
                            && (d.ports.is_none() || ev.ports() == d.ports)
                    });
                if !again {
                    continue;
                }
                id = ev.id;
                looped = false;
            }
            last = Instant::now();
            if ev.table == ORACLE_TABLE {
                if ev.chain == "passed" || ev.chain == "left" {
                    // Their `counter` rule's event carries the header (the
                    // first event of a base chain does), the policy event
                    // ends the walk (at "left", unless the packet comes
                    // back in on lo).
                    if let Some((src, dst)) = ev.addresses() {
                        delivered = Some(Endpoints {
                            src,
                            dst,
                            ports: ev.ports(),
                        });
                    }
                    if ev.kind == TraceType::Policy {
                        if ev.chain == "left" && through_lo {
                            looped = true;
                        } else {
                            verdict = KernelVerdict::Accept;
                            break;
                        }
                    }
                }
                continue;
            }
            let key_base = (ev.family, ev.table.clone(), ev.chain.clone());
            let base_info = self.bases.get(&key_base).copied();
            if let Some(b) = base_info {
                base = ev.chain.clone();
                if !hooks.contains(&b.hook) {
                    hooks.push(b.hook);
                }
                after_conntrack |= match b.hook {
                    Hook::Prerouting | Hook::Output => b.priority.value > CONNTRACK_PRIORITY,
                    _ => true,
                };
            }
            let info = ev.handle.and_then(|h| {
                self.rules
                    .get(&(ev.family, ev.table.clone(), ev.chain.clone(), h))
                    .cloned()
            });
            let step = Step {
                family: fam_of(ev.family),
                table: ev.table.clone(),
                chain: ev.chain.clone(),
                base_chain: base.clone(),
                kind: ev.kind,
                handle: ev.handle.filter(|_| ev.kind == TraceType::Rule),
                position: info.as_ref().map(|i| i.position),
                verdict: ev.verdict.clone(),
                origins: info.as_ref().map(|i| i.origins.clone()).unwrap_or_default(),
                exprs: info.as_ref().map(|i| i.exprs.clone()).unwrap_or_default(),
                addresses: ev.addresses(),
                ports: ev.addresses().and(ev.ports()),
                ct_state: ev.ct_state,
            };
            steps.push(step.clone());
            match &ev.verdict {
                Some(TraceVerdict::Drop) => {
                    verdict = if step.kind == TraceType::Rule && info.is_some_and(|i| i.rejects) {
                        KernelVerdict::Reject
                    } else {
                        KernelVerdict::Drop
                    };
                    deciding = Some(step);
                    break;
                }
                Some(TraceVerdict::Other(_)) => {
                    verdict = KernelVerdict::Other;
                    deciding = Some(step);
                    break;
                }
                Some(TraceVerdict::Accept) => {
                    // The filter INPUT, FORWARD or OUTPUT chain (priority
                    // 0) decides an accepted packet, as iptables users
                    // read it; other filter-type chains of those hooks
                    // (mangle, security) only when there is none; a later
                    // one of equal rank wins (a packet to the host over
                    // `lo` passes OUTPUT, then INPUT).
                    let b = self.bases.get(&(ev.family, ev.table.clone(), base.clone()));
                    let rank = match b {
                        Some(b)
                            if b.kind == ChainType::Filter
                                && matches!(b.hook, Hook::Input | Hook::Forward | Hook::Output) =>
                        {
                            1 + u8::from(b.priority.value == 0)
                        }
                        _ => 0,
                    };
                    if rank >= deciding_rank {
                        deciding = Some(step);
                        deciding_rank = rank;
                    }
                }
                _ => {}
            }
        }
        if verdict == KernelVerdict::Unseen {
            deciding = None;
        }
        Ok(Observation {
            verdict,
            steps,
            deciding,
            conntrack: self.ct_active && after_conntrack,
            delivered,
            hooks,
            ttl_exceeded: false,
        })
    }
}

/// Whether a trace event shows `probe`'s header (addresses, protocol and
/// ports as sent, i.e. before any NAT).
fn is_ours(ev: &TraceEvent, probe: &Probe) -> bool {
    if ev.table != ORACLE_TABLE {
        return false;
    }
    let Some(h) = ev.network_header.as_deref() else {
        return false;
    };
    if ev.addresses() != Some((probe.src, probe.dst)) {
        return false;
    }
    let proto = match h.first().map(|b| b >> 4) {
        Some(4) => h.get(9).copied(),
        // The first next-header; probes carry no extension headers.
        Some(6) => h.get(6).copied(),
        _ => None,
    };
    if proto != Some(probe.protocol()) {
        return false;
    }
    match probe.ports() {
        Some(p) => ev.ports() == Some(p),
        None => true,
    }
}
