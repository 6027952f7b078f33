//! Log lines are untrusted: every built-in detector takes any bytes
//! (invalid UTF-8, NULs, huge lines) without panicking, and a reported
//! address always occurs in the line.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_guard::filter::builtin::{builtin, BUILTIN};
use rampart_guard::filter::{CompileOptions, Filter, Scan};
use std::sync::OnceLock;

static FILTERS: OnceLock<Vec<Filter>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let filters = FILTERS.get_or_init(|| {
        BUILTIN
            .iter()
            .filter_map(|(n, _, _)| builtin(n, &Default::default()))
            .filter_map(|d| Filter::compile(&d, &CompileOptions::default()).ok())
            .collect()
    });
    for f in filters {
        let mut scan = Scan::new(f, 1_700_000_000);
        for line in data.split(|b| *b == b'\n') {
            for hit in scan.bytes(line) {
                let text = String::from_utf8_lossy(line);
                assert!(text.contains(hit.host.as_str()), "{} not in {text}", hit.host);
            }
        }
    }
});
