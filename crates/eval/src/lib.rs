//! # rampart-eval
//!
//! What does the policy do with this packet? A reference interpreter of
//! netfilter's traversal over the policy model (raw → conntrack → mangle →
//! nat for the first packet of a connection → routing decision → filter →
//! security → mangle/nat POSTROUTING; built-in policies; jump, goto,
//! RETURN; NAT rewrites that later chains see), and a compiled
//! [`Classifier`] that gives the same answers without scanning every rule.
//!
//! Every match and target of the model is handled. A match that depends on
//! something the [`Packet`] model does not carry (payload, TCP options,
//! IPv6 extension headers, the local socket, ...) makes the verdict
//! [`Verdict::Unknown`] naming the rule — never a guess.
//!
//! State that follows from a sequence of packets (conntrack NEW →
//! ESTABLISHED, RELATED ICMP errors, limit, hashlimit, connlimit, recent,
//! quota, `-j SET`) is kept by a [`Session`]; time is passed in. A single
//! [`evaluate`] is the first packet of a fresh session unless the packet
//! gives its conntrack state.
//!
//! The crate is pure: no I/O, no clock.
//!
//! ```
//! use rampart_eval::{evaluate, Context, LocalAddr, Packet, Verdict};
//! use rampart_model::*;
//! let mut policy = Policy::default();
//! let input = policy
//!     .table_mut(Family::Ipv4, TableKind::Filter)
//!     .chain_mut("INPUT")
//!     .expect("built-in chain");
//! input.policy = Some(ChainPolicy::Drop);
//! input.rules.push(Rule {
//!     protocol: Some(Neg::new(Protocol::TCP)),
//!     matches: vec![Match::Tcp(matches::tcp::Tcp {
//!         dport: Some(Neg::new(PortRange::single(22))),
//!         ..Default::default()
//!     })],
//!     target: Some(Target::Accept),
//!     ..Default::default()
//! });
//! let ctx = Context::new(vec![LocalAddr::parse("10.0.0.1").unwrap()]);
//! let ssh = Packet::parse("tcp 203.0.113.5:51515 -> 10.0.0.1:22").unwrap();
//! let out = evaluate(&policy, &ctx, &ssh);
//! assert_eq!(out.verdict, Verdict::Accept);
//! assert_eq!(out.decided_by.rule().unwrap().index, 1);
//! let web = Packet::parse("tcp 203.0.113.5:51515 -> 10.0.0.1:80").unwrap();
//! assert_eq!(evaluate(&policy, &ctx, &web).verdict, Verdict::Drop);
//! ```

mod classifier;
mod context;
pub mod corpus;
mod eval;
mod fast;
mod outcome;
mod packet;
mod program;
mod sets;
mod state;
mod walk;

pub use classifier::Classifier;

pub use context::{Context, LocalAddr, Route, Time};
pub use outcome::{
    Decider, Event, HookResult, KernelDrop, Matched, NatRewrite, NatSide, Outcome, PathKind,
    RuleRef, Step, Verdict,
};
pub use packet::{flags_text, parse_flags, parse_icmp_type, CtState, Packet, Tuple};

use program::Program;
use rampart_model::Policy;
use state::State;

/// Errors of this crate: bad packets and contexts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The packet text is malformed; `pos` is the byte offset of the bad
    /// word.
    #[error("bad packet at column {}: {message}\n  {input}\n  {caret}^", pos + 1, caret = " ".repeat(*pos))]
    BadPacket {
        input: String,
        pos: usize,
        message: String,
    },
    /// A local address, route or other context item is malformed.
    #[error("{0}")]
    BadContext(String),
}

/// Evaluates one packet with the reference interpreter: every rule in
/// order, with the full trace. The packet is the first of a fresh session
/// (limits within their burst, recent lists empty) unless it gives its
/// conntrack state.
pub fn evaluate(policy: &Policy, ctx: &Context, pkt: &Packet) -> Outcome {
    let prog = Program::new(policy);
    let mut st = State::default();
    walk::run(&prog, &walk::Every, ctx, &mut st, pkt, ctx.now, true, true)
}

/// The reference interpreter without the trace (verdict, deciding rule,
/// NAT): for measuring against the classifier.
pub fn evaluate_verdict(policy: &Policy, ctx: &Context, pkt: &Packet) -> Outcome {
    let prog = Program::new(policy);
    let mut st = State::default();
    walk::run(&prog, &walk::Every, ctx, &mut st, pkt, ctx.now, true, false)
}

/// A prepared reference interpreter (the policy resolved once), for
/// evaluating many packets.
#[derive(Debug)]
pub struct Reference<'p> {
    prog: Program<'p>,
}

impl<'p> Reference<'p> {
    pub fn new(policy: &'p Policy) -> Reference<'p> {
        Reference {
            prog: Program::new(policy),
        }
    }

    /// Same as [`evaluate`].
    pub fn evaluate(&self, ctx: &Context, pkt: &Packet) -> Outcome {
        let mut st = State::default();
        walk::run(
            &self.prog,
            &walk::Every,
            ctx,
            &mut st,
            pkt,
            ctx.now,
            true,
            true,
        )
    }

    /// Same as [`evaluate_verdict`].
    pub fn verdict(&self, ctx: &Context, pkt: &Packet) -> Outcome {
        let mut st = State::default();
        walk::run(
            &self.prog,
            &walk::Every,
            ctx,
            &mut st,
            pkt,
            ctx.now,
            true,
            false,
        )
    }

    /// The verdict and deciding rule only (see [`Decision`]).
    pub fn decide(&self, ctx: &Context, pkt: &Packet) -> Decision {
        let mut st = State::default();
        let raw = walk::run_raw(
            &self.prog,
            &walk::Every,
            ctx,
            &mut st,
            pkt,
            ctx.now,
            true,
            false,
        );
        walk::decision(&raw)
    }

    /// Names the rule of a [`Decision`] of this policy.
    pub fn decider(&self, id: RuleId) -> Decider {
        decider_of(&self.prog, id)
    }
}

/// The verdict and where it was decided, without names, NAT details or
/// trace: the cheapest answer, for bulk classification. Both engines give
/// equal decisions; [`Classifier::decider`] / [`Reference::decider`] name
/// the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    /// `None` when no chain of the policy saw the packet, or the kernel
    /// dropped it outside the ruleset ([`Decider::Kernel`]).
    pub by: Option<RuleId>,
}

/// A rule or chain policy of a prepared policy (indices; the same for
/// both engines of one policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleId {
    table: u32,
    chain: u32,
    /// `None`: the chain's policy.
    rule: Option<u32>,
}

fn decider_of(prog: &Program<'_>, id: RuleId) -> Decider {
    walk::decider(
        prog,
        walk::RawBy {
            table: id.table as usize,
            chain: id.chain as usize,
            rule: id.rule.map(|r| r as usize),
        },
    )
}

/// Which engine a [`Session`] uses.
#[derive(Debug)]
enum Engine<'e, 'p> {
    Reference(Reference<'p>),
    Classifier(&'e Classifier<'p>),
}

/// A sequence of packets: conntrack state, limits, recent lists, quotas
/// and set changes follow from the packets before, at the times given.
///
/// ```
/// use rampart_eval::{Context, LocalAddr, Packet, Session, Time, Verdict, CtState};
/// use rampart_model::*;
/// let mut policy = Policy::default();
/// let input = policy.table_mut(Family::Ipv4, TableKind::Filter).chain_mut("INPUT").unwrap();
/// input.policy = Some(ChainPolicy::Drop);
/// input.rules.push(Rule {
///     matches: vec![Match::State(matches::state::State {
///         states: Neg::new(matches::state::CtStates { established: true, ..Default::default() }),
///     })],
///     target: Some(Target::Accept),
///     ..Default::default()
/// });
/// let ctx = Context::new(vec![LocalAddr::parse("10.0.0.1").unwrap()]);
/// let mut s = Session::new(&policy, ctx);
/// // The host connects out (OUTPUT accepts), the reply comes back ESTABLISHED.
/// let out = Packet::parse("tcp 10.0.0.1:40000 -> 192.0.2.9:443").unwrap();
/// assert_eq!(s.packet(Time::from_secs(0), &out).verdict, Verdict::Accept);
/// let back = Packet::parse("tcp 192.0.2.9:443 -> 10.0.0.1:40000 flags=SYN,ACK in=eth0").unwrap();
/// let o = s.packet(Time::from_secs(1), &back);
/// assert_eq!(o.ct_state, CtState::Established);
/// assert_eq!(o.verdict, Verdict::Accept);
/// ```
#[derive(Debug)]
pub struct Session<'e, 'p> {
    engine: Engine<'e, 'p>,
    ctx: Context,
    state: State,
}

impl<'e, 'p> Session<'e, 'p> {
    /// A session on the reference interpreter.
    pub fn new(policy: &'p Policy, ctx: Context) -> Session<'e, 'p> {
        Session {
            engine: Engine::Reference(Reference::new(policy)),
            ctx,
            state: State::default(),
        }
    }

    /// A session on a compiled classifier.
    pub fn with_classifier(classifier: &'e Classifier<'p>, ctx: Context) -> Session<'e, 'p> {
        Session {
            engine: Engine::Classifier(classifier),
            ctx,
            state: State::default(),
        }
    }

    /// Evaluates the next packet, seen at `now`, with the full trace.
    pub fn packet(&mut self, now: Time, pkt: &Packet) -> Outcome {
        self.step(now, pkt, true)
    }

    /// The next packet without the trace.
    pub fn packet_verdict(&mut self, now: Time, pkt: &Packet) -> Outcome {
        self.step(now, pkt, false)
    }

    /// Number of connections conntrack holds.
    pub fn connections(&self) -> usize {
        self.state.conns.len()
    }

    fn step(&mut self, now: Time, pkt: &Packet, explain: bool) -> Outcome {
        self.ctx.now = now;
        match &self.engine {
            Engine::Reference(r) => walk::run(
                &r.prog,
                &walk::Every,
                &self.ctx,
                &mut self.state,
                pkt,
                now,
                false,
                explain,
            ),
            Engine::Classifier(c) => walk::run(
                &c.prog,
                *c,
                &self.ctx,
                &mut self.state,
                pkt,
                now,
                false,
                explain,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_model::*;

    /// A goto cycle (which iptables refuses but a model can hold) ends as
    /// unknown instead of looping.
    #[test]
    fn goto_cycle_is_unknown() {
        let mut p = Policy::default();
        let t = p.table_mut(Family::Ipv4, TableKind::Filter);
        t.add_user_chain("A");
        t.add_user_chain("B");
        let goto = |c: &str| Rule {
            target: Some(Target::Goto { chain: c.into() }),
            ..Default::default()
        };
        t.chain_mut("INPUT").unwrap().rules.push(goto("A"));
        t.chain_mut("A").unwrap().rules.push(goto("B"));
        t.chain_mut("B").unwrap().rules.push(goto("A"));
        let ctx = Context::new(vec![LocalAddr::parse("10.0.0.1").unwrap()]);
        let pkt = Packet::parse("udp 192.0.2.1:1 -> 10.0.0.1:2").unwrap();
        let o = Classifier::new(&p).decide(&ctx, &pkt);
        assert!(matches!(o.verdict, Verdict::Unknown { .. }), "{o:?}");
        assert_eq!(Reference::new(&p).decide(&ctx, &pkt), o);
    }
}
