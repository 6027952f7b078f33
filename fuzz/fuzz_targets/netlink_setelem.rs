//! Set elements in a kernel answer (`rampart set list`, `set test`):
//! never panics on any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for e in rampart_sys::setsync::parse_set_elements(data) {
        let _ = rampart_sys::setsync::key_int(&e.key);
    }
});
