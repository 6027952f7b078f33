//! What an evaluation returns: the verdict, the deciding rule, NAT
//! rewrites and the trace of every rule visited.

use crate::packet::{CtState, Packet};
use rampart_model::targets::reject::RejectWith;
use rampart_model::{ChainPolicy, Family, Hook, Origin, TableKind};
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// The final verdict on the packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "lowercase")]
pub enum Verdict {
    Accept,
    Drop,
    Reject {
        with: RejectWith,
    },
    /// Handed to a userspace queue (QUEUE = 0, NFQUEUE N or a balanced
    /// range starting at N); what the program decides is not known.
    Queue {
        num: u16,
    },
    /// The evaluation cannot tell: a match or target depends on something
    /// the packet model does not carry. `decided_by` names the rule.
    Unknown {
        reason: String,
    },
}

impl Verdict {
    /// `accept`, `drop`, `reject`, `queue`, `unknown`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Drop => "drop",
            Verdict::Reject { .. } => "reject",
            Verdict::Queue { .. } => "queue",
            Verdict::Unknown { .. } => "unknown",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Accept => write!(f, "ACCEPT"),
            Verdict::Drop => write!(f, "DROP"),
            Verdict::Reject { with } => write!(f, "REJECT ({})", with.name()),
            Verdict::Queue { num } => write!(f, "QUEUE (queue {num})"),
            Verdict::Unknown { reason } => write!(f, "UNKNOWN ({reason})"),
        }
    }
}

/// A rule of the policy, identified so it can be compared with the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RuleRef {
    pub family: Family,
    pub table: TableKind,
    pub chain: String,
    /// 1-based position in the chain (`iptables -L --line-numbers`).
    pub index: usize,
    pub origin: Option<Origin>,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(o) = &self.origin {
            write!(f, "{o} ")?;
        }
        write!(
            f,
            "({} {} {} rule {})",
            fam(self.family),
            self.table.name(),
            self.chain,
            self.index
        )
    }
}

fn fam(f: Family) -> &'static str {
    match f {
        Family::Ipv4 => "ip",
        Family::Ipv6 => "ip6",
    }
}

/// What decided a base chain's (or the whole packet's) verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "lowercase")]
pub enum Decider {
    Rule(RuleRef),
    /// The policy of a built-in chain (no rule decided).
    Policy {
        family: Family,
        table: TableKind,
        chain: String,
        policy: ChainPolicy,
    },
    /// No chain of the policy saw the packet (no table on its path).
    Nothing,
    /// The kernel dropped the packet outside the ruleset (after the
    /// chains it had passed, before the next hook).
    Kernel {
        reason: KernelDrop,
    },
}

/// Why the kernel drops a packet by itself, outside every chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum KernelDrop {
    /// A forwarded packet whose TTL (IPv6: hop limit) is 1 or 0: IP
    /// forwarding (`ip_forward`, `ip6_forward`) drops it after PREROUTING
    /// and the routing decision, before the FORWARD hook, and answers
    /// ICMP time exceeded (ICMPv6 hop limit exceeded).
    TtlExceeded,
}

impl KernelDrop {
    /// The name in JSON and corpus files (`ttl-exceeded`).
    pub fn name(self) -> &'static str {
        match self {
            KernelDrop::TtlExceeded => "ttl-exceeded",
        }
    }

    /// The short text `rampart why` prints.
    pub fn text(self) -> &'static str {
        match self {
            KernelDrop::TtlExceeded => "TTL exceeded while forwarding",
        }
    }
}

impl fmt::Display for KernelDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl Decider {
    pub fn rule(&self) -> Option<&RuleRef> {
        match self {
            Decider::Rule(r) => Some(r),
            _ => None,
        }
    }
}

impl fmt::Display for Decider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decider::Rule(r) => write!(f, "{r}"),
            Decider::Policy {
                family,
                table,
                chain,
                policy,
            } => write!(
                f,
                "the policy {} of {} {} {}",
                policy.name(),
                fam(*family),
                table.name(),
                chain
            ),
            Decider::Nothing => write!(f, "no table of the policy sees this packet"),
            Decider::Kernel { reason } => write!(f, "the kernel: {reason}"),
        }
    }
}

/// The way the packet takes through the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PathKind {
    /// PREROUTING → INPUT: for the host itself.
    Input,
    /// PREROUTING → FORWARD → POSTROUTING: routed through.
    Forward,
    /// OUTPUT → POSTROUTING: sent by the host.
    Output,
}

/// Which side of the packet NAT rewrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NatSide {
    Source,
    Destination,
}

/// A NAT rewrite (before → after).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NatRewrite {
    pub side: NatSide,
    /// The target that rewrote (`DNAT`, `SNAT`, `MASQUERADE`, `REDIRECT`,
    /// `NETMAP`); for packets of a known connection, `conntrack`.
    pub target: String,
    /// The rule, when a nat chain rule did it (not a conntrack binding).
    pub rule: Option<RuleRef>,
    pub before_addr: IpAddr,
    pub before_port: u16,
    /// `None`: the address of an interface the context does not know
    /// (MASQUERADE without `--local ADDR%IFACE`).
    pub after_addr: Option<IpAddr>,
    pub after_port: u16,
    /// The port is the kernel's pick within this range (first, last):
    /// source NAT (SNAT, MASQUERADE `--to-ports`) of a port outside its
    /// range takes a random free port of it; `after_port` is then the
    /// range's first port, a placeholder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_range: Option<(u16, u16)>,
    /// E.g. "one address of 198.51.100.2-198.51.100.9 (the kernel
    /// picks)".
    pub note: Option<String>,
}

impl fmt::Display for NatRewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.side {
            NatSide::Source => "source",
            NatSide::Destination => "destination",
        };
        let ep = |a: Option<IpAddr>, p: u16| {
            let a = a.map_or_else(|| "<interface address>".to_string(), |a| a.to_string());
            if p == 0 {
                a
            } else if a.contains(':') {
                format!("[{a}]:{p}")
            } else {
                format!("{a}:{p}")
            }
        };
        write!(
            f,
            "{} {side} {} -> {}",
            self.target,
            ep(Some(self.before_addr), self.before_port),
            ep(self.after_addr, self.after_port)
        )?;
        if let Some(r) = &self.rule {
            write!(f, " by {r}")?;
        }
        if let Some(n) = &self.note {
            write!(f, " ({n})")?;
        }
        Ok(())
    }
}

/// Did a rule match?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Matched {
    Yes,
    No,
    /// Depends on something the packet model does not carry.
    Unknown,
}

/// One event of the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event {
    /// A base chain is entered.
    Hook { hook: Hook },
    /// A rule was looked at.
    Rule {
        index: usize,
        origin: Option<Origin>,
        matched: Matched,
        /// Why it matched (every condition) or why not (the condition
        /// that failed), or what is unknown.
        reason: String,
        /// The target, as written after `-j` (empty for a rule without
        /// one).
        target: String,
        /// What the target did to the packet, if anything (`mark 0x0 ->
        /// 0x1`, `logged`, `jump to LOGDROP`).
        effect: Option<String>,
    },
    /// End of a user chain or RETURN: back to the caller.
    Return { to: String },
    /// End of a built-in chain (or RETURN in it): its policy.
    Policy { policy: ChainPolicy },
    /// The nat table is only consulted for the first packet of a
    /// connection.
    Skipped { reason: String },
}

/// One step of the trace: an event in a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub family: Family,
    pub table: TableKind,
    pub chain: String,
    #[serde(flatten)]
    pub event: Event,
}

/// The verdict of one base chain on the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookResult {
    pub table: TableKind,
    pub hook: Hook,
    pub verdict: Verdict,
    pub decided_by: Decider,
}

/// Everything an evaluation found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The packet as given.
    pub packet: Packet,
    pub path: PathKind,
    /// The conntrack state the packet had in the filter table.
    pub ct_state: CtState,
    /// The output interface (forwarded and outgoing packets), if known.
    pub out_iface: Option<String>,
    pub verdict: Verdict,
    /// The deciding rule or policy. For a packet that is not accepted:
    /// what stopped it. For an accepted packet: the decision of the filter
    /// table's chain (INPUT, FORWARD or OUTPUT) when the policy has one,
    /// else of the last base chain on the path.
    pub decided_by: Decider,
    /// For the deciding rule: every condition and why it held.
    pub why: Vec<String>,
    /// The verdict of each base chain on the path, in order.
    pub hooks: Vec<HookResult>,
    pub nat: Vec<NatRewrite>,
    /// Every table/chain/rule visited, in order (empty for the fast
    /// verdict-only calls).
    pub trace: Vec<Step>,
}

impl Outcome {
    /// Exit status of `rampart why`: 0 accepted, 1 anything else.
    pub fn accepted(&self) -> bool {
        self.verdict == Verdict::Accept
    }

    /// The trace as readable text, one line per visited rule.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let path = match self.path {
            PathKind::Input => "to this host (PREROUTING -> INPUT)",
            PathKind::Forward => "forwarded (PREROUTING -> FORWARD -> POSTROUTING)",
            PathKind::Output => "sent by this host (OUTPUT -> POSTROUTING)",
        };
        s.push_str(&format!("packet: {}\n", self.packet));
        s.push_str(&format!(
            "path:   {path}, conntrack {}",
            self.ct_state.name()
        ));
        if let Some(o) = &self.out_iface {
            s.push_str(&format!(", out {o}"));
        }
        s.push('\n');
        let mut last = None;
        for st in &self.trace {
            let key = (st.family, st.table, st.chain.clone());
            if let Event::Hook { .. } = st.event {
                s.push_str(&format!("  {} {}:\n", st.table.name(), st.chain));
                last = Some(key);
                continue;
            }
            if last.as_ref() != Some(&key) {
                s.push_str(&format!("  {} {}:\n", st.table.name(), st.chain));
                last = Some(key);
            }
            match &st.event {
                Event::Hook { .. } => {}
                Event::Rule {
                    index,
                    origin,
                    matched,
                    reason,
                    target,
                    effect,
                } => {
                    let at = origin
                        .as_ref()
                        .map_or_else(|| "-".to_string(), |o| format!("{}:{}", o.file, o.line));
                    let m = match matched {
                        Matched::Yes => "match   ",
                        Matched::No => "no match",
                        Matched::Unknown => "UNKNOWN ",
                    };
                    let tgt = if target.is_empty() {
                        String::new()
                    } else {
                        format!(" -> {target}")
                    };
                    s.push_str(&format!("    {index:>3} {m} {at}{tgt}: {reason}"));
                    if let Some(e) = effect {
                        s.push_str(&format!(" [{e}]"));
                    }
                    s.push('\n');
                }
                Event::Return { to } => s.push_str(&format!("        return to {to}\n")),
                Event::Policy { policy } => {
                    s.push_str(&format!("        policy {}\n", policy.name()))
                }
                Event::Skipped { reason } => s.push_str(&format!("        skipped: {reason}\n")),
            }
        }
        for n in &self.nat {
            s.push_str(&format!("nat:    {n}\n"));
        }
        s.push_str(&format!(
            "verdict: {} by {}\n",
            self.verdict, self.decided_by
        ));
        for w in &self.why {
            s.push_str(&format!("  because {w}\n"));
        }
        s
    }
}
