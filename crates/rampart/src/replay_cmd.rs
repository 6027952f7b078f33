//! `rampart replay --policy FILE CAPTURE`: yesterday's traffic under a
//! policy before it is deployed. Every packet of a pcap/pcapng capture is
//! decoded (`rampart-capture`), given the conntrack state the kernel would
//! give it (the capture's own flow tracker: NEW, ESTABLISHED after a
//! reply, RELATED ICMP errors, INVALID), and classified by the compiled
//! classifier of `rampart-eval` in one session (so rate limits, recent
//! lists and `-j SET` keep their state across packets, at the packets' own
//! time stamps). A flow whose first packet the policy does not accept is
//! forgotten, as conntrack does: what followed it in the capture is then
//! judged without it.
//!
//! Report: packets per verdict and conntrack state, hits per rule with its
//! file:line (the rule or chain policy that decided each packet), what
//! would be dropped with the top sources and destination ports, and the
//! rate. Exit status: 0 nothing would be dropped, 1 some packets would be
//! dropped or rejected, 2 bad input.

use crate::cli::InputOpts;
use anyhow::{bail, Context as _, Result};
use rampart_capture::{decode, CtState as Ct, Fragment, Reader, Timeouts, Tracker};
use rampart_eval::{
    Classifier, Context, CtState, Decider, LocalAddr, Packet, Session, Time, Tuple, Verdict,
};
use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: InputOpts,
    /// The policy to try.
    #[arg(long)]
    pub policy: PathBuf,
    /// The capture: pcap or pcapng (tcpdump -w, Wireshark), Ethernet,
    /// Linux cooked (`tcpdump -i any`) or raw IP.
    pub capture: PathBuf,
    /// An address of the host the capture was taken on, `ADDR[/LEN][%IFACE]`
    /// (repeat for each). Packets to it take the INPUT path, packets from it
    /// OUTPUT, others FORWARD. Default: the address found in most packets
    /// of the first 10,000 (per family), which is right for a capture
    /// taken on the host itself.
    #[arg(long = "local", value_name = "ADDR[/LEN][%IFACE]")]
    pub local: Vec<String>,
    /// The input interface of packets that arrive (default: the interface
    /// of the first --local that names one, else eth0).
    #[arg(long, value_name = "NAME")]
    pub iface: Option<String>,
    /// How many top sources and ports to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What decided a packet, as a report key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Rule {
        origin: Option<String>,
        line: u32,
        place: String,
    },
    Policy(String),
    Nothing,
}

#[derive(Debug, Default)]
struct Hits {
    packets: u64,
    bytes: u64,
    verdict: &'static str,
}

#[derive(Debug, Default)]
struct Report {
    packets: u64,
    bytes: u64,
    not_ip: u64,
    fragments: u64,
    verdicts: HashMap<&'static str, u64>,
    states: HashMap<&'static str, u64>,
    hits: HashMap<Key, Hits>,
    dropped: u64,
    dropped_src: HashMap<IpAddr, u64>,
    dropped_port: HashMap<(u8, u16), u64>,
}

fn ct_of(s: Ct) -> Option<CtState> {
    match s {
        Ct::New => Some(CtState::New),
        Ct::Established => Some(CtState::Established),
        Ct::Related => Some(CtState::Related),
        Ct::Invalid => Some(CtState::Invalid),
        Ct::Untracked => Some(CtState::Untracked),
        Ct::Fragment => None,
    }
}

fn proto_name(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "icmpv6".into(),
        132 => "sctp".into(),
        n => format!("proto-{n}"),
    }
}

/// The most frequent address per family among the first packets, when it
/// appears in more than half of them.
fn guess_locals(path: &Path) -> Result<Vec<LocalAddr>> {
    let mut r = rampart_capture::open(path).with_context(|| path.display().to_string())?;
    let mut count: HashMap<IpAddr, u64> = HashMap::new();
    let (mut v4, mut v6) = (0u64, 0u64);
    let mut seen = 0;
    while seen < 10_000 {
        let Some(rec) = r
            .next_record()
            .with_context(|| format!("{}", path.display()))?
        else {
            break;
        };
        seen += 1;
        if let Ok(p) = decode(&rec) {
            if p.src.is_ipv4() {
                v4 += 1;
            } else {
                v6 += 1;
            }
            *count.entry(p.src).or_default() += 1;
            if p.dst != p.src {
                *count.entry(p.dst).or_default() += 1;
            }
        }
    }
    let mut out = Vec::new();
    for (is4, total) in [(true, v4), (false, v6)] {
        let best = count
            .iter()
            .filter(|(a, _)| a.is_ipv4() == is4)
            .max_by_key(|(a, n)| (**n, std::cmp::Reverse(**a)));
        if let Some((a, n)) = best {
            if *n * 2 > total {
                out.push(LocalAddr::new(*a));
            }
        }
    }
    Ok(out)
}

pub fn run(args: &Args) -> Result<u8> {
    let loaded = crate::input::load(&args.policy, &args.input)?;
    if !loaded.diagnostics.is_empty() {
        eprint!("{}", loaded.diagnostics);
    }
    if loaded.diagnostics.has_errors() {
        return Ok(2);
    }
    let mut locals = Vec::new();
    for l in &args.local {
        locals.push(LocalAddr::parse(l).map_err(|e| anyhow::anyhow!("--local: {e}"))?);
    }
    let guessed = locals.is_empty();
    if guessed {
        locals = guess_locals(&args.capture)?;
        if locals.is_empty() {
            bail!(
                "{}: cannot tell which address is the host's (none is in most packets); give --local ADDR",
                args.capture.display()
            );
        }
    }
    let iface = args
        .iface
        .clone()
        .or_else(|| locals.iter().find_map(|l| l.iface.clone()))
        .unwrap_or_else(|| "eth0".into());
    let ctx = Context::new(locals.clone());
    let classifier = Classifier::new(&loaded.policy);
    let mut session = Session::with_classifier(&classifier, ctx.clone());
    let mut tracker = Tracker::new(Timeouts::default());
    let mut reader: Reader<_> =
        rampart_capture::open(&args.capture).with_context(|| args.capture.display().to_string())?;
    let format = reader.format();
    let mut rep = Report::default();
    let start = std::time::Instant::now();
    loop {
        let rec = match reader.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => bail!("{}: {e}", args.capture.display()),
        };
        rep.packets += 1;
        rep.bytes += u64::from(rec.orig_len);
        let Ok(info) = decode(&rec) else {
            rep.not_ip += 1;
            continue;
        };
        let now = rec.ts_nanos;
        let tracked = tracker.track(&info, now);
        let Some(ct) = ct_of(tracked.state) else {
            // A later fragment: the kernel reassembles it with the first.
            rep.fragments += 1;
            continue;
        };
        *rep.states.entry(tracked.state.name()).or_default() += 1;
        let mut pkt = Packet::new(info.proto, info.src, info.dst);
        (pkt.sport, pkt.dport) = info.ports.unwrap_or((0, 0));
        pkt.tcp_flags = info.tcp_flags.unwrap_or(0);
        (pkt.icmp_type, pkt.icmp_code) = info.icmp.unwrap_or((0, 0));
        pkt.ttl = info.ttl;
        pkt.length = u16::try_from(info.ip_len).unwrap_or(u16::MAX);
        pkt.fragment = info.fragment == Fragment::Later;
        pkt.in_iface = (!ctx.is_local(info.src)).then(|| iface.clone());
        pkt.ct_state = Some(ct);
        pkt.inner = info.quoted.as_deref().map(|q| Tuple {
            protocol: q.proto,
            src: q.src,
            sport: q.ports.map_or(q.icmp_id.unwrap_or(0), |p| p.0),
            dst: q.dst,
            dport: q.ports.map_or(0, |p| p.1),
        });
        let out = session.packet_verdict(Time(now), &pkt);
        let verdict = out.verdict.name();
        *rep.verdicts.entry(verdict).or_default() += 1;
        if out.verdict != Verdict::Accept {
            if let Some(k) = tracked.created {
                tracker.unconfirm(k);
            }
        }
        let key = match &out.decided_by {
            Decider::Rule(r) => Key::Rule {
                origin: r.origin.as_ref().map(|o| o.file.clone()),
                line: r.origin.as_ref().map_or(0, |o| o.line),
                place: format!(
                    "{} {} {} rule {}",
                    if r.family == rampart_model::Family::Ipv4 {
                        "ip"
                    } else {
                        "ip6"
                    },
                    r.table.name(),
                    r.chain,
                    r.index
                ),
            },
            d @ (Decider::Policy { .. } | Decider::Kernel { .. }) => Key::Policy(d.to_string()),
            Decider::Nothing => Key::Nothing,
        };
        let h = rep.hits.entry(key).or_default();
        h.packets += 1;
        h.bytes += u64::from(rec.orig_len);
        h.verdict = verdict;
        if matches!(out.verdict, Verdict::Drop | Verdict::Reject { .. }) {
            rep.dropped += 1;
            *rep.dropped_src.entry(info.src).or_default() += 1;
            *rep.dropped_port.entry((info.proto, pkt.dport)).or_default() += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    print_report(args, &rep, &locals, guessed, format, secs)?;
    Ok(if rep.dropped > 0 { 1 } else { 0 })
}

fn top<K: Clone + Ord>(m: &HashMap<K, u64>, n: usize) -> Vec<(K, u64)> {
    let mut v: Vec<(K, u64)> = m.iter().map(|(k, c)| (k.clone(), *c)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

fn print_report(
    args: &Args,
    rep: &Report,
    locals: &[LocalAddr],
    guessed: bool,
    format: rampart_capture::Format,
    secs: f64,
) -> Result<()> {
    let mut hits: Vec<(&Key, &Hits)> = rep.hits.iter().collect();
    hits.sort_by(|a, b| {
        b.1.packets
            .cmp(&a.1.packets)
            .then_with(|| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)))
    });
    let hosts: Vec<String> = locals.iter().map(|l| l.addr.to_string()).collect();
    let pps = rep.packets as f64 / secs;
    let srcs = top(&rep.dropped_src, args.top);
    let ports = top(&rep.dropped_port, args.top);
    let out = std::io::stdout();
    let mut out = out.lock();
    if args.json {
        let hit_json: Vec<serde_json::Value> = hits
            .iter()
            .map(|(k, h)| {
                let (rule, file, line) = match k {
                    Key::Rule {
                        origin,
                        line,
                        place,
                    } => (place.clone(), origin.clone(), Some(*line)),
                    Key::Policy(p) => (p.clone(), None, None),
                    Key::Nothing => ("no chain".into(), None, None),
                };
                serde_json::json!({"rule": rule, "file": file, "line": line,
                    "verdict": h.verdict, "packets": h.packets, "bytes": h.bytes})
            })
            .collect();
        let v = serde_json::json!({
            "capture": args.capture.display().to_string(),
            "format": format!("{format:?}").to_lowercase(),
            "policy": args.policy.display().to_string(),
            "host_addresses": hosts,
            "host_addresses_guessed": guessed,
            "packets": rep.packets,
            "bytes": rep.bytes,
            "not_ip": rep.not_ip,
            "fragments": rep.fragments,
            "verdicts": rep.verdicts,
            "conntrack": rep.states,
            "hits": hit_json,
            "dropped": rep.dropped,
            "top_dropped_sources": srcs.iter().map(|(a, n)| serde_json::json!({"source": a.to_string(), "packets": n})).collect::<Vec<_>>(),
            "top_dropped_ports": ports.iter().map(|((p, port), n)| serde_json::json!({"protocol": proto_name(*p), "port": port, "packets": n})).collect::<Vec<_>>(),
            "seconds": secs,
            "packets_per_second": pps,
        });
        serde_json::to_writer_pretty(&mut out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{}: {} packets ({:?}, {} bytes) under {}",
        args.capture.display(),
        rep.packets,
        format,
        rep.bytes,
        args.policy.display()
    )?;
    writeln!(
        out,
        "host addresses: {}{}",
        hosts.join(", "),
        if guessed {
            " (the addresses in most packets; set them with --local)"
        } else {
            ""
        }
    )?;
    let mut v: Vec<(&&str, &u64)> = rep.verdicts.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let line: Vec<String> = v.iter().map(|(k, n)| format!("{k} {n}")).collect();
    writeln!(
        out,
        "verdicts: {}; not IP: {}; later fragments: {}",
        line.join(", "),
        rep.not_ip,
        rep.fragments
    )?;
    let mut s: Vec<(&&str, &u64)> = rep.states.iter().collect();
    s.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let line: Vec<String> = s.iter().map(|(k, n)| format!("{k} {n}")).collect();
    writeln!(out, "conntrack: {}", line.join(", "))?;
    writeln!(out, "\nhits per rule (the rule or policy that decided):")?;
    for (k, h) in &hits {
        let what = match k {
            Key::Rule {
                origin,
                line,
                place,
            } => match origin {
                Some(f) => format!("{f}:{line} ({place})"),
                None => format!("({place})"),
            },
            Key::Policy(p) => p.clone(),
            Key::Nothing => "no chain of the policy".into(),
        };
        writeln!(out, "  {:>10}  {:<7} {what}", h.packets, h.verdict)?;
    }
    writeln!(
        out,
        "\nwould be dropped or rejected: {} packet(s) ({:.2}%)",
        rep.dropped,
        100.0 * rep.dropped as f64 / (rep.packets.max(1)) as f64
    )?;
    if !srcs.is_empty() {
        writeln!(out, "top dropped sources:")?;
        for (a, n) in &srcs {
            writeln!(out, "  {n:>10}  {a}")?;
        }
        writeln!(out, "top dropped destination ports:")?;
        for ((p, port), n) in &ports {
            if matches!(*p, 6 | 17 | 132) {
                writeln!(out, "  {n:>10}  {}/{port}", proto_name(*p))?;
            } else {
                writeln!(out, "  {n:>10}  {}", proto_name(*p))?;
            }
        }
    }
    writeln!(
        out,
        "\n{:.3} s, {:.0} packets/s, {:.1} MB/s",
        secs,
        pps,
        rep.bytes as f64 / secs / 1e6
    )?;
    Ok(())
}
