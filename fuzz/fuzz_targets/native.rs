//! Native TOML policy: never panics; what parses cleanly converts back
//! without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_syntax::{native, SourceFile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut loader = |_path: &str| -> Result<String, String> { Err("no files while fuzzing".into()) };
    let parsed = native::parse_native_with(&SourceFile::new("fuzz.toml", text), &mut loader);
    for d in &parsed.diagnostics.0 {
        let _ = d.to_string();
    }
    if !parsed.diagnostics.has_errors() {
        let _ = native::to_native(&parsed.value);
    }
});
