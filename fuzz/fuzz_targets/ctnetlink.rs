//! Conntrack netlink messages (dumps and events, `rampart guard`): any
//! bytes decode to entries or errors, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for r in rampart_sys::ctnetlink::decode_datagram(data) {
        if let Ok(Some(ev)) = r {
            let _ = ev.entry.key();
        }
    }
    let _ = rampart_sys::ctnetlink::decode(data);
});
