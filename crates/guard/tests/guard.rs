//! Integration tests of the decision engine: its invariants under random
//! sequences of events (property tests) and its memory bound under ten
//! million distinct attacker addresses.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;
use rampart_guard::{Action, Engine, Group, GuardConfig, JailConfig, Net, Timestamp};

const T: Timestamp = 1_700_000_000;

#[derive(Debug, Clone)]
enum Op {
    Fail(u8, u8),
    Tick(u16),
    Admin(Option<(u8, u8)>),
    BanPrefix(u8, u16),
    Unban(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..3, any::<u8>()).prop_map(|(p, h)| Op::Fail(p, h % 8)),
        2 => any::<u16>().prop_map(|s| Op::Tick(s % 900)),
        1 => proptest::option::of((0u8..3, any::<u8>())).prop_map(|x| Op::Admin(x.map(|(p, h)| (p, h % 8)))),
        1 => (0u8..3, 1u16..2000).prop_map(|(p, d)| Op::BanPrefix(p, d)),
        1 => (0u8..3, any::<u8>()).prop_map(|(p, h)| Op::Unban(p, h % 8)),
    ]
}

fn addr(p: u8, h: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 110 + p, h))
}

fn engine() -> Engine {
    let mut c = GuardConfig {
        ignoreip: vec!["203.0.111.3".into()],
        ..Default::default()
    };
    c.prefix.members = 3;
    c.prefix.window = rampart_guard::Duration(300);
    c.prefix.bantime = rampart_guard::Duration(700);
    c.jail.insert(
        "sshd".into(),
        JailConfig {
            maxretry: 2,
            findtime: rampart_guard::Duration(120),
            bantime: rampart_guard::Duration(400),
            bantime_increment: Some(Default::default()),
            ..Default::default()
        },
    );
    Engine::new(&c).expect("valid")
}

/// What the kernel's ban set holds after applying the actions in order.
fn apply(kernel: &mut BTreeSet<Net>, actions: &[Action]) {
    for a in actions {
        match a {
            Action::Ban(b) => {
                kernel.insert(b.net);
            }
            Action::Unban(u) => {
                assert!(
                    kernel.remove(&u.net),
                    "unban of {} which is not in the kernel: {actions:?}",
                    u.net
                );
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whitelisted addresses are never covered by an active ban; bans
    /// never outlive their end; the kernel set built from the actions is
    /// exactly the engine's enforced networks.
    #[test]
    fn invariants_hold_under_random_events(ops in proptest::collection::vec(op(), 1..120)) {
        let mut e = engine();
        let mut kernel = BTreeSet::new();
        let mut now = T;
        let mut admin: Option<IpAddr> = None;
        for op in ops {
            let actions = match op {
                Op::Fail(p, h) => e.on_failure(now, "sshd", addr(p, h), "x"),
                Op::Tick(s) => {
                    now += u64::from(s);
                    e.on_tick(now)
                }
                Op::Admin(x) => {
                    admin = x.map(|(p, h)| addr(p, h));
                    e.set_group(now, Group::AdminSessions, admin.as_slice())
                }
                Op::BanPrefix(p, d) => {
                    let net = Net::containing(addr(p, 0), 24);
                    e.ban(now, net, Some(u64::from(d)), "test").unwrap_or_default()
                }
                Op::Unban(p, h) => e.unban(now, Net::host(addr(p, h))).unwrap_or_default(),
            };
            apply(&mut kernel, &actions);
            let active: Vec<_> = e.active().collect();
            let enforced: BTreeSet<Net> = active.iter().flat_map(|b| b.parts.iter().copied()).collect();
            prop_assert_eq!(&kernel, &enforced);
            let mut whitelisted = vec![addr(1, 3), "127.0.0.1".parse().expect("ip")];
            whitelisted.extend(admin);
            for w in &whitelisted {
                prop_assert!(e.is_whitelisted(*w));
                for n in &enforced {
                    prop_assert!(!n.contains(*w), "{} covers whitelisted {}", n, w);
                }
            }
            if matches!(op, Op::Tick(_)) {
                for b in &active {
                    prop_assert!(b.until > now, "{} outlived its end", b.net);
                }
            }
        }
    }
}

/// Issue 6: memory stays bounded under 10 million distinct attacker
/// addresses. Each address fails once (below maxretry), so every one
/// needs a counter; the cap forgets the oldest and counts them.
#[test]
fn issue6_ten_million_distinct_addresses_stay_within_the_counter_bound() {
    let cap = 100_000;
    let mut c = GuardConfig::default();
    c.limits.max_tracked = cap;
    c.jail.insert("sshd".into(), JailConfig::default());
    let mut e = Engine::new(&c).expect("valid");
    let rss_before = rss_kib();
    let total: u32 = 10_000_000;
    let mut shedding_alerts = 0;
    let mut peak_bytes = 0;
    for i in 0..total {
        // Spread over the whole IPv4 space (no two in one /24 often).
        let a = IpAddr::V4(Ipv4Addr::from(i.wrapping_mul(2_654_435_761)));
        let actions = e.on_failure(T + u64::from(i / 100_000), "sshd", a, "");
        shedding_alerts += actions
            .iter()
            .filter(|a| matches!(a, Action::Alert(_)))
            .count();
        if i % 1_000_000 == 0 {
            peak_bytes = peak_bytes.max(e.counter_bytes());
        }
    }
    let m = e.metrics();
    peak_bytes = peak_bytes.max(e.counter_bytes());
    assert_eq!(m.tracked, cap);
    // Distinct addresses (an odd multiplier is a bijection); those in
    // 127/8 are whitelisted.
    assert_eq!(
        m.counters_evicted + cap as u64 + m.ignored_whitelisted,
        u64::from(total)
    );
    assert!(shedding_alerts > 0, "evictions are reported");
    assert_eq!(m.bans, 0);
    // Entry size × capacity, hash table and queue together.
    let per_entry = peak_bytes / cap;
    assert!(per_entry <= 128, "{per_entry} bytes per tracked address");
    let rss_after = rss_kib();
    eprintln!(
        "10M addresses, cap {cap}: counters {} KiB ({per_entry} B/entry), RSS {rss_before} -> {rss_after} KiB",
        peak_bytes / 1024
    );
    // The whole process grew by less than 64 MiB (the counters need ~9 MiB).
    assert!(
        rss_after.saturating_sub(rss_before) < 64 * 1024,
        "RSS grew {rss_before} -> {rss_after} KiB"
    );
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
