//! Packets per second of the compiled classifier against the reference
//! interpreter on a generated policy: 10,000 rules in filter INPUT plus a
//! blocklist set of 1,000,000 entries (fixed seed). Run with
//! `cargo run --release -p rampart-eval --example bench [RULES] [SET] [SECS]`
//! (bench/eval.sh does).

use rampart_eval::{Classifier, Context, LocalAddr, Packet, Reference, Verdict};
use rampart_model::matches::set::{SetDir, SetMatch};
use rampart_model::matches::state::{CtStates, State};
use rampart_model::matches::tcp::Tcp;
use rampart_model::matches::udp::Udp;
use rampart_model::set::{ElemPart, IpSet, SetElement, SetKind, SetOptions};
use rampart_model::*;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

/// xorshift64*: a fixed, dependency-free pseudo-random sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn addr(&mut self) -> Ipv4Addr {
        // Public-looking space 1.0.0.0 - 223.255.255.255.
        Ipv4Addr::from((1 + self.below(222) as u32) << 24 | (self.next() as u32 & 0x00ff_ffff))
    }
}

const PORTS: [u16; 12] = [22, 25, 53, 80, 110, 143, 443, 993, 3306, 5432, 8080, 9100];

fn policy(rules: usize, set_size: usize, rng: &mut Rng) -> Policy {
    let mut p = Policy::default();
    let mut elements = Vec::with_capacity(set_size);
    for i in 0..set_size {
        let len = if i % 10 == 0 { 24 } else { 32 };
        let net = IpNet::new(IpAddr::V4(rng.addr()), len).expect("prefix");
        elements.push(SetElement {
            parts: vec![ElemPart::Net(net)],
            timeout: None,
            comment: None,
            nomatch: false,
        });
    }
    p.sets.push(IpSet {
        name: "blocklist".into(),
        kind: SetKind::HashNet,
        family: Some(Family::Ipv4),
        timeout: None,
        options: SetOptions::default(),
        elements,
        origin: None,
    });
    let input = p
        .table_mut(Family::Ipv4, TableKind::Filter)
        .chain_mut("INPUT")
        .expect("built-in");
    input.policy = Some(ChainPolicy::Drop);
    let origin = |line: usize| {
        Some(Origin {
            file: "bench".into(),
            line: line as u32,
            column: 1,
        })
    };
    input.rules.push(Rule {
        in_iface: Some(Neg::new(Iface("lo".into()))),
        target: Some(Target::Accept),
        origin: origin(1),
        ..Default::default()
    });
    input.rules.push(Rule {
        matches: vec![Match::State(State {
            states: Neg::new(CtStates {
                established: true,
                related: true,
                ..Default::default()
            }),
        })],
        target: Some(Target::Accept),
        origin: origin(2),
        ..Default::default()
    });
    input.rules.push(Rule {
        matches: vec![Match::SetMatch(SetMatch {
            invert: false,
            set: "blocklist".into(),
            dirs: vec![SetDir::Src],
            return_nomatch: false,
            update_counters: true,
            update_subcounters: true,
            packets: None,
            bytes: None,
        })],
        target: Some(Target::Drop),
        origin: origin(3),
        ..Default::default()
    });
    for i in 0..rules.saturating_sub(4) {
        let line = i + 4;
        let port = PORTS[rng.below(PORTS.len() as u64) as usize];
        let tcp = |d: u16| {
            Match::Tcp(Tcp {
                dport: Some(Neg::new(PortRange::single(d))),
                ..Default::default()
            })
        };
        let rule = match rng.below(10) {
            // Per-address allow of one service (the bulk of real policies).
            0..=5 => Rule {
                source: Some(Neg::new(IpNet::host(IpAddr::V4(rng.addr())))),
                protocol: Some(Neg::new(Protocol::TCP)),
                matches: vec![tcp(port)],
                target: Some(Target::Accept),
                ..Default::default()
            },
            // Per-network drops.
            6 | 7 => Rule {
                source: Some(Neg::new(
                    IpNet::new(IpAddr::V4(rng.addr()), 24).expect("prefix"),
                )),
                target: Some(Target::Drop),
                ..Default::default()
            },
            // Destination-specific services (a multi-homed host).
            8 => Rule {
                destination: Some(Neg::new(IpNet::host(IpAddr::V4(Ipv4Addr::new(
                    10,
                    0,
                    (rng.below(4)) as u8,
                    1 + rng.below(4) as u8,
                ))))),
                protocol: Some(Neg::new(Protocol::TCP)),
                matches: vec![tcp(port)],
                target: Some(Target::Accept),
                ..Default::default()
            },
            // UDP services on one interface.
            _ => Rule {
                in_iface: Some(Neg::new(Iface(format!("eth{}", rng.below(4))))),
                protocol: Some(Neg::new(Protocol::UDP)),
                matches: vec![Match::Udp(Udp {
                    sport: None,
                    dport: Some(Neg::new(PortRange::single(1000 + rng.below(5000) as u16))),
                })],
                target: Some(Target::Accept),
                ..Default::default()
            },
        };
        input.rules.push(Rule {
            origin: origin(line),
            ..rule
        });
    }
    input.rules.push(Rule {
        protocol: Some(Neg::new(Protocol::TCP)),
        matches: vec![Match::Tcp(Tcp {
            dport: Some(Neg::new(PortRange::single(443))),
            ..Default::default()
        })],
        target: Some(Target::Accept),
        origin: origin(rules),
        ..Default::default()
    });
    p
}

fn packets(n: usize, rng: &mut Rng) -> Vec<Packet> {
    (0..n)
        .map(|_| {
            let udp = rng.below(5) == 0;
            let src = IpAddr::V4(rng.addr());
            let dst = IpAddr::V4(Ipv4Addr::new(
                10,
                0,
                rng.below(4) as u8,
                1 + rng.below(4) as u8,
            ));
            let mut p = Packet::new(if udp { 17 } else { 6 }, src, dst);
            p.sport = 1024 + rng.below(60000) as u16;
            p.dport = if udp {
                1000 + rng.below(5000) as u16
            } else {
                PORTS[rng.below(PORTS.len() as u64) as usize]
            };
            p.in_iface = Some(format!("eth{}", rng.below(4)));
            p
        })
        .collect()
}

/// Nanoseconds this thread has run on a CPU (`/proc/thread-self/schedstat`):
/// packets per CPU-second stay meaningful on a shared, loaded machine.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Packets per measured round.
const ROUND: usize = 1_000;

/// Throughput of repeated rounds of [`ROUND`] packets for `secs` seconds:
/// overall per wall second and per CPU-second, and the fastest round by
/// wall time (the least disturbed by other work on a shared machine; the
/// kernel's CPU time is too coarse for rounds of a millisecond).
struct Measured {
    wall: f64,
    cpu: Option<f64>,
    best: f64,
    packets: usize,
}

fn measure(secs: usize, mut round: impl FnMut(usize)) -> Measured {
    let t = Instant::now();
    let c0 = cpu_ns();
    let mut packets = 0usize;
    let mut best = f64::MAX;
    while t.elapsed().as_secs() < secs as u64 {
        let w0 = Instant::now();
        round(packets / ROUND);
        best = best.min(w0.elapsed().as_secs_f64());
        packets += ROUND;
    }
    Measured {
        wall: packets as f64 / t.elapsed().as_secs_f64(),
        cpu: cpu_ns()
            .zip(c0)
            .map(|(b, a)| packets as f64 / ((b - a) as f64 / 1e9)),
        best: ROUND as f64 / best,
        packets,
    }
}

fn main() {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let (rules, set_size, secs) = (arg(1, 10_000), arg(2, 1_000_000), arg(3, 3));
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let t = Instant::now();
    let policy = policy(rules, set_size, &mut rng);
    println!(
        "policy: {} rules in filter INPUT, set blocklist of {} entries (built in {:.2}s)",
        policy.rule_count(),
        set_size,
        t.elapsed().as_secs_f64()
    );
    let mut ctx = Context::new(
        (0..4)
            .flat_map(|n| (1..=4).map(move |h| format!("10.0.{n}.{h}/24%eth{n}")))
            .map(|s| LocalAddr::parse(&s).expect("addr"))
            .collect(),
    );
    ctx.now = rampart_eval::Time::from_secs(1_700_000_000);
    let pkts = packets(100_000, &mut rng);
    assert!(pkts.len() >= 100_000);

    let t = Instant::now();
    let classifier = Classifier::new(&policy);
    println!("classifier built in {:.2}s", t.elapsed().as_secs_f64());
    let reference = Reference::new(&policy);

    // Same answers on a sample (the reference is slow).
    let sample = if std::env::var_os("BENCH_CLASSIFIER_ONLY").is_some() {
        0
    } else {
        200.min(pkts.len())
    };
    let mut accepted = 0;
    for p in &pkts[..sample] {
        let a = reference.verdict(&ctx, p);
        let b = classifier.verdict(&ctx, p);
        assert_eq!(a.verdict, b.verdict, "{p}");
        assert_eq!(a.decided_by, b.decided_by, "{p}");
        let (da, db) = (reference.decide(&ctx, p), classifier.decide(&ctx, p));
        assert_eq!(da, db, "{p}");
        assert_eq!(
            da.by.map(|id| reference.decider(id)),
            Some(a.decided_by.clone())
        );
        accepted += usize::from(a.verdict == Verdict::Accept);
    }
    println!("sample of {sample}: same verdicts and deciding rules, {accepted} accepted");

    // Reference: as many packets as fit in `secs`.
    let t = Instant::now();
    let c0 = cpu_ns();
    let mut n_ref = 0usize;
    let ref_secs = if std::env::var_os("BENCH_CLASSIFIER_ONLY").is_some() {
        0
    } else {
        secs
    };
    while t.elapsed().as_secs() < ref_secs as u64 || n_ref < 10 {
        std::hint::black_box(reference.decide(&ctx, &pkts[n_ref % pkts.len()]));
        n_ref += 1;
    }
    let ref_pps = n_ref as f64 / t.elapsed().as_secs_f64();
    let ref_cpu = cpu_ns()
        .zip(c0)
        .map(|(b, a)| n_ref as f64 / ((b - a) as f64 / 1e9));

    // The classifier, packet by packet and in batches (`decide_batch`:
    // the large set's cache misses of a group of packets overlap), in
    // rounds of 10,000 packets.
    let mut out = Vec::with_capacity(10_000);
    classifier.decide_batch(&ctx, &pkts[..sample.max(1000)], &mut out);
    for (p, d) in pkts.iter().zip(&out) {
        assert_eq!(*d, classifier.decide(&ctx, p), "{p}");
    }
    let fast = pkts[..10_000]
        .iter()
        .filter(|p| classifier.is_fast(&ctx, p))
        .count();
    // Each round takes the next 1,000 of the 100,000 packets: the set
    // lookups' working set is larger than the CPU's L2 cache.
    let round = |k: usize| &pkts[(k % 100) * ROUND..][..ROUND];
    let one = measure(secs, |k| {
        for p in round(k) {
            std::hint::black_box(classifier.decide(&ctx, p));
        }
    });
    let batch = measure(secs, |k| {
        out.clear();
        classifier.decide_batch(&ctx, round(k), &mut out);
        std::hint::black_box(&out);
    });
    let (cls_pps, cls_cpu, n_cls) = (one.wall, one.cpu, one.packets);

    // For instruction counts under callgrind (`bash bench/eval.sh
    // --instructions`): how many packets each entry point classified.
    println!(
        "calls: Reference::decide {} packets, Classifier::decide {} packets, Classifier::decide_batch {} packets",
        n_ref + sample,
        sample + sample.max(1000) + one.packets,
        sample.max(1000) + batch.packets
    );
    let cpu = |v: Option<f64>| v.map_or_else(|| "?".to_string(), |v| format!("{v:.0}"));
    println!(
        "reference interpreter: {ref_pps:>12.0} packets/s wall, {:>12} per CPU-second ({n_ref} packets)",
        cpu(ref_cpu)
    );
    println!(
        "compiled classifier:   {cls_pps:>12.0} packets/s wall, {:>12} per CPU-second ({n_cls} packets)",
        cpu(cls_cpu)
    );
    println!(
        "compiled, batches of 16:{:>11.0} packets/s wall, {:>12} per CPU-second ({} packets)",
        batch.wall,
        cpu(batch.cpu),
        batch.packets
    );
    println!(
        "least disturbed round of {ROUND} (wall time): {:.0} packets/s one by one, {:.0} in batches",
        one.best, batch.best
    );
    println!(
        "fast path (compiled decision program): {:.1}% of packets, the rest through the shared walker",
        fast as f64 / 100.0
    );
    let best = cls_cpu
        .unwrap_or(cls_pps)
        .max(batch.cpu.unwrap_or(batch.wall));
    println!(
        "ratio classifier/reference: {:.0}x (per CPU-second: {})",
        cls_pps / ref_pps,
        cls_cpu
            .zip(ref_cpu)
            .map_or_else(|| "?".to_string(), |(c, r)| format!("{:.0}x", c / r))
    );
    println!(
        "goal 10,000,000 packets/s per core: {} ({:.1}% of it)",
        if best >= 1e7 { "met" } else { "NOT met" },
        best / 1e5
    );
}
