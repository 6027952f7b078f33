//! `ipset save` reader: never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_syntax::{script, SourceFile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = script::parse_ipset_save(&SourceFile::new("fuzz.ipset", text));
    for d in &parsed.diagnostics.0 {
        let _ = d.to_string();
    }
    let _ = script::ipset_save_text(&parsed.value);
});
