//! The packet syntax of `rampart why` and the corpus: never panics, prints
//! back to the same packet, and the classifier agrees with the reference
//! interpreter on it (against testdata/web-server.v4 and nat-router.v4).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_eval::{Classifier, Context, LocalAddr, Packet};
use rampart_syntax::{iptables, SourceFile};
use std::sync::OnceLock;

fn policies() -> &'static [rampart_model::Policy] {
    static P: OnceLock<Vec<rampart_model::Policy>> = OnceLock::new();
    P.get_or_init(|| {
        [
            include_str!("../../testdata/web-server.v4"),
            include_str!("../../testdata/nat-router.v4"),
        ]
        .iter()
        .map(|t| iptables::parse_save(&SourceFile::new("p", *t), rampart_model::Family::Ipv4).value)
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(p) = Packet::parse(text) else { return };
    let again = Packet::parse(&p.to_string()).expect("printed packet parses");
    assert_eq!(again, p, "print/parse round trip");
    let ctx = Context::new(vec![
        LocalAddr::parse("10.0.0.1/24%eth0").expect("addr"),
        LocalAddr::parse("198.51.100.1/24%ppp0").expect("addr"),
    ]);
    for policy in policies() {
        let a = rampart_eval::evaluate(policy, &ctx, &p);
        let b = Classifier::new(policy).classify(&ctx, &p);
        assert_eq!(a, b);
        let _ = a.render();
    }
});
