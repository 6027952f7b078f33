// Issue 4: on random small policies (addresses, ports, interfaces and
// states from a small universe; user chains with jumps, gotos and
// RETURNs; sets; limits, recent lists, marks, NAT) and random packet
// sequences, the compiled classifier and the reference interpreter give
// identical outcomes: verdict, deciding rule, NAT rewrites and the whole
// trace with its reasons — and so the same state along the sequence.

use proptest::prelude::*;
use rampart_eval::{Classifier, Context, LocalAddr, Packet, Session, Time};
use rampart_model::matches::limit::{Limit, Rate, RateUnit};
use rampart_model::matches::multiport::{Multiport, MultiportDir};
use rampart_model::matches::recent::{Recent, RecentCommand, RecentSide};
use rampart_model::matches::set::SetMatch;
use rampart_model::matches::state::{CtStates, State};
use rampart_model::matches::tcp::Tcp;
use rampart_model::matches::udp::Udp;
use rampart_model::set::{ElemPart, IpSet, SetElement, SetKind, SetOptions};
use rampart_model::targets::dnat::{Dnat, NatRange};
use rampart_model::targets::mark::Mark;
use rampart_model::targets::reject::{Reject, RejectWith};
use rampart_model::*;
use std::net::IpAddr;

const ADDRS: [&str; 8] = [
    "10.0.0.1",
    "10.0.0.2",
    "10.0.1.7",
    "192.0.2.1",
    "192.0.2.9",
    "198.51.100.4",
    // A local network's broadcast address, and loopback.
    "10.0.0.255",
    "127.0.0.1",
];
const PORTS: [u16; 4] = [22, 80, 443, 1000];
const IFACES: [&str; 3] = ["eth0", "eth1", "lo"];
const USER: [&str; 2] = ["U1", "U2"];

fn ip(i: usize) -> IpAddr {
    ADDRS[i % ADDRS.len()].parse().expect("valid")
}

fn net() -> impl Strategy<Value = Neg<IpNet>> {
    (
        0..ADDRS.len(),
        prop::sample::select(vec![8u8, 16, 24, 32]),
        any::<bool>(),
    )
        .prop_map(|(a, len, inv)| Neg::inverted(IpNet::new(ip(a), len).expect("prefix"), inv))
}

fn ports() -> impl Strategy<Value = Neg<PortRange>> {
    (0..PORTS.len(), any::<bool>(), any::<bool>()).prop_map(|(p, range, inv)| {
        let r = if range {
            PortRange::new(PORTS[p], PORTS[p].saturating_add(500)).expect("range")
        } else {
            PortRange::single(PORTS[p])
        };
        Neg::inverted(r, inv)
    })
}

fn m() -> impl Strategy<Value = Match> {
    prop_oneof![
        3 => (proptest::option::of(ports()), proptest::option::of(ports())).prop_map(|(s, d)| Match::Tcp(Tcp {
            sport: s,
            dport: d,
            ..Default::default()
        })),
        2 => proptest::option::of(ports()).prop_map(|d| Match::Udp(Udp { sport: None, dport: d })),
        1 => (prop::collection::vec(0..PORTS.len(), 1..3), any::<bool>()).prop_map(|(ps, inv)| {
            Match::Multiport(Multiport {
                dir: MultiportDir::Destination,
                ports: Neg::inverted(ps.into_iter().map(|p| PortRange::single(PORTS[p])).collect(), inv),
            })
        }),
        3 => (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(n, e, inv)| Match::State(State {
            states: Neg::inverted(CtStates { new: n, established: e, related: !n && !e, ..Default::default() }, inv),
        })),
        1 => (1u64..4, 1u32..3).prop_map(|(c, b)| Match::Limit(Limit { rate: Rate::new(c, RateUnit::Second), burst: b })),
        1 => (any::<bool>(), proptest::option::of(1u32..3)).prop_map(|(set, hits)| Match::Recent(Recent {
            command: Neg::new(if set { RecentCommand::Set } else { RecentCommand::Update }),
            seconds: Some(5),
            reap: false,
            hitcount: hits,
            rttl: false,
            name: "R".into(),
            mask: "255.255.255.255".parse().expect("mask"),
            side: RecentSide::Source,
        })),
        2 => (0..2usize, any::<bool>()).prop_map(|(s, inv)| Match::SetMatch(SetMatch {
            invert: inv,
            set: ["S1", "S2"][s].into(),
            dirs: vec![matches::set::SetDir::Src],
            return_nomatch: false,
            update_counters: true,
            update_subcounters: true,
            packets: None,
            bytes: None,
        })),
        1 => (0u32..3, any::<bool>()).prop_map(|(v, inv)| Match::Mark(matches::mark::Mark {
            mark: Neg::inverted(matches::mark::MarkMask::exact(v), inv),
        })),
        1 => Just(Match::Comment(matches::comment::Comment { comment: "c".into() })),
        3 => (0..4usize, prop::sample::select(vec![0u8, 1, 2, 63, 64])).prop_map(|(op, value)| {
            let op = [matches::ttl::CmpOp::Eq, matches::ttl::CmpOp::Ne, matches::ttl::CmpOp::Lt, matches::ttl::CmpOp::Gt][op];
            Match::Ttl(matches::ttl::Ttl { op, value })
        }),
    ]
}

/// Targets; `depth` 0 = base chain (may call U1/U2), 1 = U1 (may call
/// U2), 2 = U2 (no calls).
fn target(depth: usize) -> impl Strategy<Value = Option<Target>> {
    let calls: Vec<&'static str> = USER[depth.min(2)..].to_vec();
    let call = if calls.is_empty() {
        Just(None).boxed()
    } else {
        (prop::sample::select(calls), any::<bool>())
            .prop_map(|(c, goto)| {
                Some(if goto {
                    Target::Goto { chain: c.into() }
                } else {
                    Target::Jump { chain: c.into() }
                })
            })
            .boxed()
    };
    prop_oneof![
        3 => Just(Some(Target::Accept)),
        3 => Just(Some(Target::Drop)),
        1 => Just(Some(Target::Reject(Reject { with: RejectWith::TcpReset }))),
        2 => Just(Some(Target::Return)),
        1 => Just(None),
        1 => Just(Some(Target::Log(targets::log::Log::default()))),
        1 => (0u32..3).prop_map(|v| Some(Target::Mark(Mark { value: v, mask: u32::MAX }))),
        1 => Just(Some(Target::SetTarget(targets::set::SetTarget {
            add_set: Some(targets::set::SetRef { name: "S2".into(), dirs: vec![targets::set::SetDir::Src] }),
            ..Default::default()
        }))),
        3 => call,
    ]
}

fn rule(depth: usize) -> impl Strategy<Value = Rule> {
    (
        proptest::option::of(net()),
        proptest::option::of(net()),
        proptest::option::of((
            prop::sample::select(IFACES.to_vec()),
            any::<bool>(),
            any::<bool>(),
        )),
        prop::sample::select(vec![0u8, 6, 6, 17, 1]),
        any::<bool>(),
        prop::collection::vec(m(), 0..3),
        target(depth),
        proptest::option::of((prop::sample::select(IFACES.to_vec()), any::<bool>())),
    )
        .prop_map(|(src, dst, iface, proto, pinv, ms, target, out)| {
            // Keep port matches consistent with the protocol, as the
            // front ends require.
            let proto_ok = |m: &Match| match m {
                Match::Tcp(_) => proto == 6 && !pinv,
                Match::Udp(_) => proto == 17 && !pinv,
                Match::Multiport(_) => (proto == 6 || proto == 17) && !pinv,
                _ => true,
            };
            Rule {
                source: src,
                destination: dst,
                in_iface: iface.map(|(i, wild, inv)| {
                    let name = if wild {
                        format!("{}+", &i[..i.len().min(3)])
                    } else {
                        i.to_string()
                    };
                    Neg::inverted(Iface(name), inv)
                }),
                // Output interfaces only now and then (most rules of
                // the first test keep their shape).
                out_iface: out
                    .filter(|(i, _)| *i == "eth1")
                    .map(|(i, inv)| Neg::inverted(Iface(i.into()), inv)),
                protocol: (proto != 0).then(|| Neg::inverted(Protocol(proto), pinv)),
                matches: ms.into_iter().filter(proto_ok).collect(),
                target,
                ..Default::default()
            }
        })
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        prop::collection::vec(rule(0), 0..8),
        prop::collection::vec(rule(0), 0..4),
        prop::collection::vec(rule(1), 0..4),
        prop::collection::vec(rule(2), 0..4),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec((0..ADDRS.len(), any::<bool>()), 0..4),
        proptest::option::of((0..ADDRS.len(), 0..PORTS.len())),
        proptest::option::of(0u32..3),
    )
        .prop_map(|(input, forward, u1, u2, pin, pfw, elems, dnat, mark)| {
            let mut p = Policy::default();
            let t = p.table_mut(Family::Ipv4, TableKind::Filter);
            t.add_user_chain("U1");
            t.add_user_chain("U2");
            let set = |c: &mut Chain, rules: Vec<Rule>, pol: Option<bool>| {
                c.rules = rules;
                if let Some(d) = pol {
                    c.policy = Some(if d {
                        ChainPolicy::Drop
                    } else {
                        ChainPolicy::Accept
                    });
                }
            };
            for (name, rules, pol) in [
                ("INPUT", input, Some(pin)),
                ("FORWARD", forward, Some(pfw)),
                ("U1", u1, None),
                ("U2", u2, None),
            ] {
                let mut rules = rules;
                for (i, r) in rules.iter_mut().enumerate() {
                    r.origin = Some(Origin {
                        file: name.into(),
                        line: i as u32 + 1,
                        column: 1,
                    });
                }
                set(t.chain_mut(name).expect("chain"), rules, pol);
            }
            if let Some((a, port)) = dnat {
                let nat = p.table_mut(Family::Ipv4, TableKind::Nat);
                nat.chain_mut("PREROUTING")
                    .expect("chain")
                    .rules
                    .push(Rule {
                        protocol: Some(Neg::new(Protocol::TCP)),
                        matches: vec![Match::Tcp(Tcp {
                            dport: Some(Neg::new(PortRange::single(8080))),
                            ..Default::default()
                        })],
                        target: Some(Target::Dnat(Dnat {
                            to: NatRange {
                                addrs: Some(targets::snat::AddrRange::single(ip(a))),
                                ports: Some(PortRange::single(PORTS[port])),
                                base_port: None,
                            },
                            ..Default::default()
                        })),
                        ..Default::default()
                    });
            }
            if let Some(v) = mark {
                let mangle = p.table_mut(Family::Ipv4, TableKind::Mangle);
                mangle
                    .chain_mut("PREROUTING")
                    .expect("chain")
                    .rules
                    .push(Rule {
                        in_iface: Some(Neg::new(Iface("eth1".into()))),
                        target: Some(Target::Mark(Mark {
                            value: v,
                            mask: u32::MAX,
                        })),
                        ..Default::default()
                    });
            }
            let mk = |name: &str, els: &[(usize, bool)]| IpSet {
                name: name.into(),
                kind: SetKind::HashNet,
                family: Some(Family::Ipv4),
                timeout: None,
                options: SetOptions::default(),
                elements: els
                    .iter()
                    .map(|&(a, wide)| SetElement {
                        parts: vec![ElemPart::Net(
                            IpNet::new(ip(a), if wide { 24 } else { 32 }).expect("net"),
                        )],
                        timeout: None,
                        comment: None,
                        nomatch: false,
                    })
                    .collect(),
                origin: None,
            };
            p.sets.push(mk("S1", &elems));
            p.sets.push(mk("S2", &[]));
            p
        })
}

fn packet() -> impl Strategy<Value = Packet> {
    (
        0..ADDRS.len(),
        0..ADDRS.len(),
        prop::sample::select(vec![6u8, 17, 1]),
        0..PORTS.len(),
        prop::sample::select(vec![1000u16, 2000, 8080]),
        proptest::option::of(prop::sample::select(IFACES.to_vec())),
        prop::sample::select(vec![0x02u8, 0x10, 0x12]),
    )
        .prop_map(|(s, d, proto, dp, sp, iface, flags)| {
            let mut p = Packet::new(proto, ip(s), ip(d));
            if proto != 1 {
                p.sport = sp;
                p.dport = if sp == 8080 { 8080 } else { PORTS[dp] };
            }
            if proto == 6 {
                p.tcp_flags = flags;
            }
            p.in_iface = iface.map(str::to_string);
            p
        })
}

fn ctx() -> Context {
    Context::new(vec![
        LocalAddr::parse("10.0.0.1/24%eth0").expect("addr"),
        LocalAddr::parse("10.0.0.2/24%eth0").expect("addr"),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn issue4_classifier_equals_reference(
        policy in policy(),
        packets in prop::collection::vec((packet(), 0u64..3000), 1..7),
    ) {
        let classifier = Classifier::new(&policy);
        let mut reference = Session::new(&policy, ctx());
        let mut compiled = Session::with_classifier(&classifier, ctx());
        let mut now = 0u64;
        for (pkt, dt) in &packets {
            now += dt;
            let t = Time::from_millis(now);
            let a = reference.packet(t, pkt);
            let b = compiled.packet(t, pkt);
            prop_assert_eq!(&a, &b, "\n{}\n--- classifier:\n{}", a.render(), b.render());
            // A lone packet, and the fast paths without traces.
            let mut c = ctx();
            c.now = t;
            let lone = rampart_eval::evaluate(&policy, &c, pkt);
            prop_assert_eq!(&lone, &classifier.classify(&c, pkt));
            let fast = classifier.verdict(&c, pkt);
            prop_assert_eq!(&fast.verdict, &lone.verdict);
            prop_assert_eq!(&fast.decided_by, &lone.decided_by);
            prop_assert_eq!(&fast.nat, &lone.nat);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Random text never panics the packet parser; what parses prints
    /// back to the same packet.
    #[test]
    fn issue4_packet_parser_never_panics(text in "\\PC{0,60}") {
        if let Ok(p) = Packet::parse(&text) {
            prop_assert_eq!(Packet::parse(&p.to_string()).expect("reparses"), p);
        }
    }

    #[test]
    fn issue4_packet_parser_on_near_misses(
        proto in prop::sample::select(vec!["tcp", "udp", "icmp", "sctp", "47", "ipv6-icmp"]),
        a in prop::sample::select(vec!["10.0.0.1", "10.0.0.1:22", "[2001:db8::1]:80", "2001:db8::1", "1.2.3.4:99999", "[::1", "::1:80"]),
        b in prop::sample::select(vec!["10.0.0.2", "10.0.0.2:443", "[2001:db8::2]:443", "2001:db8::2", "x"]),
        fields in prop::collection::vec((
            prop::sample::select(vec!["in", "out", "state", "flags", "icmp-type", "len", "mark", "ctmark", "ttl", "tos", "mac", "frag", "inner", "hl", "bogus"]),
            prop::sample::select(vec!["", "=", "=eth0", "=new", "=SYN,ACK", "=none", "=3/4", "=echo-request", "=1500", "=0x10", "=70000", "=aa:bb:cc:dd:ee:ff", "=udp:10.0.0.1:5>10.0.0.2:53", "=tcp:[2001:db8::1]:5>[2001:db8::2]:6", "=-1", "=nonsense"]),
        ), 0..4),
    ) {
        let rest: String = fields.iter().map(|(k, v)| format!(" {k}{v}")).collect();
        let text = format!("{proto} {a} -> {b}{rest}");
        if let Ok(p) = Packet::parse(&text) {
            prop_assert_eq!(Packet::parse(&p.to_string()).expect("reparses"), p);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// The cheapest call agrees with the full outcome, in both engines.
    #[test]
    fn issue4_decide_equals_outcome(policy in policy(), pkt in packet()) {
        let classifier = Classifier::new(&policy);
        let reference = rampart_eval::Reference::new(&policy);
        let c = ctx();
        let full = reference.evaluate(&c, &pkt);
        let a = reference.decide(&c, &pkt);
        let b = classifier.decide(&c, &pkt);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a.verdict, &full.verdict);
        prop_assert_eq!(a.by.map(|id| classifier.decider(id)).unwrap_or(rampart_eval::Decider::Nothing), full.decided_by);
    }
}

/// Only what the classifier's compiled decision program takes (no limit,
/// recent, `-j SET` or NAT target); more hooks: raw PREROUTING (before
/// conntrack), nat PREROUTING without NAT, OUTPUT, mangle POSTROUTING.
fn stateless(mut p: Policy, raw: Vec<Rule>, out: Vec<Rule>, post: Vec<Rule>) -> Policy {
    for (kind, chain, rules) in [
        (TableKind::Raw, "PREROUTING", raw),
        (TableKind::Filter, "OUTPUT", out),
        (TableKind::Mangle, "POSTROUTING", post),
    ] {
        let rules: Vec<Rule> = rules
            .into_iter()
            .map(|mut r| {
                // No user chains in these tables.
                if matches!(
                    r.target,
                    Some(Target::Jump { .. }) | Some(Target::Goto { .. })
                ) {
                    r.target = Some(Target::Drop);
                }
                r
            })
            .collect();
        p.table_mut(Family::Ipv4, kind)
            .chain_mut(chain)
            .expect("chain")
            .rules
            .extend(rules);
    }
    for t in &mut p.tables {
        for c in &mut t.chains {
            for r in &mut c.rules {
                r.matches
                    .retain(|m| !matches!(m, Match::Limit(_) | Match::Recent(_)));
                if matches!(r.target, Some(Target::SetTarget(_)) | Some(Target::Dnat(_))) {
                    r.target = Some(Target::Accept);
                }
            }
        }
    }
    p
}

fn ctx_routed() -> Context {
    let mut c = ctx();
    c.routes.push(rampart_eval::Route {
        net: IpNet::new("0.0.0.0".parse().expect("addr"), 0).expect("net"),
        dev: "eth1".into(),
    });
    c
}

fn packet_any() -> impl Strategy<Value = Packet> {
    (
        packet(),
        proptest::option::of(prop::sample::select(vec![
            rampart_eval::CtState::New,
            rampart_eval::CtState::Established,
            rampart_eval::CtState::Related,
            rampart_eval::CtState::Invalid,
        ])),
        proptest::option::of(prop::sample::select(vec!["eth0", "eth1", "lo"])),
        0u32..3,
        0u8..8,
        prop::sample::select(vec![0u8, 1, 2, 64]),
    )
        .prop_map(|(mut p, ct, out, mark, frag, ttl)| {
            // TTL 0 and 1 are dropped by the kernel when forwarded; a rule
            // matching the TTL after forwarding sees one less.
            p.ttl = ttl;
            p.ct_state = ct;
            p.out_iface = out.map(str::to_string);
            p.mark = mark;
            p.fragment = frag == 0;
            p
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Issue 4: on stateless policies the classifier answers lone packets
    /// with its compiled decision program (asserted: every packet whose
    /// interfaces are known takes it), and gives the reference's verdict,
    /// deciding rule, per-hook decisions, path and state; with a trace,
    /// the reference's whole trace.
    #[test]
    fn issue4_fast_path_equals_reference(
        policy in policy(),
        raw in prop::collection::vec(rule(2), 0..3),
        out in prop::collection::vec(rule(2), 0..3),
        post in prop::collection::vec(rule(2), 0..3),
        packets in prop::collection::vec(packet_any(), 1..8),
    ) {
        let policy = stateless(policy, raw, out, post);
        let classifier = Classifier::new(&policy);
        let reference = rampart_eval::Reference::new(&policy);
        let c = ctx_routed();
        for pkt in &packets {
            let full = reference.evaluate(&c, pkt);
            prop_assert_eq!(&classifier.classify(&c, pkt), &full, "\n{}", full.render());
            let fast = classifier.verdict(&c, pkt);
            prop_assert_eq!(&fast, &reference.verdict(&c, pkt), "\n{}", full.render());
            prop_assert_eq!(&fast.verdict, &full.verdict);
            prop_assert_eq!(&fast.decided_by, &full.decided_by);
            prop_assert_eq!(classifier.decide(&c, pkt), reference.decide(&c, pkt));
            // A forwarded packet with TTL ≤ 1 is the kernel's drop, which
            // the walker models; every other packet takes the program.
            let forwarded =
                !c.is_local(pkt.dst) && (pkt.in_iface.is_some() || !c.is_local(pkt.src));
            if (pkt.in_iface.is_some() || c.is_local(pkt.src)) && (!forwarded || pkt.ttl > 1) {
                prop_assert!(classifier.is_fast(&c, pkt), "not on the fast path: {}", pkt);
            }
        }
        let mut batch = Vec::new();
        classifier.decide_batch(&c, &packets, &mut batch);
        let one: Vec<_> = packets.iter().map(|p| reference.decide(&c, p)).collect();
        prop_assert_eq!(batch, one);
    }
}
