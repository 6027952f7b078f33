//! One line of `journalctl --output=json` (the journal log source):
//! never panics, and a rendered entry never holds a newline.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = rampart_daemon::journal::parse_entry(data) {
        assert!(!entry.line.contains('\n'));
    }
});
