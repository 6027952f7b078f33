//! The lock-out guard: before `apply`, follow the admin's own SSH
//! connection through the new policy and refuse a policy that would cut it.
//!
//! Three packets are evaluated with rampart-eval (the evaluator of `rampart
//! why`: netfilter's traversal of every table, NAT, sets, user chains):
//!
//! 1. the session's next packet, client → server, conntrack ESTABLISHED;
//! 2. the server's reply, server → client, ESTABLISHED (OUTPUT and
//!    POSTROUTING);
//! 3. a NEW connection (a SYN) from the same client to the SSH port, so that
//!    the admin can log in again.
//!
//! What the guard does not know is tried every way it can go, and a packet
//! is safe only when every way accepts it:
//!
//! * the interface the admin arrives on (only "loopback or not" is known):
//!   each interface the policy's rules name, and one they do not name;
//! * the rate state: each packet first alone (limits at their burst, recent
//!   lists empty), then after a flood of [`FLOOD`] packets of its kind from
//!   the same client within one second (limits spent, recent lists and
//!   connection counts full).
//!
//! A rule the evaluator cannot decide (payload, a socket owner, ...), or a
//! `-m time` rule on the way (the evaluation is at one instant, the policy
//! stays), makes the way "unknown", naming the rule.

use rampart_eval::{
    Context, CtState, Decider, Event, LocalAddr, Outcome as EvalOutcome, Packet as EvalPacket,
    Session, Time, Verdict,
};
use rampart_model::{Family, Policy, TableKind};
use std::net::IpAddr;

/// Packets of one kind sent before the one checked, in the flood scenario.
pub const FLOOD: usize = 100;

/// How one way through the policy ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Accept,
    Drop,
    /// The evaluator cannot say (a match on something a packet description
    /// does not carry, a userspace queue).
    Unknown(String),
}

/// One way the packet can go through the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub end: End,
    /// The deciding rule or chain policy: `file:line:col (filter INPUT
    /// rule 3)`, or a description when no rule decided.
    pub at: String,
    /// The circumstances that lead this way (interface, rate state); empty
    /// when every circumstance does.
    pub assumed: Vec<String>,
}

/// One packet followed through the policy.
#[derive(Debug, Clone)]
pub struct Check {
    pub what: String,
    pub paths: Vec<Path>,
}

/// What the guard found for the three packets.
#[derive(Debug, Clone)]
pub struct Report {
    pub conn: SshConn,
    pub checks: Vec<Check>,
}

/// Overall outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every way through accepts the packet.
    Kept,
    /// Every way through drops it.
    Cut,
    /// Some ways drop it, or the evaluator cannot tell.
    Unsure,
}

impl Check {
    pub fn outcome(&self) -> Outcome {
        if self.paths.iter().all(|p| p.end == End::Accept) {
            Outcome::Kept
        } else if self.paths.iter().all(|p| p.end == End::Drop) {
            Outcome::Cut
        } else {
            Outcome::Unsure
        }
    }
}

impl Report {
    /// True when every check keeps the connection.
    pub fn is_safe(&self) -> bool {
        self.checks.iter().all(|c| c.outcome() == Outcome::Kept)
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "lock-out guard: your SSH connection {}", self.conn)?;
        for c in &self.checks {
            let (tag, say) = match c.outcome() {
                Outcome::Kept => ("ok", "accepted"),
                Outcome::Cut => ("LOCKED OUT", "dropped"),
                Outcome::Unsure => ("UNSURE", "not provably accepted"),
            };
            writeln!(f, "  [{tag}] {}: {say}", c.what)?;
            if c.outcome() == Outcome::Kept {
                if let Some(p) = c.paths.first() {
                    writeln!(f, "      by {}", p.at)?;
                }
                continue;
            }
            for p in c.paths.iter().filter(|p| p.end != End::Accept).take(5) {
                let how = match &p.end {
                    End::Drop => "dropped".to_string(),
                    End::Unknown(why) => format!("unknown ({why})"),
                    End::Accept => "accepted".to_string(),
                };
                writeln!(f, "      {how} by {}", p.at)?;
                for a in &p.assumed {
                    writeln!(f, "        assuming {a}")?;
                }
            }
        }
        Ok(())
    }
}

/// Which packet of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// client → server, ESTABLISHED
    Arriving,
    /// server → client, ESTABLISHED
    Leaving,
    /// a new connection from the client to the SSH port
    New,
}

/// Follows the admin's connection through `policy`.
pub fn check(policy: &Policy, conn: SshConn) -> Report {
    let ifaces = interfaces(policy, conn);
    let what = [
        (
            Kind::Arriving,
            "packets of this session arriving (ESTABLISHED, INPUT)".to_string(),
        ),
        (
            Kind::Leaving,
            "replies of this session leaving (ESTABLISHED, OUTPUT)".to_string(),
        ),
        (
            Kind::New,
            format!(
                "a new SSH connection from {} to port {} (NEW, INPUT)",
                conn.client, conn.server_port
            ),
        ),
    ];
    let checks = what
        .into_iter()
        .map(|(kind, what)| {
            // Every interface, alone and after a flood.
            let ways: Vec<[Path; 2]> = ifaces
                .iter()
                .map(|(iface, _)| {
                    [false, true].map(|flood| follow(policy, conn, kind, iface, flood))
                })
                .collect();
            Check {
                what,
                paths: merge(&ways, &ifaces, conn, kind),
            }
        })
        .collect();
    Report { conn, checks }
}

/// The interfaces the admin may arrive on, each with what assuming it
/// means: `lo` for a loopback connection; else each interface name the
/// policy's rules match (a wildcard by one name it covers) and one name no
/// rule names.
fn interfaces(policy: &Policy, conn: SshConn) -> Vec<(String, Option<String>)> {
    if conn.loopback() {
        return vec![("lo".to_string(), None)];
    }
    let mut patterns: Vec<String> = Vec::new();
    for t in policy.tables.iter().filter(|t| t.family == conn.family()) {
        for c in &t.chains {
            for r in &c.rules {
                for i in [&r.in_iface, &r.out_iface].into_iter().flatten() {
                    if !i.value.matches_all() && !patterns.contains(&i.value.0) {
                        patterns.push(i.value.0.clone());
                    }
                }
            }
        }
    }
    let mut names: Vec<String> = Vec::new();
    for p in &patterns {
        let n = match p.strip_suffix('+') {
            Some(prefix) => format!("{prefix}0"),
            None => p.clone(),
        };
        if n != "lo" && !names.contains(&n) {
            names.push(n);
        }
    }
    let named = |n: &str| {
        patterns
            .iter()
            .any(|p| rampart_model::Iface(p.clone()).matches(n))
    };
    let other = ["rampart0", "rampart-x0", "unnamed-9z"]
        .into_iter()
        .find(|n| !named(n))
        .unwrap_or("rampart0");
    let mut out: Vec<(String, Option<String>)> = names
        .iter()
        .map(|n| (n.clone(), Some(format!("the session uses interface {n}"))))
        .collect();
    let note = if patterns.is_empty() {
        None
    } else {
        let list: Vec<String> = patterns
            .iter()
            .filter(|p| p.as_str() != "lo")
            .map(|p| format!("input interface {p}"))
            .collect();
        Some(format!(
            "the session uses an interface the policy does not name (not {})",
            if list.is_empty() {
                "lo".to_string()
            } else {
                list.join(", ")
            }
        ))
    };
    out.push((other.to_string(), note));
    out
}

/// One packet of the connection, as rampart-eval takes it.
fn packet(conn: SshConn, kind: Kind, iface: &str, sport: u16) -> EvalPacket {
    use rampart_model::matches::tcp::flags;
    let mut p = match kind {
        Kind::Leaving => EvalPacket::tcp(conn.server, conn.server_port, conn.client, sport),
        _ => EvalPacket::tcp(conn.client, sport, conn.server, conn.server_port),
    };
    match kind {
        Kind::Arriving => {
            p.in_iface = Some(iface.to_string());
            p.tcp_flags = flags::ACK;
            p.ct_state = Some(CtState::Established);
        }
        Kind::Leaving => {
            p.out_iface = Some(iface.to_string());
            p.tcp_flags = flags::ACK;
            p.ct_state = Some(CtState::Established);
        }
        Kind::New => {
            p.in_iface = Some(iface.to_string());
            p.tcp_flags = flags::SYN;
        }
    }
    p
}

/// Evaluates one packet arriving on (or leaving by) `iface`, alone or
/// after a flood.
fn follow(policy: &Policy, conn: SshConn, kind: Kind, iface: &str, flood: bool) -> Path {
    let mut local = vec![LocalAddr::new(conn.server)];
    if conn.client.is_loopback() && conn.client != conn.server {
        local.push(LocalAddr::new(conn.client));
    }
    let now = Time::from_secs(1_700_000_000);
    let ctx = Context {
        local,
        now,
        ..Context::default()
    };
    let mut session = Session::new(policy, ctx);
    if flood {
        for i in 0..FLOOD {
            // New connections come from other source ports; the session's
            // own packets from its port.
            let sport = match kind {
                Kind::New => {
                    let p = 1024 + (i % 60_000) as u16;
                    if p == conn.client_port {
                        p + 1
                    } else {
                        p
                    }
                }
                _ => conn.client_port,
            };
            session.packet_verdict(now, &packet(conn, kind, iface, sport));
        }
    }
    let out = session.packet(now, &packet(conn, kind, iface, conn.client_port));
    if let Some(at) = time_rule(policy, &out) {
        return Path {
            end: End::Unknown("it matches by the time of day (-m time)".into()),
            at,
            assumed: Vec::new(),
        };
    }
    path_of(policy, &out, flood)
}

/// The first rule on the packet's way that matches by the time of day:
/// the evaluation is at one instant, the policy applies at every one.
fn time_rule(policy: &Policy, o: &EvalOutcome) -> Option<String> {
    o.trace.iter().find_map(|st| {
        let Event::Rule { index, origin, .. } = &st.event else {
            return None;
        };
        let rule = policy
            .table(st.family, st.table)?
            .chain(&st.chain)?
            .rules
            .get(index.checked_sub(1)?)?;
        rule.matches.iter().any(|m| m.name() == "time").then(|| {
            let what = format!("{} {} rule {}", st.table.name(), st.chain, index);
            match origin {
                Some(o) => format!("{o} ({what})"),
                None => what,
            }
        })
    })
}

fn path_of(policy: &Policy, o: &EvalOutcome, flood: bool) -> Path {
    let end = match &o.verdict {
        Verdict::Accept => End::Accept,
        Verdict::Drop | Verdict::Reject { .. } => End::Drop,
        Verdict::Queue { num } => End::Unknown(format!("handed to userspace queue {num}")),
        Verdict::Unknown { reason } => End::Unknown(reason.clone()),
    };
    let at = match &o.decided_by {
        Decider::Rule(r) => {
            let what = format!("{} {} rule {}", r.table.name(), r.chain, r.index);
            let stateful = stateful_matches(policy, r.family, r.table, &r.chain, r.index);
            let mut at = match &r.origin {
                Some(origin) => format!("{origin} ({what})"),
                None => what,
            };
            if !stateful.is_empty() && !flood {
                at.push_str(&format!(" (with {})", stateful.join(", ")));
            }
            at
        }
        Decider::Policy {
            table,
            chain,
            policy,
            ..
        } => format!("the policy {} of {} {}", policy.name(), table.name(), chain),
        Decider::Nothing => "no rule of the policy stops it".to_string(),
        Decider::Kernel { reason } => format!("the kernel ({reason})"),
    };
    Path {
        end,
        at,
        assumed: Vec::new(),
    }
}

/// The stateful matches (`-m limit`, `-m hashlimit`, ...) of a rule.
fn stateful_matches(
    policy: &Policy,
    family: Family,
    table: TableKind,
    chain: &str,
    index: usize,
) -> Vec<String> {
    let Some(rule) = policy
        .table(family, table)
        .and_then(|t| t.chain(chain))
        .and_then(|c| c.rules.get(index.wrapping_sub(1)))
    else {
        return Vec::new();
    };
    rule.matches
        .iter()
        .map(|m| m.name())
        .filter(|n| {
            matches!(
                *n,
                "limit" | "hashlimit" | "recent" | "connlimit" | "quota" | "statistic"
            )
        })
        .map(|n| format!("-m {n}"))
        .collect()
}

/// One path per distinct end, each with the circumstances that lead
/// there: the interface only when the others go elsewhere, the rate state
/// only when the other one goes elsewhere; none when every way leads
/// there.
fn merge(
    ways: &[[Path; 2]],
    ifaces: &[(String, Option<String>)],
    conn: SshConn,
    kind: Kind,
) -> Vec<Path> {
    let mut out: Vec<Path> = Vec::new();
    for w in ways {
        for p in w {
            if !out.iter().any(|q| q.end == p.end && q.at == p.at) {
                out.push(p.clone());
            }
        }
    }
    let fresh_note = format!(
        "no earlier traffic from {} (rate limits at their burst, recent lists empty)",
        conn.client
    );
    let flood_note = |fresh: &Path| {
        format!(
            "{FLOOD} {} from {} within a second came first, so {} no longer decides",
            match kind {
                Kind::New => "new connections",
                _ => "packets of the session",
            },
            conn.client,
            fresh.at
        )
    };
    for p in &mut out {
        let here = |i: usize, f: usize| ways[i][f].end == p.end && ways[i][f].at == p.at;
        let mut assumed = Vec::new();
        for f in 0..2 {
            let ifs: Vec<usize> = (0..ways.len()).filter(|&i| here(i, f)).collect();
            if ifs.is_empty() {
                continue;
            }
            let every_iface = ifs.len() == ways.len();
            for &i in if every_iface { &ifs[..1] } else { &ifs[..] } {
                let both = here(i, 1 - f);
                if both && f == 1 {
                    continue;
                }
                let mut parts = Vec::new();
                if !every_iface {
                    parts.extend(ifaces[i].1.clone());
                }
                if !both {
                    parts.push(if f == 0 {
                        fresh_note.clone()
                    } else {
                        flood_note(&ways[i][0])
                    });
                }
                let a = parts.join("; ");
                if !a.is_empty() && !assumed.contains(&a) {
                    assumed.push(a);
                }
            }
        }
        p.assumed = assumed;
    }
    out
}

/// The admin's connection as `SSH_CONNECTION` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SshConn {
    pub client: IpAddr,
    pub client_port: u16,
    pub server: IpAddr,
    pub server_port: u16,
}

impl SshConn {
    /// Parses `CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT` (a `%zone`
    /// suffix is dropped; IPv4-mapped IPv6 addresses become IPv4).
    pub fn parse(s: &str) -> Option<SshConn> {
        let mut w = s.split_whitespace();
        let ip = |t: &str| -> Option<IpAddr> {
            let t = t.split('%').next()?;
            Some(t.parse::<IpAddr>().ok()?.to_canonical())
        };
        let conn = SshConn {
            client: ip(w.next()?)?,
            client_port: w.next()?.parse().ok()?,
            server: ip(w.next()?)?,
            server_port: w.next()?.parse().ok()?,
        };
        if w.next().is_some() || conn.client.is_ipv4() != conn.server.is_ipv4() {
            return None;
        }
        Some(conn)
    }

    fn family(&self) -> Family {
        if self.client.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    }

    fn loopback(&self) -> bool {
        self.client.is_loopback() || self.client == self.server
    }
}

impl std::fmt::Display for SshConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sa = |ip: IpAddr, port: u16| match ip {
            IpAddr::V4(a) => format!("{a}:{port}"),
            IpAddr::V6(a) => format!("[{a}]:{port}"),
        };
        write!(
            f,
            "{} -> {}",
            sa(self.client, self.client_port),
            sa(self.server, self.server_port)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_syntax::diag::SourceFile;
    use rampart_syntax::Format;

    fn policy(name: &str, text: &str) -> Policy {
        let f = SourceFile::new(name.to_string(), text.to_string());
        let parsed = Format::detect(name, text).parse(&f);
        assert!(!parsed.diagnostics.has_errors(), "{}", parsed.diagnostics);
        parsed.value
    }

    fn testdata(name: &str) -> Policy {
        let p = format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&p).expect("testdata");
        policy(&p, &text)
    }

    fn conn(s: &str) -> SshConn {
        SshConn::parse(s).expect("valid SSH_CONNECTION")
    }

    const C: &str = "198.51.100.7 53412 192.0.2.10 22";

    #[test]
    fn ssh_connection_parses() {
        let c = conn("2001:db8::7 40000 2001:db8::1%eth0 2222");
        assert_eq!(c.server_port, 2222);
        assert_eq!(c.family(), Family::Ipv6);
        let m = conn("::ffff:10.0.0.1 1 10.0.0.2 22");
        assert!(m.client.is_ipv4());
        assert!(SshConn::parse("10.0.0.1 1 10.0.0.2").is_none());
        assert!(SshConn::parse("10.0.0.1 1 ::1 22").is_none());
        assert!(SshConn::parse("x 1 10.0.0.2 22").is_none());
    }

    #[test]
    fn issue3_guard_accepts_a_policy_that_keeps_ssh() {
        let p = policy(
            "keep.v4",
            "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -i lo -j ACCEPT\n\
             -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
             -A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT\n\
             COMMIT\n",
        );
        let r = check(&p, conn(C));
        assert!(r.is_safe(), "{r}");
        let text = r.to_string();
        assert!(
            text.contains("by keep.v4:7:1 (filter INPUT rule 3)"),
            "{text}"
        );
    }

    #[test]
    fn issue3_guard_refuses_a_policy_that_drops_ssh_and_cites_the_rule() {
        let p = policy(
            "cut.v4",
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -p tcp -m multiport --dports 22,80 -j DROP\n\
             COMMIT\n",
        );
        let r = check(&p, conn(C));
        assert!(!r.is_safe());
        let o: Vec<Outcome> = r.checks.iter().map(Check::outcome).collect();
        assert_eq!(o, vec![Outcome::Cut, Outcome::Kept, Outcome::Cut], "{r}");
        let text = r.to_string();
        assert!(text.contains("LOCKED OUT"), "{text}");
        assert!(text.contains("dropped by cut.v4:5:"), "{text}");
        // Another port is not this rule's business.
        let r = check(&p, conn("198.51.100.7 53412 192.0.2.10 2222"));
        assert!(r.is_safe(), "{r}");
    }

    #[test]
    fn issue3_guard_new_ssh_dropped_by_policy_but_session_kept() {
        // Only established traffic is accepted: the session lives on, but
        // a new login is impossible.
        let p = policy(
            "est.v4",
            "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -m state --state ESTABLISHED -j ACCEPT\n\
             COMMIT\n",
        );
        let r = check(&p, conn(C));
        let o: Vec<Outcome> = r.checks.iter().map(Check::outcome).collect();
        assert_eq!(o, vec![Outcome::Kept, Outcome::Kept, Outcome::Cut], "{r}");
        assert!(r.to_string().contains("the policy DROP of filter INPUT"));
    }

    #[test]
    fn issue3_guard_follows_jumps_sets_and_returns() {
        let p = policy(
            "sets.sh",
            "ipset create admins hash:net\n\
             ipset add admins 198.51.100.0/24\n\
             iptables -P INPUT DROP\n\
             iptables -N SSH\n\
             iptables -A SSH -m set ! --match-set admins src -j RETURN\n\
             iptables -A SSH -j ACCEPT\n\
             iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n\
             iptables -A INPUT -p tcp --dport 22 -j SSH\n",
        );
        assert!(check(&p, conn(C)).is_safe());
        // An address outside the set returns from SSH and meets the policy.
        let r = check(&p, conn("203.0.113.9 40000 192.0.2.10 22"));
        assert_eq!(r.checks[2].outcome(), Outcome::Cut, "{r}");
    }

    #[test]
    fn issue3_guard_reports_uncertainty_instead_of_guessing() {
        // mail-server.v4 rate-limits NEW SSH with hashlimit: the new
        // connection may meet the DROP policy.
        let r = check(&testdata("mail-server.v4"), conn(C));
        assert_eq!(r.checks[0].outcome(), Outcome::Kept, "{r}");
        assert_eq!(r.checks[2].outcome(), Outcome::Unsure, "{r}");
        let text = r.to_string();
        assert!(text.contains("UNSURE"), "{text}");
        assert!(text.contains("-m hashlimit"), "{text}");
        assert!(text.contains("mail-server.v4:10:"), "{text}");
    }

    #[test]
    fn issue3_guard_on_interfaces() {
        let p = policy(
            "if.v4",
            "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -i lo -j ACCEPT\n\
             -A INPUT -i eth0 -p tcp --dport 22 -j ACCEPT\n\
             COMMIT\n",
        );
        // From outside: `-i lo` cannot match, `-i eth0` may.
        let r = check(&p, conn(C));
        assert_eq!(r.checks[2].outcome(), Outcome::Unsure, "{r}");
        assert!(r.to_string().contains("input interface eth0"));
        // Over loopback the first rule accepts.
        assert!(check(&p, conn("127.0.0.1 40000 127.0.0.1 22")).is_safe());
    }

    #[test]
    fn issue4_guard_follows_nat_and_floods_with_the_evaluator() {
        // A port forward of 22 sends new SSH connections elsewhere: the
        // evaluator follows the DNAT to FORWARD, whose policy drops them.
        let p = policy(
            "fwd.v4",
            "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
             -A PREROUTING -p tcp -m tcp --dport 22 -j DNAT --to-destination 10.9.9.9:22\n\
             COMMIT\n\
             *filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\n\
             -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n\
             COMMIT\n",
        );
        let r = check(&p, conn(C));
        let o: Vec<Outcome> = r.checks.iter().map(Check::outcome).collect();
        assert_eq!(o, vec![Outcome::Kept, Outcome::Kept, Outcome::Cut], "{r}");
        assert!(
            r.to_string().contains("the policy DROP of filter FORWARD"),
            "{r}"
        );
        // A recent-list ban after 3 new connections: the first login
        // passes, one after a flood does not; the report says which rule
        // stops deciding.
        let p = policy(
            "recent.v4",
            "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\n\
             -A INPUT -p tcp -m tcp --dport 22 -m recent --update --seconds 60 --hitcount 3 --name ssh -j DROP\n\
             -A INPUT -p tcp -m tcp --dport 22 -m recent --set --name ssh -j ACCEPT\n\
             COMMIT\n",
        );
        let r = check(&p, conn(C));
        assert_eq!(r.checks[2].outcome(), Outcome::Unsure, "{r}");
        let text = r.to_string();
        assert!(text.contains("dropped by recent.v4:6:1"), "{text}");
        assert!(
            text.contains("100 new connections from 198.51.100.7 within a second came first, so recent.v4:7:1 (filter INPUT rule 3) (with -m recent) no longer decides"),
            "{text}"
        );
    }

    #[test]
    fn issue4_guard_is_unsure_of_time_windows() {
        // SSH only in office hours: whether a new login passes depends on
        // when it comes, which the guard does not pretend to know.
        let p = policy(
            "time.v4",
            "*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\n\
             -A INPUT -p tcp -m tcp --dport 22 -m time --timestart 09:00:00 --timestop 17:00:00 -j ACCEPT\n\
             COMMIT\n",
        );
        let r = check(&p, conn(C));
        let o: Vec<Outcome> = r.checks.iter().map(Check::outcome).collect();
        assert_eq!(
            o,
            vec![Outcome::Kept, Outcome::Kept, Outcome::Unsure],
            "{r}"
        );
        let text = r.to_string();
        assert!(
            text.contains("unknown (it matches by the time of day (-m time)) by time.v4:6:1"),
            "{text}"
        );
    }

    #[test]
    fn issue3_guard_on_every_testdata_policy_does_not_panic() {
        for name in [
            "docker-host.v4",
            "mail-server.v4",
            "nat-router.v4",
            "web-server.v4",
            "ipv6-server.v6",
            "media-server.sh",
            "ipset-blocklist.sh",
        ] {
            let p = testdata(name);
            for c in [C, "2001:db8::7 40000 2001:db8::1 22"] {
                let r = check(&p, conn(c));
                assert_eq!(r.checks.len(), 3);
                assert!(r.checks.iter().all(|c| !c.paths.is_empty()), "{name}");
            }
        }
    }
}
