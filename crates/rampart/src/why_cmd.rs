//! `rampart why`: what the policy does with one packet, rule by rule, with
//! the source line of each rule (the `rampart-eval` reference interpreter).

use crate::cli::{InputOpts, StateOpts};
use anyhow::{bail, Context as _, Result};
use rampart_eval::{Context, LocalAddr, Packet, Route, Time};
use rampart_model::{IpNet, Policy};
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// `rampart why` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  rampart why --policy web.toml tcp 203.0.113.5:51515 -> 10.0.0.1:22 --in eth0 --local 10.0.0.1
  rampart why --policy router.v4 udp 203.0.113.5:4000 -> 198.51.100.1:51820 --in ppp0 \\
      --local 198.51.100.1/24%ppp0,192.168.1.1/24%br-lan
  rampart why icmp 2001:db8::5 -> 2001:db8::1 --icmp-type echo-request   (the applied policy)

Exit status: 0 accepted, 1 dropped, rejected, queued or unknown, 2 bad input.")]
pub struct Args {
    /// The policy file, or `live` for the policy rampart applied (the
    /// state store's current entry; the default).
    #[arg(long, value_name = "FILE|live")]
    pub policy: Option<String>,
    #[command(flatten)]
    pub input: InputOpts,
    #[command(flatten)]
    pub state: StateOpts,
    /// The packet: `PROTO SRC[:PORT] -> DST[:PORT]` (IPv6 with a port as
    /// `[ADDR]:PORT`; ICMP and other protocols without ports take `ADDR ->
    /// ADDR`), optionally followed by `key=value` fields (flags=SYN,ACK,
    /// len=, mark=, ttl=, tos=, ctmark=, mac=, frag, inner=).
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true, value_name = "PACKET")]
    pub packet: Vec<String>,
    /// Input interface (default: none given — rules on `-i` then say
    /// "unknown").
    #[arg(long = "in", value_name = "IFACE")]
    pub in_iface: Option<String>,
    /// Output interface of a forwarded or outgoing packet (default: from
    /// the routes).
    #[arg(long = "out", value_name = "IFACE")]
    pub out_iface: Option<String>,
    /// The host's own addresses, `ADDR[/PREFIX][%IFACE]`, comma separated
    /// (default: this host's, with its routes, from `ip addr`/`ip route`).
    #[arg(long, value_name = "ADDR,...", value_delimiter = ',')]
    pub local: Vec<String>,
    /// Conntrack state of the packet (default: NEW, the first packet of a
    /// connection).
    #[arg(
        long = "state",
        value_name = "new|established|related|invalid|untracked"
    )]
    pub ct_state: Option<String>,
    /// ICMP type: a name (echo-request, port-unreachable, ...) or TYPE[/CODE].
    #[arg(long, value_name = "TYPE")]
    pub icmp_type: Option<String>,
    /// Print the outcome (verdict, deciding rule, NAT, trace) as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `rampart why`.
pub fn run(args: &Args, out: &mut impl Write) -> Result<ExitCode> {
    let (words, extra) = split_flags(&args.packet)?;
    let mut text = words.join(" ");
    let in_iface = extra.in_iface.as_ref().or(args.in_iface.as_ref());
    let out_iface = extra.out_iface.as_ref().or(args.out_iface.as_ref());
    let state = extra.state.as_ref().or(args.ct_state.as_ref());
    let icmp = extra.icmp_type.as_ref().or(args.icmp_type.as_ref());
    for (k, v) in [
        ("in", in_iface),
        ("out", out_iface),
        ("state", state),
        ("icmp-type", icmp),
    ] {
        if let Some(v) = v {
            text.push_str(&format!(" {k}={v}"));
        }
    }
    let pkt = match Packet::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rampart: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut local_args = args.local.clone();
    local_args.extend(extra.local.iter().cloned());
    let mut ctx = if local_args.is_empty() {
        host_context()
    } else {
        let mut local = Vec::new();
        for l in &local_args {
            match LocalAddr::parse(l.trim()) {
                Ok(a) => local.push(a),
                Err(e) => {
                    eprintln!("rampart: --local: {e}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
        Context::new(local)
    };
    ctx.now = Time(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
    );
    let json = args.json || extra.json;
    let policy_arg = extra.policy.as_ref().or(args.policy.as_ref());
    let policy = match policy_arg.map(String::as_str) {
        None | Some("live") => match live_policy(&args.state)? {
            Some(p) => p,
            None => return Ok(ExitCode::from(2)),
        },
        Some(path) => {
            let loaded = crate::input::load(&PathBuf::from(path), &args.input)?;
            crate::print_diags(&loaded.diagnostics);
            if loaded.diagnostics.has_errors() {
                return Ok(ExitCode::from(2));
            }
            loaded.policy
        }
    };
    if !policy.families().contains(&pkt.family()) {
        eprintln!(
            "rampart: note: the policy has no {} tables; nothing filters this packet",
            pkt.family().tool()
        );
    }
    let outcome = rampart_eval::evaluate(&policy, &ctx, &pkt);
    if json {
        serde_json::to_writer_pretty(&mut *out, &outcome)?;
        writeln!(out)?;
    } else {
        if local_args.is_empty() && ctx.local.is_empty() {
            writeln!(
                out,
                "note: this host's addresses are not known (no `ip`); give --local ADDR,..."
            )?;
        }
        out.write_all(outcome.render().as_bytes())?;
    }
    Ok(ExitCode::from(if outcome.accepted() { 0 } else { 1 }))
}

/// Options written after the packet words (clap hands them over as part
/// of the packet, which takes values starting with `-` such as `->`).
#[derive(Debug, Default)]
struct Extra {
    in_iface: Option<String>,
    out_iface: Option<String>,
    state: Option<String>,
    icmp_type: Option<String>,
    local: Vec<String>,
    policy: Option<String>,
    json: bool,
}

fn split_flags(words: &[String]) -> Result<(Vec<String>, Extra)> {
    let mut out = Vec::new();
    let mut extra = Extra::default();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let (name, inline) = match w.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (w.as_str(), None),
        };
        let mut value = |flag: &str| -> Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .with_context(|| format!("{flag} needs a value")),
            }
        };
        match name {
            "--in" => extra.in_iface = Some(value("--in")?),
            "--out" => extra.out_iface = Some(value("--out")?),
            "--state" => extra.state = Some(value("--state")?),
            "--icmp-type" => extra.icmp_type = Some(value("--icmp-type")?),
            "--local" => extra
                .local
                .extend(value("--local")?.split(',').map(str::to_string)),
            "--policy" => extra.policy = Some(value("--policy")?),
            "--json" => extra.json = true,
            n if n.starts_with("--") => bail!("unknown option `{n}` after the packet"),
            _ => out.push(w.clone()),
        }
    }
    Ok((out, extra))
}

/// The policy in the state store's current entry.
fn live_policy(state: &StateOpts) -> Result<Option<Policy>> {
    let dir = crate::state::dir_of(state.state_dir.as_deref());
    if !dir.join("current").exists() {
        eprintln!(
            "rampart: no policy applied by rampart (nothing in {}); give --policy FILE",
            dir.display()
        );
        return Ok(None);
    }
    let store = crate::state::Store::open(&dir)?;
    match store.current()? {
        Some(e) => Ok(Some(e.policy)),
        None => {
            eprintln!("rampart: no current policy in {}", dir.display());
            Ok(None)
        }
    }
}

/// This host's addresses and routes from `ip -o addr` and `ip -o route`
/// (empty when `ip` is missing).
fn host_context() -> Context {
    let mut ctx = Context::default();
    if let Some(text) = ip(&["-o", "addr", "show"]) {
        ctx.local = parse_ip_addr(&text);
    }
    for fam in ["-4", "-6"] {
        if let Some(text) = ip(&[fam, "-o", "route", "show"]) {
            ctx.routes.extend(parse_ip_route(&text, fam == "-6"));
        }
    }
    ctx
}

fn ip(args: &[&str]) -> Option<String> {
    let out = Command::new("ip").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `2: eth0    inet 10.0.0.5/24 brd ... scope global eth0\ ...`
fn parse_ip_addr(text: &str) -> Vec<LocalAddr> {
    let mut v = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(dev), Some(kind), Some(cidr)) = (f.get(1), f.get(2), f.get(3)) else {
            continue;
        };
        if *kind != "inet" && *kind != "inet6" {
            continue;
        }
        let dev = dev.split('@').next().unwrap_or(dev);
        if let Ok(mut a) = LocalAddr::parse(&format!("{cidr}%{dev}")) {
            a.iface = Some(dev.to_string());
            v.push(a);
        }
    }
    v
}

/// `default via 10.0.0.1 dev eth0 ...` / `10.0.0.0/24 dev eth0 proto kernel ...`
fn parse_ip_route(text: &str, v6: bool) -> Vec<Route> {
    let mut v = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = f.first() else { continue };
        let Some(dev) = f
            .iter()
            .position(|w| *w == "dev")
            .and_then(|i| f.get(i + 1))
        else {
            continue;
        };
        let net = match *first {
            "default" => IpNet::new(
                if v6 {
                    IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
                } else {
                    IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
                },
                0,
            ),
            s => {
                let (a, p) = s
                    .split_once('/')
                    .unwrap_or((s, if v6 { "128" } else { "32" }));
                a.parse().ok().and_then(|a| IpNet::new(a, p.parse().ok()?))
            }
        };
        if let Some(net) = net {
            v.push(Route {
                net,
                dev: dev.to_string(),
            });
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ip_output() {
        let a = parse_ip_addr(
            "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n\
             2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\\ x\n\
             3: veth1@if2    inet6 2001:db8::5/64 scope global\\ x\n",
        );
        assert_eq!(a.len(), 3);
        assert_eq!(a[1].iface.as_deref(), Some("eth0"));
        assert_eq!(a[2].iface.as_deref(), Some("veth1"));
        let r = parse_ip_route(
            "default via 10.0.0.1 dev eth0 proto dhcp\n10.0.0.0/24 dev eth0 proto kernel\n",
            false,
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].net.prefix_len(), Some(0));
    }

    #[test]
    fn options_after_the_packet() {
        let w: Vec<String> = "tcp 1.2.3.4:5 -> 5.6.7.8:22 --in eth0 --local=5.6.7.8,::1 --json"
            .split(' ')
            .map(str::to_string)
            .collect();
        let (words, extra) = split_flags(&w).unwrap();
        assert_eq!(words.join(" "), "tcp 1.2.3.4:5 -> 5.6.7.8:22");
        assert_eq!(extra.in_iface.as_deref(), Some("eth0"));
        assert_eq!(extra.local, vec!["5.6.7.8", "::1"]);
        assert!(extra.json);
        assert!(split_flags(&["--in".to_string()]).is_err());
    }
}
