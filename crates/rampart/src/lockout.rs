//! The lock-out guard: before `apply`, follow the admin's own SSH
//! connection through the new policy and refuse a policy that would cut it.
//!
//! Three packets are followed through the chains of the policy model
//! (with iptables' semantics, on the model rather than on the nft text):
//!
//! 1. the session's next packet, client → server, conntrack ESTABLISHED,
//!    through PREROUTING (raw, mangle) and INPUT (mangle, filter, security);
//! 2. the server's reply, server → client, ESTABLISHED, through OUTPUT
//!    (raw, mangle, filter, security) and POSTROUTING (mangle);
//! 3. a NEW connection (a SYN) from the same client to the SSH port, so that
//!    the admin can log in again.
//!
//! This is not the full packet evaluator (a later issue). A match is
//! evaluated when it only depends on the packet and the policy: addresses,
//! protocol, ports (`tcp`, `multiport`), conntrack state, `iprange`, `set`
//! membership against the policy's static set elements, `comment`, and
//! `-i lo`. Anything else — other interfaces, rate limits, marks, time, a
//! set with a timeout — "may or may not match": the walk follows both
//! branches and the report names the rule. The interface the admin arrives
//! on is unknown (only "loopback or not" is), and NAT is assumed not to
//! apply to the session. A result is safe only when every branch accepts.

use rampart_model::matches::conntrack::CtStates;
use rampart_model::matches::multiport::MultiportDir;
use rampart_model::matches::set::SetDir;
use rampart_model::set::ElemPart;
use rampart_model::{
    ChainPolicy, Family, Iface, Match, Neg, Policy, PortRange, Protocol, Rule, Table, TableKind,
    Target,
};
use std::net::IpAddr;

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

/// Three-valued match result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Maybe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// client → server
    Original,
    /// server → client
    Reply,
}

/// One packet of the connection.
#[derive(Debug, Clone, Copy)]
struct Packet {
    conn: SshConn,
    dir: Dir,
    new: bool,
}

impl Packet {
    fn src(&self) -> (IpAddr, u16) {
        match self.dir {
            Dir::Original => (self.conn.client, self.conn.client_port),
            Dir::Reply => (self.conn.server, self.conn.server_port),
        }
    }
    fn dst(&self) -> (IpAddr, u16) {
        match self.dir {
            Dir::Original => (self.conn.server, self.conn.server_port),
            Dir::Reply => (self.conn.client, self.conn.client_port),
        }
    }
    fn tcp_flags(&self) -> u8 {
        use rampart_model::matches::tcp::flags;
        if self.new {
            flags::SYN
        } else {
            flags::ACK
        }
    }
}

/// How one branch of the walk ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    Accept,
    Drop,
    /// The walk cannot say (a target it does not follow, a missing chain).
    Unknown(String),
    // Internal: leave a user chain / go on after a call.
    Return,
    Continue,
}

/// One way the packet can go through the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub end: End,
    /// The deciding rule or chain policy: `file:line:col (filter INPUT
    /// rule 3)`, or a description when no rule decided.
    pub at: String,
    /// The uncertain matches assumed on the way ("may match" / "may not
    /// match"), each with its rule.
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
    /// Some ways drop it, or the walk cannot tell.
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
                    _ => "?".to_string(),
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

/// Follows the admin's connection through `policy`.
pub fn check(policy: &Policy, conn: SshConn) -> Report {
    let w = Walker { policy };
    let input = [
        (TableKind::Raw, "PREROUTING"),
        (TableKind::Mangle, "PREROUTING"),
        (TableKind::Mangle, "INPUT"),
        (TableKind::Filter, "INPUT"),
        (TableKind::Security, "INPUT"),
    ];
    let output = [
        (TableKind::Raw, "OUTPUT"),
        (TableKind::Mangle, "OUTPUT"),
        (TableKind::Filter, "OUTPUT"),
        (TableKind::Security, "OUTPUT"),
        (TableKind::Mangle, "POSTROUTING"),
    ];
    let est_in = Packet {
        conn,
        dir: Dir::Original,
        new: false,
    };
    let est_out = Packet {
        dir: Dir::Reply,
        ..est_in
    };
    let new_in = Packet {
        new: true,
        ..est_in
    };
    Report {
        conn,
        checks: vec![
            Check {
                what: "packets of this session arriving (ESTABLISHED, INPUT)".into(),
                paths: w.hooks(&est_in, &input),
            },
            Check {
                what: "replies of this session leaving (ESTABLISHED, OUTPUT)".into(),
                paths: w.hooks(&est_out, &output),
            },
            Check {
                what: format!(
                    "a new SSH connection from {} to port {} (NEW, INPUT)",
                    conn.client, conn.server_port
                ),
                paths: w.hooks(&new_in, &input),
            },
        ],
    }
}

/// Most branches followed per packet before giving up (as "unknown").
const MAX_PATHS: usize = 256;
/// Deepest chain nesting followed (iptables allows no loops; this bounds
/// a malformed model).
const MAX_DEPTH: usize = 32;

struct Walker<'a> {
    policy: &'a Policy,
}

impl Walker<'_> {
    /// Every way through the tables of a path (`Accept` of one base chain
    /// goes on to the next one).
    fn hooks(&self, pkt: &Packet, stages: &[(TableKind, &str)]) -> Vec<Path> {
        let mut done = Vec::new();
        let mut live = vec![Path {
            end: End::Accept,
            at: "no rule of the policy stops it".into(),
            assumed: vec![],
        }];
        for &(kind, chain) in stages {
            let Some(table) = self.policy.table(pkt.conn.family(), kind) else {
                continue;
            };
            if table.chain(chain).is_none() {
                continue;
            }
            let mut next = Vec::new();
            for l in live {
                for mut p in self.walk(table, chain, pkt, 0) {
                    let mut assumed = l.assumed.clone();
                    assumed.append(&mut p.assumed);
                    p.assumed = assumed;
                    if p.end == End::Accept {
                        next.push(p);
                    } else {
                        done.push(p);
                    }
                }
            }
            live = next;
        }
        done.extend(live);
        dedup(done)
    }

    /// Every way through one chain.
    fn walk(&self, table: &Table, name: &str, pkt: &Packet, depth: usize) -> Vec<Path> {
        let tname = table.kind.name();
        let Some(chain) = table.chain(name) else {
            return vec![Path {
                end: End::Unknown(format!("chain {name} does not exist")),
                at: format!("{tname} {name}"),
                assumed: vec![],
            }];
        };
        if depth > MAX_DEPTH {
            return vec![Path {
                end: End::Unknown("chains nest too deeply".into()),
                at: format!("{tname} {name}"),
                assumed: vec![],
            }];
        }
        let builtin = table.is_builtin(name);
        let mut done: Vec<Path> = Vec::new();
        // Branches still going on in this chain: their assumptions.
        let mut live: Vec<Vec<String>> = vec![vec![]];
        for (i, rule) in chain.rules.iter().enumerate() {
            if live.is_empty() {
                break;
            }
            let at = match &rule.origin {
                Some(o) => format!("{o} ({tname} {name} rule {})", i + 1),
                None => format!("{tname} {name} rule {}", i + 1),
            };
            let (tri, why) = self.rule_matches(rule, pkt);
            if tri == Tri::No {
                continue;
            }
            let taken = self.target(table, rule, &at, pkt, depth);
            let mut next = Vec::new();
            for notes in live {
                let mut base = notes.clone();
                if tri == Tri::Maybe {
                    base.push(format!("{at} matches ({why})"));
                    let mut skip = notes;
                    skip.push(format!("{at} does not match ({why})"));
                    next.push(skip);
                }
                for t in &taken {
                    let mut assumed = base.clone();
                    assumed.extend(t.assumed.iter().cloned());
                    if t.end == End::Continue {
                        next.push(assumed);
                    } else {
                        done.push(Path {
                            end: t.end.clone(),
                            at: t.at.clone(),
                            assumed,
                        });
                    }
                }
            }
            live = next;
            if live.len() + done.len() > MAX_PATHS {
                for assumed in live.drain(..) {
                    done.push(Path {
                        end: End::Unknown("too many uncertain rules to follow".into()),
                        at: at.clone(),
                        assumed,
                    });
                }
            }
        }
        for assumed in live {
            done.push(Path {
                end: End::Return,
                at: format!("end of {tname} {name}"),
                assumed,
            });
        }
        if builtin {
            // RETURN from, or the end of, a base chain: its policy.
            let pol = chain.policy.unwrap_or(ChainPolicy::Accept);
            for p in &mut done {
                if p.end == End::Return {
                    p.end = match pol {
                        ChainPolicy::Accept => End::Accept,
                        ChainPolicy::Drop => End::Drop,
                    };
                    p.at = format!("the policy {} of {tname} {name}", pol.name());
                }
            }
        }
        dedup(done)
    }

    /// The ways a matching rule's target can go (`Continue`: on to the
    /// next rule).
    fn target(
        &self,
        table: &Table,
        rule: &Rule,
        at: &str,
        pkt: &Packet,
        depth: usize,
    ) -> Vec<Path> {
        let one = |end: End| {
            vec![Path {
                end,
                at: at.to_string(),
                assumed: vec![],
            }]
        };
        let Some(target) = &rule.target else {
            return one(End::Continue);
        };
        match target {
            Target::Accept => one(End::Accept),
            Target::Drop | Target::Reject(_) => one(End::Drop),
            Target::Return => one(End::Return),
            Target::Jump { chain } => self
                .walk(table, chain, pkt, depth + 1)
                .into_iter()
                .map(|mut p| {
                    if p.end == End::Return {
                        p.end = End::Continue;
                    }
                    p
                })
                .collect(),
            // A goto's RETURN returns from the calling chain as well.
            Target::Goto { chain } => self.walk(table, chain, pkt, depth + 1),
            Target::Queue | Target::Nfqueue(_) => one(End::Unknown(
                "the packet is handed to a userspace queue".into(),
            )),
            Target::Synproxy(_) => one(End::Unknown("SYNPROXY handles the packet".into())),
            Target::Notrack(_) | Target::Ct(_) => one(End::Unknown(
                "the conntrack state of the packet is changed".into(),
            )),
            Target::Snat(_)
            | Target::Dnat(_)
            | Target::Masquerade(_)
            | Target::Redirect(_)
            | Target::Netmap(_)
            | Target::Dnpt(_)
            | Target::Snpt(_)
            | Target::Tproxy(_) => one(End::Unknown("the packet's addresses are changed".into())),
            Target::Log(_)
            | Target::Nflog(_)
            | Target::Tee(_)
            | Target::Audit(_)
            | Target::Mark(_)
            | Target::Connmark(_)
            | Target::Tcpmss(_)
            | Target::SetTarget(_)
            | Target::Trace(_)
            | Target::Tos(_)
            | Target::Dscp(_)
            | Target::Ttl(_)
            | Target::Hl(_)
            | Target::Classify(_)
            | Target::Checksum(_)
            | Target::Secmark(_)
            | Target::Connsecmark(_)
            | Target::Hmark(_)
            | Target::Idletimer(_)
            | Target::Led(_)
            | Target::Tcpoptstrip(_)
            | Target::Ecn(_)
            | Target::Rateest(_) => one(End::Continue),
        }
    }

    /// Does the rule match the packet? With the reason when unsure.
    fn rule_matches(&self, rule: &Rule, pkt: &Packet) -> (Tri, String) {
        let mut result = Tri::Yes;
        let mut why = Vec::new();
        let mut add = |t: Tri, reason: &str| match t {
            Tri::No => result = Tri::No,
            Tri::Maybe => {
                if result == Tri::Yes {
                    result = Tri::Maybe;
                }
                why.push(reason.to_string());
            }
            Tri::Yes => {}
        };
        if let Some(n) = &rule.source {
            add(neg(n, n.value.contains(pkt.src().0)), "");
        }
        if let Some(n) = &rule.destination {
            add(neg(n, n.value.contains(pkt.dst().0)), "");
        }
        if let Some(p) = &rule.protocol {
            let m = p.value.0 == 0 || p.value == Protocol::TCP;
            add(neg(p, m), "");
        }
        if rule.fragment == Some(true) {
            add(Tri::No, "");
        }
        let (inbound, outbound) = match pkt.dir {
            Dir::Original => (true, false),
            Dir::Reply => (false, true),
        };
        if let Some(i) = &rule.in_iface {
            let t = if inbound {
                iface(i, pkt.conn.loopback())
            } else {
                Tri::Maybe
            };
            add(t, &format!("input interface {}", i.value.0));
        }
        if let Some(o) = &rule.out_iface {
            let t = if outbound {
                iface(o, pkt.conn.loopback())
            } else {
                Tri::Maybe
            };
            add(t, &format!("output interface {}", o.value.0));
        }
        for m in &rule.matches {
            add(self.match_one(m, pkt), &format!("-m {}", m.name()));
        }
        why.retain(|w| !w.is_empty());
        (result, why.join(", "))
    }

    fn match_one(&self, m: &Match, pkt: &Packet) -> Tri {
        let (sip, sport) = pkt.src();
        let (dip, dport) = pkt.dst();
        match m {
            Match::Comment(_) => Tri::Yes,
            Match::Tcp(t) => {
                if t.option.is_some() {
                    return Tri::Maybe;
                }
                let mut r = Tri::Yes;
                if let Some(p) = &t.sport {
                    r = and(r, neg(p, p.value.contains(sport)));
                }
                if let Some(p) = &t.dport {
                    r = and(r, neg(p, p.value.contains(dport)));
                }
                if let Some(f) = &t.flags {
                    r = and(r, neg(f, pkt.tcp_flags() & f.value.mask == f.value.comp));
                }
                r
            }
            Match::Udp(_)
            | Match::Sctp(_)
            | Match::Dccp(_)
            | Match::Icmp(_)
            | Match::Icmp6(_)
            | Match::Esp(_)
            | Match::Ah(_)
            | Match::Mh(_) => Tri::No,
            Match::Multiport(mp) => {
                let has = |port: u16| mp.ports.value.iter().any(|r| r.contains(port));
                let m = match mp.dir {
                    MultiportDir::Source => has(sport),
                    MultiportDir::Destination => has(dport),
                    MultiportDir::Either => has(sport) || has(dport),
                };
                neg(&mp.ports, m)
            }
            Match::State(s) => neg(&s.states, has_state(&s.states.value, pkt)),
            Match::Conntrack(c) => self.conntrack(c, pkt),
            Match::Iprange(r) => {
                let mut t = Tri::Yes;
                if let Some(s) = &r.src {
                    t = and(t, neg(s, s.value.contains(sip)));
                }
                if let Some(d) = &r.dst {
                    t = and(t, neg(d, d.value.contains(dip)));
                }
                t
            }
            Match::SetMatch(sm) => self.set_match(sm, pkt),
            // Depends on interfaces, rates, marks, time, payload or other
            // state the model does not hold.
            _ => Tri::Maybe,
        }
    }

    fn conntrack(&self, c: &rampart_model::matches::conntrack::Conntrack, pkt: &Packet) -> Tri {
        if c.status.is_some() || c.expire.is_some() || c.dir.is_some() {
            return Tri::Maybe;
        }
        let conn = pkt.conn;
        let mut t = Tri::Yes;
        if let Some(s) = &c.state {
            t = and(t, neg(s, has_state(&s.value, pkt)));
        }
        if let Some(p) = &c.proto {
            t = and(t, neg(p, p.value == Protocol::TCP));
        }
        // Without NAT the reply tuple mirrors the original one.
        let nets = [
            (&c.orig_src, conn.client),
            (&c.orig_dst, conn.server),
            (&c.repl_src, conn.server),
            (&c.repl_dst, conn.client),
        ];
        for (n, ip) in nets {
            if let Some(n) = n {
                t = and(t, neg(n, n.value.contains(ip)));
            }
        }
        let ports: [(&Option<Neg<PortRange>>, u16); 4] = [
            (&c.orig_src_port, conn.client_port),
            (&c.orig_dst_port, conn.server_port),
            (&c.repl_src_port, conn.server_port),
            (&c.repl_dst_port, conn.client_port),
        ];
        for (p, port) in ports {
            if let Some(p) = p {
                t = and(t, neg(p, p.value.contains(port)));
            }
        }
        t
    }

    fn set_match(&self, sm: &rampart_model::matches::set::SetMatch, pkt: &Packet) -> Tri {
        let Some(set) = self.policy.set(&sm.set) else {
            return Tri::Maybe;
        };
        if set.timeout.is_some()
            || sm.packets.is_some()
            || sm.bytes.is_some()
            || sm.dirs.len() != 1
            || set.kind.dimensions() != 1
        {
            return Tri::Maybe;
        }
        let (ip, port) = match sm.dirs[0] {
            SetDir::Src => pkt.src(),
            SetDir::Dst => pkt.dst(),
        };
        let mut hit = false;
        for e in &set.elements {
            let Some(part) = e.parts.first() else {
                return Tri::Maybe;
            };
            let covers = match part {
                ElemPart::Net(n) => n.contains(ip),
                ElemPart::Range(a, b) => rampart_model::matches::iprange::AddrRange {
                    first: *a,
                    last: *b,
                }
                .contains(ip),
                ElemPart::Port { proto, first, last } => {
                    proto.is_none_or(|p| p == 6) && (*first..=*last).contains(&port)
                }
                _ => return Tri::Maybe,
            };
            if covers && e.nomatch {
                // ipset's most-specific-entry rule for nomatch: not modelled.
                return Tri::Maybe;
            }
            hit |= covers;
        }
        if hit != sm.invert {
            Tri::Yes
        } else {
            Tri::No
        }
    }
}

fn has_state(s: &CtStates, pkt: &Packet) -> bool {
    if pkt.new {
        s.new
    } else {
        s.established
    }
}

fn neg<T>(n: &Neg<T>, matched: bool) -> Tri {
    if matched != n.invert {
        Tri::Yes
    } else {
        Tri::No
    }
}

fn and(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Tri::No, _) | (_, Tri::No) => Tri::No,
        (Tri::Yes, Tri::Yes) => Tri::Yes,
        _ => Tri::Maybe,
    }
}

/// An interface match when only "loopback or not" is known.
fn iface(i: &Neg<Iface>, loopback: bool) -> Tri {
    let t = if i.value.matches_all() {
        Tri::Yes
    } else if loopback {
        if i.value.matches("lo") {
            Tri::Yes
        } else {
            Tri::No
        }
    } else if i.value.0 == "lo" {
        Tri::No
    } else {
        Tri::Maybe
    };
    match (t, i.invert) {
        (Tri::Yes, true) => Tri::No,
        (Tri::No, true) => Tri::Yes,
        (t, _) => t,
    }
}

fn dedup(paths: Vec<Path>) -> Vec<Path> {
    let mut out: Vec<Path> = Vec::with_capacity(paths.len());
    for p in paths {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
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
