//! Native set files (issue 5): one entry per line or one CSV column, for
//! every set kind, read through a policy. Never panics; every diagnostic
//! prints; what parses cleanly converts back without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_syntax::{native, SourceFile};

const KINDS: [&str; 6] = ["net", "ip", "port", "ip,port", "net,port", "iface"];
const FORMATS: [&str; 4] = [
    "",
    "format = \"csv\"\n",
    "format = \"csv\"\ncolumn = 2\ndelimiter = \";\"\n",
    "format = \"csv\"\ncolumn = \"net\"\n",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let kind = KINDS[usize::from(sel) % KINDS.len()];
    let format = FORMATS[usize::from(sel / 8) % FORMATS.len()];
    let policy = format!(
        "[sets.s]\ntype = \"{kind}\"\nfile = \"set.txt\"\n{format}\n[sets.t]\nunion = [\"s\"]\nexcept = [\"s\"]\n"
    );
    let body = text.to_string();
    let mut loader = move |path: &str| -> Result<String, String> {
        if path == "set.txt" {
            Ok(body.clone())
        } else {
            Err("no such file".into())
        }
    };
    let parsed = native::parse_native_with(&SourceFile::new("fuzz.toml", policy), &mut loader);
    for d in &parsed.diagnostics.0 {
        let _ = d.to_string();
    }
    if !parsed.diagnostics.has_errors() {
        let _ = native::to_native(&parsed.value);
    }
});
