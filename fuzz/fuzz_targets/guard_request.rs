//! Requests on the guard daemon's control socket are untrusted bytes:
//! the parser never panics, and a request it accepts prints back to a
//! line that parses to the same request.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_daemon::control::{parse_request, request_line};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_request(data) {
        assert_eq!(parse_request(request_line(&r).as_bytes()), Ok(r));
    }
});
