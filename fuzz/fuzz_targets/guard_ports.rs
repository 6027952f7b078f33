//! A jail's `port`/`protocol` and `/etc/services` text are untrusted:
//! resolving them never panics, and a scope it accepts has sorted,
//! non-overlapping ranges of known protocols.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_guard::{config::parse_services, BanScope, JailConfig};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_services(&text);
    let (proto, ports) = text.split_once('\n').unwrap_or(("tcp", &text));
    let j = JailConfig {
        port: ports.lines().map(String::from).collect(),
        protocol: proto.to_string(),
        ..JailConfig::default()
    };
    if let Ok(BanScope::Ports(v)) = j.ban_scope() {
        for w in v.windows(2) {
            assert!(w[0] < w[1]);
            if w[0].0 == w[1].0 {
                assert!(u32::from(w[0].2) + 1 < u32::from(w[1].1));
            }
        }
        assert!(v.iter().all(|r| matches!(r.0, 6 | 17 | 132) && r.1 <= r.2));
    }
});
