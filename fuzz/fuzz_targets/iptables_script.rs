//! Shell-script front end (iptables/ip6tables/ipset commands, pasted-text
//! hazards): never panics; fixing pasted text never panics either.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_syntax::{script, SourceFile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = script::parse_script(&SourceFile::new("fuzz.sh", text));
    for d in &parsed.diagnostics.0 {
        let _ = d.to_string();
    }
    let (fixed, _) = script::fix_pasted_text(text);
    let _ = script::parse_script(&SourceFile::new("fixed.sh", fixed));
    let _ = script::ipset_save_text(&parsed.value);
});
