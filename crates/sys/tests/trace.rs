//! Issue 4: the kernel oracle. Small policies whose verdict and deciding
//! rule per packet are known by hand; each packet is crafted, sent from a
//! peer namespace with a raw socket into a throwaway `fw` namespace holding
//! the policy, and followed with nftables trace events.
//!
//! Needs root, `ip` (iproute2) and `nft`; in CI (CI=true) a missing
//! prerequisite is a failure, elsewhere a printed notice.

use rampart_nft::Ruleset;
use rampart_syntax::diag::SourceFile;
use rampart_syntax::format::Format;
use rampart_sys::craft::{tcp_flags::*, Probe, L4};
use rampart_sys::oracle::{KernelVerdict, Oracle, OracleConfig, OracleError};
use rampart_sys::trace::{ct_bits, TraceType};
use std::net::IpAddr;

fn lower_text(name: &str, text: &str) -> Ruleset {
    let format = Format::detect(name, text);
    let parsed = format.parse(&SourceFile::new(name.to_string(), text.to_string()));
    assert!(
        !parsed.diagnostics.has_errors(),
        "{name}: {}",
        parsed.diagnostics
    );
    rampart_nft::lower(&parsed.value).unwrap_or_else(|e| panic!("{name} does not lower: {e:?}"))
}

/// An oracle, or `None` (outside CI) when this machine cannot make one.
fn oracle(ifaces: &[&str]) -> Option<Oracle> {
    let cfg = OracleConfig {
        interfaces: ifaces.iter().map(|s| s.to_string()).collect(),
    };
    let tool = |t: &str| std::process::Command::new(t).arg("-V").output().is_ok();
    let why = if !rampart_sys::netns::is_root() {
        "not root"
    } else if !tool("ip") || !tool("nft") {
        "ip or nft missing"
    } else {
        // Everything is there: a failure to build the oracle is a failure.
        return Some(Oracle::new(&cfg).expect("build the oracle's namespaces"));
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the kernel oracle tests need root, ip and nft in CI: {why}");
    }
    eprintln!("NOTICE: skipping a kernel oracle test (needs root, ip netns, nft): {why}");
    None
}

fn a(s: &str) -> IpAddr {
    s.parse().expect("address")
}

/// The deciding line of an observation (0 for a chain policy).
fn line(o: &rampart_sys::oracle::Observation) -> u32 {
    o.deciding_origin().map_or(0, |o| o.line)
}

const FILTER_V4: &str = "\
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset
-A INPUT -p udp -m udp --dport 53 -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A INPUT -p tcp -m tcp --tcp-flags SYN,FIN SYN,FIN -j DROP
COMMIT
";

#[test]
fn issue4_oracle_new_packets_verdict_and_rule() {
    let Some(mut o) = oracle(&["eth0"]) else {
        return;
    };
    o.load(&lower_text("filter.v4", FILTER_V4)).expect("loads");
    let fw = a("198.51.100.1");
    let cases: Vec<(Probe, KernelVerdict, u32)> = vec![
        (
            Probe::tcp(a("192.0.2.5"), fw, 40000, 22, SYN),
            KernelVerdict::Accept,
            6,
        ),
        (
            Probe::tcp(a("203.0.113.9"), fw, 40000, 22, SYN),
            KernelVerdict::Drop,
            0,
        ),
        (
            Probe::tcp(a("203.0.113.9"), fw, 40001, 25, SYN),
            KernelVerdict::Reject,
            7,
        ),
        (
            Probe::udp(a("203.0.113.9"), fw, 5000, 53),
            KernelVerdict::Accept,
            8,
        ),
        (
            Probe::udp(a("203.0.113.9"), fw, 5000, 54),
            KernelVerdict::Drop,
            0,
        ),
        (
            Probe::icmp(a("203.0.113.9"), fw, 8, 0),
            KernelVerdict::Accept,
            9,
        ),
        (
            Probe::icmp(a("203.0.113.9"), fw, 13, 0),
            KernelVerdict::Drop,
            0,
        ),
        // SYN+FIN from an allowed source to an allowed port: conntrack
        // calls it INVALID, so line 5 does not take it, line 6 does.
        (
            Probe::tcp(a("192.0.2.5"), fw, 40002, 22, SYN | FIN),
            KernelVerdict::Accept,
            6,
        ),
        (
            Probe::tcp(a("203.0.113.9"), fw, 40002, 80, SYN | FIN),
            KernelVerdict::Drop,
            10,
        ),
        // A second destination address is made local on the fly.
        (
            Probe::tcp(a("192.0.2.77"), a("198.51.100.99"), 1, 22, SYN),
            KernelVerdict::Accept,
            6,
        ),
    ];
    for (i, (p, verdict, want_line)) in cases.iter().enumerate() {
        o.flush_conntrack().expect("flush");
        let obs = o
            .send("eth0", p)
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(obs.verdict, *verdict, "case {i} {p:?}: {obs:#?}");
        assert_eq!(line(&obs), *want_line, "case {i} {p:?}: {obs:#?}");
        let d = obs.deciding.as_ref().expect("a deciding step");
        assert_eq!(d.table, "rampart");
        // rampart lowers an iptables chain policy to a last rule without a
        // source line (the base chain's own policy stays accept).
        if *want_line == 0 {
            assert!(d.origins.is_empty(), "case {i}");
        } else {
            assert_eq!(d.kind, TraceType::Rule, "case {i}");
            assert!(d.handle.is_some() && d.position.is_some());
        }
    }
}

#[test]
fn issue4_oracle_established_and_related_flows() {
    let Some(mut o) = oracle(&["eth0"]) else {
        return;
    };
    o.load(&lower_text("filter.v4", FILTER_V4)).expect("loads");
    let fw = a("198.51.100.1");
    o.listen_tcp((fw, 22).into()).expect("listen");
    // A real handshake: SYN accepted by line 6 (NEW), then the flow is
    // ESTABLISHED and line 5 takes its packets.
    let (syn, flow) = o
        .handshake("eth0", &Probe::tcp(a("192.0.2.5"), fw, 41000, 22, SYN))
        .expect("handshake");
    assert_eq!((syn.verdict, line(&syn)), (KernelVerdict::Accept, 6));
    let data = o.send("eth0", &flow.probe(ACK | PSH)).expect("data");
    assert_eq!(
        (data.verdict, line(&data)),
        (KernelVerdict::Accept, 5),
        "{data:#?}"
    );
    // The kernel's own word on the state (kernels since 6.12 report it).
    if let Some(st) = syn.ct_state() {
        assert_eq!(st, ct_bits::NEW);
        assert_eq!(data.ct_state(), Some(ct_bits::ESTABLISHED));
    }
    // A blocked source gets no SYN-ACK.
    match o.handshake("eth0", &Probe::tcp(a("203.0.113.9"), fw, 41001, 22, SYN)) {
        Err(OracleError::NoSynAck(_)) => {}
        other => panic!("expected no SYN-ACK, got {other:?}"),
    }
    // A stray ACK (no flow) from a blocked source is not ESTABLISHED.
    let stray = o
        .send("eth0", &Probe::tcp(a("203.0.113.9"), fw, 41002, 22, ACK))
        .expect("stray");
    assert_eq!((stray.verdict, line(&stray)), (KernelVerdict::Drop, 0));

    // UDP: a datagram, the server's answer, then an ICMP port-unreachable
    // about the answer is RELATED (line 5); without the flow it is not.
    let sock = o.bind_udp((fw, 53).into()).expect("bind");
    let peer = a("203.0.113.50");
    let q = o
        .send("eth0", &Probe::udp(peer, fw, 4000, 53))
        .expect("query");
    assert_eq!((q.verdict, line(&q)), (KernelVerdict::Accept, 8));
    o.udp_reply(sock).expect("reply");
    let again = o
        .send("eth0", &Probe::udp(peer, fw, 4000, 53))
        .expect("again");
    assert_eq!((again.verdict, line(&again)), (KernelVerdict::Accept, 5));
    let quoted = Probe::udp(fw, peer, 53, 4000).to_bytes().expect("quoted");
    let icmp_err = Probe {
        payload: quoted,
        l4: L4::Icmp {
            ty: 3,
            code: 3,
            rest: [0; 4],
        },
        ..Probe::icmp(peer, fw, 3, 3)
    };
    let rel = o.send("eth0", &icmp_err).expect("related");
    assert_eq!(
        (rel.verdict, line(&rel)),
        (KernelVerdict::Accept, 5),
        "{rel:#?}"
    );
    o.flush_conntrack().expect("flush");
    let unrel = o.send("eth0", &icmp_err).expect("unrelated");
    assert_eq!(
        (unrel.verdict, line(&unrel)),
        (KernelVerdict::Drop, 0),
        "{unrel:#?}"
    );
}

#[test]
fn issue4_oracle_nat_ipv6_and_interfaces() {
    let Some(mut o) = oracle(&["eth0", "wan0"]) else {
        return;
    };
    let nat = "\
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.51.100.1:80
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i wan0 -p tcp -m tcp --dport 22 -j DROP
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT
COMMIT
";
    o.load(&lower_text("nat.v4", nat)).expect("loads");
    let fw = a("198.51.100.1");
    o.ensure_local(fw).expect("local");
    let dnat = o
        .send("eth0", &Probe::tcp(a("203.0.113.9"), fw, 1234, 8080, SYN))
        .expect("dnat");
    assert_eq!(
        (dnat.verdict, line(&dnat)),
        (KernelVerdict::Accept, 14),
        "{dnat:#?}"
    );
    assert!(
        dnat.steps
            .iter()
            .any(|s| s.table == "rampart-nat" && s.origins.first().map(|o| o.line) == Some(6)),
        "the DNAT rule shows in the trace: {dnat:#?}"
    );
    let plain = o
        .send("eth0", &Probe::tcp(a("203.0.113.9"), fw, 1235, 8081, SYN))
        .expect("plain");
    assert_eq!((plain.verdict, line(&plain)), (KernelVerdict::Drop, 0));
    let lan = o
        .send("eth0", &Probe::tcp(a("203.0.113.9"), fw, 1236, 22, SYN))
        .expect("lan");
    assert_eq!((lan.verdict, line(&lan)), (KernelVerdict::Accept, 13));
    let wan = o
        .send("wan0", &Probe::tcp(a("203.0.113.9"), fw, 1237, 22, SYN))
        .expect("wan");
    assert_eq!((wan.verdict, line(&wan)), (KernelVerdict::Drop, 12));
    assert!(matches!(
        o.send("eth9", &Probe::tcp(a("203.0.113.9"), fw, 1, 22, SYN)),
        Err(OracleError::UnknownInterface(..))
    ));

    let v6 = "\
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 443 -j ACCEPT
-A INPUT -p udp -m udp --dport 500 -j REJECT --reject-with icmp6-adm-prohibited
COMMIT
";
    o.load(&lower_text("v6.v6", v6)).expect("loads v6");
    let (s, d) = (a("2001:db8:1::9"), a("2001:db8:2::1"));
    for (p, v, l) in [
        (Probe::icmp(s, d, 128, 0), KernelVerdict::Accept, 5),
        (Probe::icmp(s, d, 130, 0), KernelVerdict::Drop, 0),
        (Probe::tcp(s, d, 999, 443, SYN), KernelVerdict::Accept, 6),
        (Probe::udp(s, d, 999, 500), KernelVerdict::Reject, 7),
    ] {
        let obs = o.send("eth0", &p).expect("v6 probe");
        assert_eq!((obs.verdict, line(&obs)), (v, l), "{p:?}: {obs:#?}");
    }
}
