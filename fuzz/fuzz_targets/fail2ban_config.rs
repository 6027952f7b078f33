//! fail2ban filter files: the INI reader, interpolation, tag substitution
//! and the filter compiler never panic; a filter that compiles scans a few
//! lines without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_guard::filter::{CompileOptions, Filter, Scan};
use rampart_syntax::fail2ban::{ConfigSet, FilterDef};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let set = ConfigSet::from_text("fuzz.conf", text);
    let Ok(def) = FilterDef::from_set("fuzz", &set, &Default::default()) else { return };
    let Ok(filter) = Filter::compile(&def, &CompileOptions::default()) else { return };
    let mut scan = Scan::new(&filter, 1_700_000_000);
    for line in ["Nov 22 00:00:01 web sshd[1]: Failed password for root from 198.51.100.1 port 5 ssh2", "", "x"] {
        let _ = scan.line(line);
    }
});
