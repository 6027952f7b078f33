//! conntrack -L / /proc/net/nf_conntrack text: never panics; every parsed
//! line's counts are consistent; the streaming, threaded source count
//! agrees with counting the parsed entries.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_guard::conntrack::{parse_dump, parse_line};
use rampart_guard::counter::{count_dump_sources, count_sources};

fuzz_target!(|data: &[u8]| {
    let _ = parse_line(data);
    let (entries, bad) = parse_dump(data);
    let (streamed, streamed_bad) = count_dump_sources(data, 3);
    assert_eq!(streamed, count_sources(&entries));
    assert_eq!(streamed_bad, bad.len());
});
