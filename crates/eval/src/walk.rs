//! netfilter's traversal, shared by both engines: hooks in order, the
//! routing decision, conntrack, chains with jump/goto/RETURN and built-in
//! policies. An engine only decides which rules of a chain are worth
//! evaluating (the [`Finder`]); the reference evaluates every rule.

use crate::context::{Context, Time};
use crate::eval::{reply_tuple, Act, ConnView, Env, Flight, Notes, Tri};
use crate::outcome::{
    Decider, Event, HookResult, Matched, NatRewrite, NatSide, Outcome, PathKind, RuleRef, Step,
    Verdict,
};
use crate::packet::{CtState, Packet};
use crate::program::{Program, RuleKey};
use crate::sets::SetIndex;
use crate::state::{Conn, State};
use rampart_model::{ChainPolicy, Hook, TableKind};

/// Deepest chain nesting followed (iptables itself allows no loops).
const MAX_DEPTH: usize = 64;

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
    let from_host = pkt.in_iface.is_none() && ctx.is_local(pkt.src);
    let tuple = pkt.tuple();
    let fl = Flight {
        p: pkt.clone(),
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
        prog,
        ctx,
        st,
        sets: finder.sets(),
        fl,
        now,
        lone,
        nat: Vec::new(),
    };
    let mut w = Walk {
        finder,
        explain,
        trace: Vec::new(),
        hooks: Vec::new(),
        whys: Vec::new(),
    };
    let completed = if from_host {
        w.output(&mut env)
    } else {
        w.incoming(&mut env)
    };
    let stopped = match (completed, w.hooks.last()) {
        (None, Some(h)) => Some(h.verdict.clone()),
        _ => None,
    };
    let verdict = stopped.clone().unwrap_or(Verdict::Accept);
    // The deciding entry: what stopped it, else filter's decision, else
    // the last one.
    let pick = if stopped.is_some() {
        w.hooks.len().checked_sub(1)
    } else {
        w.hooks
            .iter()
            .rposition(|h| h.table == TableKind::Filter)
            .or(w.hooks.len().checked_sub(1))
    };
    let (decided_by, why) = match pick {
        Some(i) => (w.hooks[i].decided_by.clone(), w.whys[i].clone()),
        None => (Decider::Nothing, Vec::new()),
    };
    commit(&mut env, &verdict);
    Outcome {
        packet: pkt.clone(),
        path: env.fl.path,
        ct_state: env.fl.ct,
        out_iface: env.fl.out.clone(),
        verdict,
        decided_by,
        why,
        hooks: w.hooks,
        nat: env.nat,
        trace: w.trace,
    }
}

/// Records the connection (a NEW one that was accepted; an existing one
/// always: counters, marks, labels).
fn commit(env: &mut Env<'_, '_>, verdict: &Verdict) {
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
    hooks: Vec<HookResult>,
    whys: Vec<Vec<String>>,
}

impl<F: Finder> Walk<'_, F> {
    fn incoming(&mut self, env: &mut Env<'_, '_>) -> Option<()> {
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
            env.fl.out = env
                .fl
                .p
                .out_iface
                .clone()
                .or_else(|| env.ctx.route(env.fl.p.dst));
            env.fl.routed = true;
            self.hook(env, TableKind::Mangle, Hook::Forward)?;
            self.hook(env, TableKind::Filter, Hook::Forward)?;
            self.hook(env, TableKind::Security, Hook::Forward)?;
            self.hook(env, TableKind::Mangle, Hook::Postrouting)?;
            self.nat_hook(env, Hook::Postrouting)?;
        }
        Some(())
    }

    fn output(&mut self, env: &mut Env<'_, '_>) -> Option<()> {
        env.fl.out = env
            .fl
            .p
            .out_iface
            .clone()
            .or_else(|| env.ctx.route(env.fl.p.dst));
        env.fl.routed = true;
        self.hook(env, TableKind::Raw, Hook::Output)?;
        self.conntrack(env);
        self.hook(env, TableKind::Mangle, Hook::Output)?;
        let before = env.fl.p.dst;
        self.nat_hook(env, Hook::Output)?;
        if env.fl.p.dst != before && env.fl.p.out_iface.is_none() {
            // DNAT in OUTPUT reroutes.
            env.fl.out = env.ctx.route(env.fl.p.dst);
        }
        self.hook(env, TableKind::Filter, Hook::Output)?;
        self.hook(env, TableKind::Security, Hook::Output)?;
        self.hook(env, TableKind::Mangle, Hook::Postrouting)?;
        self.nat_hook(env, Hook::Postrouting)?;
        Some(())
    }

    /// Conntrack: the packet's state from the session, or as given.
    fn conntrack(&mut self, env: &mut Env<'_, '_>) {
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
            None if p.is_icmp_error() && !env.lone => {
                env.fl.ct = CtState::Invalid;
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
    fn nat_hook(&mut self, env: &mut Env<'_, '_>, hook: Hook) -> Option<()> {
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
                note: Some("the connection's NAT binding".into()),
            });
        }
        Some(())
    }

    /// One base chain. `None`: the packet stops here.
    fn hook(&mut self, env: &mut Env<'_, '_>, kind: TableKind, hook: Hook) -> Option<()> {
        let fam = env.fl.p.family();
        let Some(t) = env.prog.table(fam, kind) else {
            return Some(());
        };
        let Some(&c) = env.prog.tables[t].by_name.get(hook.name()) else {
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
        let (act, decided_by, why) = self.chain(env, t, c);
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
        self.hooks.push(HookResult {
            table: kind,
            hook,
            verdict,
            decided_by,
        });
        self.whys.push(why);
        if stop {
            None
        } else {
            Some(())
        }
    }

    /// Walks a base chain and what it jumps to; ends with a verdict.
    fn chain(
        &mut self,
        env: &mut Env<'_, '_>,
        t: usize,
        base: usize,
    ) -> (Act, Decider, Vec<String>) {
        let prog = env.prog;
        let tbl = &prog.tables[t];
        let fam = tbl.family;
        let kind = tbl.kind;
        let mut stack: Vec<(usize, usize)> = Vec::new();
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
                        notes = Notes::new(true);
                        let _ = env.rule(rule, key, &mut notes, true);
                    }
                    let reason = notes.reason(tri);
                    if self.explain {
                        self.push_rule(fam, kind, &chain.name, i, rule, tri, reason.clone(), None);
                    }
                    return (
                        Act::Unknown(reason),
                        Decider::Rule(rref(cur, i)),
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
                                    Decider::Rule(rref(cur, i)),
                                    vec![],
                                );
                            }
                            if matches!(act, Act::Jump(_)) {
                                stack.push((cur, i + 1));
                            }
                            cur = c;
                            i = 0;
                            cursor = self.finder.start(t, cur, &env.fl);
                            version = env.fl.version;
                        }
                        verdict => return (verdict, Decider::Rule(rref(cur, i)), notes.yes),
                    }
                }
            }
        }
    }

    fn policy(&mut self, env: &Env<'_, '_>, t: usize, base: usize) -> (Act, Decider, Vec<String>) {
        let tbl = &env.prog.tables[t];
        let chain = tbl.chains[base];
        let policy = chain.policy.unwrap_or(ChainPolicy::Accept);
        if self.explain {
            self.push(tbl.family, tbl.kind, &chain.name, Event::Policy { policy });
        }
        let act = match policy {
            ChainPolicy::Accept => Act::Accept,
            ChainPolicy::Drop => Act::Drop,
        };
        (
            act,
            Decider::Policy {
                family: tbl.family,
                table: tbl.kind,
                chain: chain.name.clone(),
                policy,
            },
            vec![format!(
                "no rule of {} {} decided",
                tbl.kind.name(),
                chain.name
            )],
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
        .is_some_and(|t| prog.tables[t].by_name.contains_key(hook.name()))
}
