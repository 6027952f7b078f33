//! iptables-save reader: any bytes must give a model and diagnostics, never
//! a panic; whatever imports cleanly must print and re-import cleanly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_model::Family;
use rampart_syntax::{iptables, SourceFile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for family in [Family::Ipv4, Family::Ipv6] {
        let file = SourceFile::new("fuzz.rules", text);
        let parsed = iptables::parse_save(&file, family);
        for d in &parsed.diagnostics.0 {
            let _ = d.to_string();
        }
        if !parsed.diagnostics.has_errors() {
            let printed = iptables::save_text(&parsed.value, family);
            let again = iptables::parse_save(&SourceFile::new("printed", printed.clone()), family);
            assert!(!again.diagnostics.has_errors(), "printed text does not re-import:\n{printed}\n{}", again.diagnostics);
        }
    }
});
