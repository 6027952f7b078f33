//! netfilter's traversal, shared by both engines: hooks in order, the
//! routing decision, conntrack, chains with jump/goto/RETURN and built-in
//! policies. An engine only decides which rules of a chain are worth
//! evaluating (the [`Finder`]); the reference evaluates every rule.

use crate::context::{Context, Time};
use crate::eval::{reply_tuple, Act, ConnView, Env, Flight, Notes, Tri};
use crate::outcome::{
    Decider, Event, HookResult, KernelDrop, Matched, NatRewrite, NatSide, Outcome, PathKind,
    RuleRef, Step, Verdict,
};
use crate::packet::{CtState, Packet};
use crate::program::{Program, RuleKey};
use crate::sets::SetIndex;
use crate::state::{Conn, State};
use rampart_model::{ChainPolicy, Family, Hook, TableKind};

const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

/// Deepest chain nesting followed (iptables itself allows no loops).
pub(crate) const MAX_DEPTH: usize = 64;
/// Most rules evaluated in one base chain, at least (bounds goto loops,
/// which a model can hold although iptables refuses them); four times
/// the table's rules when that is more.
pub(crate) const MAX_STEPS: usize = 100_000;

/// The chain a jump or goto rule leads to.
fn next_chain(tbl: &crate::program::PTable<'_>, chain: usize, rule: usize) -> usize {
    tbl.jumps[chain][rule].unwrap_or(chain)
}

/// Which rules of a chain may match: the rules it skips must surely not
/// match (their generic matches fail before any stateful match runs).
pub(crate) trait Finder {
    type Cursor<'c>
    where
        Self: 'c;
    fn start<'c>(&'c self, table: usize, chain: usize, fl: &Flight) -> Self::Cursor<'c>;
    /// The first candidate rule at or after `from` (the chain length when
    /// none is left).
    fn next(&self, cursor: &mut Self::Cursor<'_>, from: usize, len: usize) -> usize;
    fn sets(&self) -> &dyn SetIndex;
}

/// The reference: every rule is a candidate.
#[derive(Debug)]
pub(crate) struct Every;

impl Finder for Every {
    type Cursor<'c> = ();
    fn start(&self, _: usize, _: usize, _: &Flight) {}
    fn next(&self, _: &mut (), from: usize, _len: usize) -> usize {
        from
    }
    fn sets(&self) -> &dyn SetIndex {
        &crate::sets::Linear
    }
}

/// Runs one packet. `lone`: no session (state starts empty and is
/// described so); `explain`: build the trace and the reasons.
/// Where a base chain's decision came from: a rule or the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawBy {
    pub table: usize,
    pub chain: usize,
    /// `None`: the chain's policy.
    pub rule: Option<usize>,
}

/// One base chain's decision, before names are looked up.
#[derive(Debug)]
pub(crate) struct RawHook {
    pub table: TableKind,
    pub hook: Hook,
    pub verdict: Verdict,
    pub by: RawBy,
    pub why: Vec<String>,
}

/// What a walk found, with indices instead of names (no allocation on the
/// fast path beyond the hook list).
#[derive(Debug)]
pub(crate) struct Raw<'a> {
    pub verdict: Verdict,
    /// Index into `hooks` of the deciding entry.
    pub pick: Option<usize>,
    pub hooks: Vec<RawHook>,
    pub path: PathKind,
    pub ct: CtState,
    pub out: Option<&'a str>,
    pub nat: Vec<NatRewrite>,
    pub trace: Vec<Step>,
    /// The kernel dropped the packet outside the ruleset (`verdict` is
    /// then DROP and `pick` `None`).
    pub kernel: Option<KernelDrop>,
}

/// Runs one packet and builds the full [`Outcome`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn run<F: Finder>(
    prog: &Program<'_>,
    finder: &F,
    ctx: &Context,
    st: &mut State,
    pkt: &Packet,
    now: Time,
    lone: bool,
    explain: bool,
) -> Outcome {
    let raw = run_raw(prog, finder, ctx, st, pkt, now, lone, explain);
    materialize(prog, pkt, raw)
}

/// The decider of a raw entry, with names.
pub(crate) fn decider(prog: &Program<'_>, by: RawBy) -> Decider {
    let tbl = &prog.tables[by.table];
    let chain = tbl.chains[by.chain];
    match by.rule {
        Some(i) => Decider::Rule(RuleRef {
            family: tbl.family,
            table: tbl.kind,
            chain: chain.name.clone(),
            index: i + 1,
            origin: chain.rules[i].origin.clone(),
        }),
        None => Decider::Policy {
            family: tbl.family,
            table: tbl.kind,
            chain: chain.name.clone(),
            policy: chain.policy.unwrap_or(ChainPolicy::Accept),
        },
    }
}

/// The verdict and deciding entry of a raw result.
pub(crate) fn decision(raw: &Raw<'_>) -> crate::Decision {
    crate::Decision {
        verdict: raw.verdict.clone(),
        by: raw.pick.map(|i| {
            let b = raw.hooks[i].by;
            crate::RuleId {
                table: b.table as u32,
                chain: b.chain as u32,
                rule: b.rule.map(|r| r as u32),
            }
        }),
    }
}

pub(crate) fn materialize(prog: &Program<'_>, pkt: &Packet, raw: Raw<'_>) -> Outcome {
    let (decided_by, why) = match (raw.pick, raw.kernel) {
        (Some(i), _) => (decider(prog, raw.hooks[i].by), raw.hooks[i].why.clone()),
        (None, Some(reason)) => (Decider::Kernel { reason }, kernel_why(reason, pkt)),
        (None, None) => (Decider::Nothing, Vec::new()),
    };
    Outcome {
        packet: pkt.clone(),
        path: raw.path,
        ct_state: raw.ct,
        out_iface: raw.out.map(str::to_string),
        verdict: raw.verdict,
        decided_by,
        why,
        hooks: raw
            .hooks
            .into_iter()
            .map(|h| HookResult {
                table: h.table,
                hook: h.hook,
                verdict: h.verdict,
                decided_by: decider(prog, h.by),
            })
            .collect(),
        nat: raw.nat,
        trace: raw.trace,
    }
}

/// Why the kernel dropped `pkt` by itself, for `rampart why`.
fn kernel_why(reason: KernelDrop, pkt: &Packet) -> Vec<String> {
    match reason {
        KernelDrop::TtlExceeded => {
            let (field, icmp) = if pkt.dst.is_ipv4() {
                ("TTL", "ICMP time exceeded")
            } else {
                ("hop limit", "ICMPv6 time exceeded (hop limit)")
            };
            vec![format!(
                "the packet is routed through this host with {field} {} (forwarding needs at least 2): \
                 the kernel drops it after PREROUTING and the routing decision, before the FORWARD \
                 hook, and answers {icmp}; no FORWARD or POSTROUTING rule sees it",
                pkt.ttl
            )]
        }
    }
}

/// Runs one packet. `lone`: no session (state starts empty and is
/// described so); `explain`: build the trace and the reasons.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_raw<'a, F: Finder>(
    prog: &Program<'_>,
    finder: &F,
    ctx: &'a Context,
    st: &mut State,
    pkt: &'a Packet,
    now: Time,
    lone: bool,
    explain: bool,
) -> Raw<'a> {
    run_raw_into(
        prog,
        finder,
        ctx,
        st,
        pkt,
        now,
        lone,
        explain,
        Vec::with_capacity(8),
    )
}

/// [`run_raw`] with the hook list to fill (empty; its capacity is
/// reused, so a caller keeping one list allocates nothing per packet).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_raw_into<'a, F: Finder>(
    prog: &Program<'_>,
    finder: &F,
    ctx: &'a Context,
    st: &mut State,
    pkt: &'a Packet,
    now: Time,
    lone: bool,
    explain: bool,
    hooks: Vec<RawHook>,
) -> Raw<'a> {
    debug_assert!(hooks.is_empty());
    let from_host = pkt.in_iface.is_none() && ctx.is_local(pkt.src);
    let tuple = pkt.tuple();
    let fl = Flight {
        p: Packet {
            in_iface: None,
            out_iface: None,
            ..*pkt
        },
        in_iface: pkt.in_iface.as_deref(),
        path: if from_host {
            PathKind::Output
        } else {
            PathKind::Input
        },
        hook: Hook::Prerouting,
        table: TableKind::Raw,
        ct: CtState::New,
        tracked: false,
        conn: ConnView {
            known: true,
            orig: tuple,
            reply: reply_tuple(&tuple),
            reply_dir: false,
            snat: false,
            dnat: false,
            seen_reply: false,
            mark: pkt.ct_mark,
            helper: None,
            labels: 0,
            packets: [0; 2],
            bytes: [0; 2],
            id: None,
        },
        out: None,
        routed: false,
        mark_known: true,
        version: 0,
    };
    let mut env = Env {
        pkt,
        prog,
        ctx,
        st,
        sets: finder.sets(),
        fl,
        now,
        lone,
        explain,
        nat: Vec::new(),
    };
    let mut w = Walk {
        finder,
        explain,
        trace: Vec::new(),
        hooks,
        kernel: None,
    };
    let completed = if from_host {
        w.output(&mut env)
    } else {
        w.incoming(&mut env)
    };
    let stopped = match (completed, w.kernel, w.hooks.last()) {
        (None, Some(_), _) => Some(Verdict::Drop),
        (None, None, Some(h)) => Some(h.verdict.clone()),
        _ => None,
    };
    // The deciding entry: what stopped it (none when the kernel did),
    // else filter's decision, else the last one.
    let pick = if w.kernel.is_some() {
        None
    } else if stopped.is_some() {
        w.hooks.len().checked_sub(1)
    } else {
        w.hooks
            .iter()
            .rposition(|h| h.table == TableKind::Filter)
            .or(w.hooks.len().checked_sub(1))
    };
    let verdict = stopped.unwrap_or(Verdict::Accept);
    commit(&mut env, &verdict);
    Raw {
        verdict,
        pick,
        hooks: w.hooks,
        path: env.fl.path,
        ct: env.fl.ct,
        out: env.fl.out,
        nat: env.nat,
        trace: w.trace,
        kernel: w.kernel,
    }
}

/// Records the connection (a NEW one that was accepted; an existing one
/// always: counters, marks, labels).
fn commit(env: &mut Env<'_, '_, '_>, verdict: &Verdict) {
    if !env.fl.tracked || matches!(env.fl.ct, CtState::Untracked | CtState::Invalid) {
        return;
    }
    if env.lone {
        return;
    }
    let cv = &env.fl.conn;
    match cv.id {
        Some(id) => {
            let c = &mut env.st.conns[id];
            c.packets = cv.packets;
            c.bytes = cv.bytes;
            c.mark = cv.mark;
            c.labels = cv.labels;
            c.helper = cv.helper.clone();
            c.last = env.now;
            if cv.reply_dir && *verdict == Verdict::Accept {
                c.seen_reply = true;
            }
        }
        None => {
            if *verdict != Verdict::Accept || env.fl.ct != CtState::New {
                return;
            }
            let p = &env.fl.p;
            let mut after = p.tuple();
            if matches!(after.protocol, 1 | 58) {
                after.sport = cv.orig.sport;
            }
            let c = Conn {
                orig: cv.orig,
                reply: reply_tuple(&after),
                snat: cv.snat,
                dnat: cv.dnat,
                seen_reply: false,
                syn_sent: p.protocol == 6 && p.tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST) == TCP_SYN,
                mark: cv.mark,
                helper: cv.helper.clone(),
                labels: cv.labels,
                packets: cv.packets,
                bytes: cv.bytes,
                last: env.now,
            };
            env.st.insert(c);
        }
    }
}

struct Walk<'f, F: Finder> {
    finder: &'f F,
    explain: bool,
    trace: Vec<Step>,
    hooks: Vec<RawHook>,
    /// The kernel dropped the packet outside the ruleset.
    kernel: Option<KernelDrop>,
}

impl<F: Finder> Walk<'_, F> {
    fn incoming(&mut self, env: &mut Env<'_, '_, '_>) -> Option<()> {
        self.hook(env, TableKind::Raw, Hook::Prerouting)?;
        self.conntrack(env);
        self.hook(env, TableKind::Mangle, Hook::Prerouting)?;
        self.nat_hook(env, Hook::Prerouting)?;
        // Routing decision.
        let dst = env.fl.p.dst;
        let local = env.ctx.is_local(dst) || env.ctx.is_broadcast(dst) || dst.is_multicast();
        if local {
            env.fl.path = PathKind::Input;
            self.hook(env, TableKind::Mangle, Hook::Input)?;
            self.hook(env, TableKind::Filter, Hook::Input)?;
            self.hook(env, TableKind::Security, Hook::Input)?;
            self.nat_hook(env, Hook::Input)?;
        } else {
            env.fl.path = PathKind::Forward;
            let (pkt, ctx, dst) = (env.pkt, env.ctx, env.fl.p.dst);
            env.fl.out = pkt.out_iface.as_deref().or_else(|| ctx.route_ref(dst));
            env.fl.routed = true;
            // IP forwarding refuses a packet whose TTL (hop limit) would
            // reach 0 (`ip_forward`: `ttl <= 1`, ICMP time exceeded)
            // before the FORWARD hook.
            if env.fl.p.ttl <= 1 {
                self.kernel = Some(KernelDrop::TtlExceeded);
                return None;
            }
            // IP forwarding decrements the TTL (hop limit) before the
            // FORWARD hook: FORWARD and POSTROUTING see one less.
            env.fl.p.ttl = env.fl.p.ttl.saturating_sub(1);
            self.hook(env, TableKind::Mangle, Hook::Forward)?;
            self.hook(env, TableKind::Filter, Hook::Forward)?;
            self.hook(env, TableKind::Security, Hook::Forward)?;
            self.hook(env, TableKind::Mangle, Hook::Postrouting)?;
            self.nat_hook(env, Hook::Postrouting)?;
        }
        Some(())
    }

    fn output(&mut self, env: &mut Env<'_, '_, '_>) -> Option<()> {
        let (pkt, ctx, dst) = (env.pkt, env.ctx, env.fl.p.dst);
        env.fl.out = pkt.out_iface.as_deref().or_else(|| ctx.route_ref(dst));
        env.fl.routed = true;
        self.hook(env, TableKind::Raw, Hook::Output)?;
        self.conntrack(env);
        self.hook(env, TableKind::Mangle, Hook::Output)?;
        let before = env.fl.p.dst;
        self.nat_hook(env, Hook::Output)?;
        self.hook(env, TableKind::Filter, Hook::Output)?;
        self.hook(env, TableKind::Security, Hook::Output)?;
        if env.fl.p.dst != before && env.pkt.out_iface.is_none() {
            // DNAT in OUTPUT reroutes the packet, but the output device of
            // the OUTPUT hook is fixed when the packet enters it: the rest
            // of OUTPUT still sees the first route's (`-o`), POSTROUTING
            // the new one.
            let (ctx, dst) = (env.ctx, env.fl.p.dst);
            env.fl.out = ctx.route_ref(dst);
        }
        self.hook(env, TableKind::Mangle, Hook::Postrouting)?;
        self.nat_hook(env, Hook::Postrouting)?;
        Some(())
    }

    /// Conntrack: the packet's state from the session, or as given.
    fn conntrack(&mut self, env: &mut Env<'_, '_, '_>) {
        env.fl.tracked = true;
        if env.fl.ct == CtState::Untracked {
            return;
        }
        let len = u64::from(env.fl.p.length);
        if let Some(s) = env.fl.p.ct_state {
            env.fl.ct = s;
            env.fl.conn.known = s == CtState::New;
            env.fl.conn.packets[0] = 1;
            env.fl.conn.bytes[0] = len;
            return;
        }
        let p = &env.fl.p;
        let tuple = p.tuple();
        let found = env
            .st
            .lookup(&tuple)
            .map(|(id, reply)| (id, reply, false))
            .or_else(|| {
                if !p.is_icmp_error() {
                    return None;
                }
                let inner = p.inner?;
                env.st.lookup(&inner).map(|(id, reply)| (id, !reply, true))
            });
        match found {
            // TCP's state machine from SYN_SENT (`tcp_conntracks`): only a
            // SYN (a retransmission; from the other side, with or without
            // ACK) or a RST moves it; anything else is INVALID and leaves
            // the connection as it was.
            Some((id, reply, false))
                if p.protocol == 6
                    && env.st.conns[id].syn_sent
                    && !env.st.conns[id].seen_reply
                    && p.tcp_flags & TCP_RST == 0
                    && (p.tcp_flags & TCP_SYN == 0 || (!reply && p.tcp_flags & TCP_ACK != 0)) =>
            {
                env.fl.ct = CtState::Invalid;
            }
            Some((id, reply, related)) => {
                let c = &env.st.conns[id];
                env.fl.ct = if related {
                    CtState::Related
                } else if reply || c.seen_reply {
                    CtState::Established
                } else {
                    CtState::New
                };
                let d = usize::from(reply);
                let mut packets = c.packets;
                let mut bytes = c.bytes;
                if !related {
                    packets[d] += 1;
                    bytes[d] += len;
                }
                env.fl.conn = ConnView {
                    known: true,
                    orig: c.orig,
                    reply: c.reply,
                    reply_dir: reply,
                    snat: c.snat,
                    dnat: c.dnat,
                    seen_reply: c.seen_reply || reply,
                    mark: c.mark,
                    helper: c.helper.clone(),
                    labels: c.labels,
                    packets,
                    bytes,
                    id: Some(id),
                };
                if related {
                    // A related packet is not part of the connection's
                    // own counters and is not NAT-ed by its binding here.
                    env.fl.conn.id = None;
                    env.fl.conn.snat = false;
                    env.fl.conn.dnat = false;
                }
            }
            // An ICMP error quoting no tracked connection is INVALID, as
            // is any packet that cannot open one (`--state related` or
            // `--state established` say otherwise for a lone packet).
            None if cannot_open(p) => {
                env.fl.ct = CtState::Invalid;
            }
            None if untracked_by_conntrack(p) => {
                env.fl.ct = CtState::Untracked;
            }
            None => {
                env.fl.ct = CtState::New;
                env.fl.conn.packets[0] = 1;
                env.fl.conn.bytes[0] = len;
            }
        }
    }

    /// The nat table for the first packet of a connection; the binding of
    /// a known connection otherwise.
    fn nat_hook(&mut self, env: &mut Env<'_, '_, '_>, hook: Hook) -> Option<()> {
        let fam = env.fl.p.family();
        match env.fl.ct {
            CtState::New => return self.hook(env, TableKind::Nat, hook),
            CtState::Untracked | CtState::Invalid => {
                if self.explain && has_chain(env.prog, fam, TableKind::Nat, hook) {
                    self.trace.push(Step {
                        family: fam,
                        table: TableKind::Nat,
                        chain: hook.name().into(),
                        event: Event::Skipped {
                            reason: format!(
                                "{} packets do not pass the nat table",
                                env.fl.ct.name()
                            ),
                        },
                    });
                }
                return Some(());
            }
            CtState::Established | CtState::Related => {}
        }
        if self.explain && has_chain(env.prog, fam, TableKind::Nat, hook) {
            self.trace.push(Step {
                family: fam,
                table: TableKind::Nat,
                chain: hook.name().into(),
                event: Event::Skipped {
                    reason: "only the first packet of a connection passes the nat table".into(),
                },
            });
        }
        // Apply the connection's binding.
        let cv = env.fl.conn.clone();
        if cv.id.is_none() {
            return Some(());
        }
        let p = &mut env.fl.p;
        let rewrite = match (hook, cv.reply_dir) {
            (Hook::Prerouting | Hook::Output, false) if cv.dnat => {
                Some((NatSide::Destination, cv.reply.src, cv.reply.sport))
            }
            (Hook::Prerouting | Hook::Output, true) if cv.snat => {
                Some((NatSide::Destination, cv.orig.src, cv.orig.sport))
            }
            (Hook::Postrouting | Hook::Input, false) if cv.snat => {
                Some((NatSide::Source, cv.reply.dst, cv.reply.dport))
            }
            (Hook::Postrouting | Hook::Input, true) if cv.dnat => {
                Some((NatSide::Source, cv.orig.dst, cv.orig.dport))
            }
            _ => None,
        };
        if let Some((side, addr, port)) = rewrite {
            let ported = p.has_ports();
            let (ba, bp) = match side {
                NatSide::Source => (p.src, p.sport),
                NatSide::Destination => (p.dst, p.dport),
            };
            match side {
                NatSide::Source => {
                    p.src = addr;
                    if ported {
                        p.sport = port;
                    }
                }
                NatSide::Destination => {
                    p.dst = addr;
                    if ported {
                        p.dport = port;
                    }
                }
            }
            env.fl.version += 1;
            env.nat.push(NatRewrite {
                side,
                target: "conntrack".into(),
                rule: None,
                before_addr: ba,
                before_port: if ported { bp } else { 0 },
                after_addr: Some(addr),
                after_port: if ported { port } else { 0 },
                port_range: None,
                note: Some("the connection's NAT binding".into()),
            });
        }
        Some(())
    }

    /// One base chain. `None`: the packet stops here.
    fn hook(&mut self, env: &mut Env<'_, '_, '_>, kind: TableKind, hook: Hook) -> Option<()> {
        let fam = env.fl.p.family();
        let Some(t) = env.prog.table(fam, kind) else {
            return Some(());
        };
        let Some(c) = env.prog.hook_chain(t, hook) else {
            return Some(());
        };
        env.fl.hook = hook;
        env.fl.table = kind;
        if self.explain {
            self.trace.push(Step {
                family: fam,
                table: kind,
                chain: hook.name().into(),
                event: Event::Hook { hook },
            });
        }
        let (act, by, why) = self.chain(env, t, c);
        let verdict = match act {
            Act::Accept => Verdict::Accept,
            Act::Drop => Verdict::Drop,
            Act::Reject(with) => Verdict::Reject { with },
            Act::Queue(num) => Verdict::Queue { num },
            Act::Unknown(reason) => Verdict::Unknown { reason },
            // `chain` only ends with a verdict.
            Act::Continue | Act::Return | Act::Jump(_) | Act::Goto(_) => Verdict::Accept,
        };
        let stop = verdict != Verdict::Accept;
        self.hooks.push(RawHook {
            table: kind,
            hook,
            verdict,
            by,
            why,
        });
        if stop {
            None
        } else {
            Some(())
        }
    }

    /// Walks a base chain and what it jumps to; ends with a verdict.
    fn chain(
        &mut self,
        env: &mut Env<'_, '_, '_>,
        t: usize,
        base: usize,
    ) -> (Act, RawBy, Vec<String>) {
        let prog = env.prog;
        let tbl = &prog.tables[t];
        let fam = tbl.family;
        let kind = tbl.kind;
        let mut stack: Vec<(usize, usize)> = Vec::new();
        // With a trace: the jumps and gotos that led here (chain, rule,
        // is a goto), for the deciding rule's explanation.
        let mut via: Vec<(usize, usize, bool)> = Vec::new();
        let leave = |via: &mut Vec<(usize, usize, bool)>| {
            while let Some((_, _, goto)) = via.pop() {
                if !goto {
                    break;
                }
            }
        };
        let mut steps = 0usize;
        let max_steps = MAX_STEPS.max(4 * tbl.chains.iter().map(|c| c.rules.len()).sum::<usize>());
        let mut cur = base;
        let mut i = 0usize;
        let mut cursor = self.finder.start(t, cur, &env.fl);
        let mut version = env.fl.version;
        let rref = |c: usize, i: usize| RuleRef {
            family: fam,
            table: kind,
            chain: tbl.chains[c].name.clone(),
            index: i + 1,
            origin: tbl.chains[c].rules[i].origin.clone(),
        };
        loop {
            let chain = tbl.chains[cur];
            let len = chain.rules.len();
            if env.fl.version != version {
                cursor = self.finder.start(t, cur, &env.fl);
                version = env.fl.version;
            }
            let next = self.finder.next(&mut cursor, i, len).min(len);
            if self.explain {
                for j in i..next {
                    let key = RuleKey {
                        table: t as u32,
                        chain: cur as u32,
                        rule: j as u32,
                    };
                    let rule = &chain.rules[j];
                    let mut notes = Notes::new(true);
                    let tri = env.rule(rule, key, &mut notes, true);
                    debug_assert_eq!(tri, Tri::No, "the finder skipped a rule that may match");
                    self.push_rule(
                        fam,
                        kind,
                        &chain.name,
                        j,
                        rule,
                        tri,
                        notes.reason(tri),
                        None,
                    );
                }
            }
            i = next;
            if i >= len {
                // End of the chain.
                leave(&mut via);
                if let Some((c, j)) = stack.pop() {
                    if self.explain {
                        self.push(
                            fam,
                            kind,
                            &chain.name,
                            Event::Return {
                                to: tbl.chains[c].name.clone(),
                            },
                        );
                    }
                    cur = c;
                    i = j;
                    cursor = self.finder.start(t, cur, &env.fl);
                    version = env.fl.version;
                    continue;
                }
                return self.policy(env, t, base);
            }
            steps += 1;
            if steps > max_steps {
                return (
                    Act::Unknown("the chains loop (goto cycle)".into()),
                    RawBy {
                        table: t,
                        chain: cur,
                        rule: Some(i),
                    },
                    vec![],
                );
            }
            let rule = &chain.rules[i];
            let key = RuleKey {
                table: t as u32,
                chain: cur as u32,
                rule: i as u32,
            };
            let mut notes = Notes::new(self.explain);
            let tri = env.rule(rule, key, &mut notes, false);
            match tri {
                Tri::No => {
                    if self.explain {
                        self.push_rule(
                            fam,
                            kind,
                            &chain.name,
                            i,
                            rule,
                            tri,
                            notes.reason(tri),
                            None,
                        );
                    }
                    i += 1;
                }
                Tri::Unknown => {
                    if !self.explain {
                        // The reason is part of the verdict: evaluate the
                        // rule again (without state changes) for it.
                        notes = Notes::new(true);
                        env.explain = true;
                        let _ = env.rule(rule, key, &mut notes, true);
                        env.explain = false;
                    }
                    let reason = notes.reason(tri);
                    if self.explain {
                        self.push_rule(fam, kind, &chain.name, i, rule, tri, reason.clone(), None);
                    }
                    return (
                        Act::Unknown(reason),
                        RawBy {
                            table: t,
                            chain: cur,
                            rule: Some(i),
                        },
                        notes.unknown,
                    );
                }
                Tri::Yes => {
                    let (act, effect) = env.target(rule, || rref(cur, i), tbl.jumps[cur][i], false);
                    if self.explain {
                        self.push_rule(
                            fam,
                            kind,
                            &chain.name,
                            i,
                            rule,
                            tri,
                            notes.reason(tri),
                            effect,
                        );
                    }
                    match act {
                        Act::Continue => i += 1,
                        Act::Return => {
                            leave(&mut via);
                            if let Some((c, j)) = stack.pop() {
                                if self.explain {
                                    self.push(
                                        fam,
                                        kind,
                                        &chain.name,
                                        Event::Return {
                                            to: tbl.chains[c].name.clone(),
                                        },
                                    );
                                }
                                cur = c;
                                i = j;
                                cursor = self.finder.start(t, cur, &env.fl);
                                version = env.fl.version;
                            } else {
                                return self.policy(env, t, base);
                            }
                        }
                        Act::Jump(c) | Act::Goto(c) => {
                            if stack.len() >= MAX_DEPTH {
                                return (
                                    Act::Unknown("chains nest too deeply".into()),
                                    RawBy {
                                        table: t,
                                        chain: cur,
                                        rule: Some(i),
                                    },
                                    vec![],
                                );
                            }
                            if matches!(act, Act::Jump(_)) {
                                stack.push((cur, i + 1));
                            }
                            if self.explain {
                                via.push((cur, i, matches!(act, Act::Goto(_))));
                            }
                            cur = c;
                            i = 0;
                            cursor = self.finder.start(t, cur, &env.fl);
                            version = env.fl.version;
                        }
                        verdict => {
                            let mut why: Vec<String> = via
                                .iter()
                                .map(|&(c, r, goto)| {
                                    let ch = tbl.chains[c];
                                    let at =
                                        ch.rules[r].origin.as_ref().map_or_else(String::new, |o| {
                                            format!(" ({}:{})", o.file, o.line)
                                        });
                                    format!(
                                        "{} {} rule {}{at} {} {}",
                                        kind.name(),
                                        ch.name,
                                        r + 1,
                                        if goto { "went to" } else { "jumped to" },
                                        tbl.chains[next_chain(tbl, c, r)].name
                                    )
                                })
                                .collect();
                            why.extend(notes.yes);
                            return (
                                verdict,
                                RawBy {
                                    table: t,
                                    chain: cur,
                                    rule: Some(i),
                                },
                                why,
                            );
                        }
                    }
                }
            }
        }
    }

    fn policy(
        &mut self,
        env: &Env<'_, '_, '_>,
        t: usize,
        base: usize,
    ) -> (Act, RawBy, Vec<String>) {
        let tbl = &env.prog.tables[t];
        let chain = tbl.chains[base];
        let policy = chain.policy.unwrap_or(ChainPolicy::Accept);
        let mut why = Vec::new();
        if self.explain {
            self.push(tbl.family, tbl.kind, &chain.name, Event::Policy { policy });
            why.push(format!(
                "no rule of {} {} decided",
                tbl.kind.name(),
                chain.name
            ));
        }
        let act = match policy {
            ChainPolicy::Accept => Act::Accept,
            ChainPolicy::Drop => Act::Drop,
        };
        (
            act,
            RawBy {
                table: t,
                chain: base,
                rule: None,
            },
            why,
        )
    }

    fn push(&mut self, family: rampart_model::Family, table: TableKind, chain: &str, event: Event) {
        self.trace.push(Step {
            family,
            table,
            chain: chain.to_string(),
            event,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn push_rule(
        &mut self,
        family: rampart_model::Family,
        table: TableKind,
        chain: &str,
        i: usize,
        rule: &rampart_model::Rule,
        tri: Tri,
        reason: String,
        effect: Option<String>,
    ) {
        let matched = match tri {
            Tri::Yes => Matched::Yes,
            Tri::No => Matched::No,
            Tri::Unknown => Matched::Unknown,
        };
        self.push(
            family,
            table,
            chain,
            Event::Rule {
                index: i + 1,
                origin: rule.origin.clone(),
                matched,
                reason,
                target: rule
                    .target
                    .as_ref()
                    .map_or_else(String::new, |t| t.name().to_string()),
                effect,
            },
        );
    }
}

fn has_chain(prog: &Program<'_>, fam: rampart_model::Family, kind: TableKind, hook: Hook) -> bool {
    prog.table(fam, kind)
        .is_some_and(|t| prog.hook_chain(t, hook).is_some())
}

/// Whether nf_conntrack refuses to open a connection with this packet when
/// it belongs to no known one (it is then INVALID): TCP unless a SYN or a
/// bare ACK (picked up mid-stream, `nf_conntrack_tcp_loose`), ignoring
/// PSH/URG/ECE/CWR (`tcp_new`, `tcp_error`: SYN+ACK, RST, FIN, no flag,
/// SYN+FIN...); ICMP other than the queries echo, timestamp, information
/// and address-mask request (`icmp_new`; an error quoting nothing tracked
/// is INVALID as well); ICMPv6 other than echo request and node
/// information query (`icmpv6_new`), neighbour discovery and MLD aside
/// (untracked, see [`untracked_by_conntrack`]).
pub(crate) fn cannot_open(p: &Packet) -> bool {
    use rampart_model::matches::tcp::flags::{ACK, CWR, ECE, PSH, SYN, URG};
    match p.protocol {
        6 => {
            let f = p.tcp_flags & !(PSH | URG | ECE | CWR);
            f != SYN && f != ACK
        }
        1 if p.family() == Family::Ipv4 => !matches!(p.icmp_type, 8 | 13 | 15 | 17),
        58 if p.family() == Family::Ipv6 => {
            !matches!(p.icmp_type, 128 | 139) && !untracked_by_conntrack(p)
        }
        _ => false,
    }
}

/// IPv6 neighbour discovery and multicast listener messages, which
/// nf_conntrack leaves untracked (`nf_conntrack_proto_icmpv6.c`,
/// `noct_valid_new`).
pub(crate) fn untracked_by_conntrack(p: &Packet) -> bool {
    p.protocol == 58 && p.family() == Family::Ipv6 && matches!(p.icmp_type, 130..=137 | 143)
}
