//! pcap/pcapng reader, header decoder and flow tracker: never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rampart_capture::{decode, Reader, Timeouts, Tracker};

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = Reader::new(data) else { return };
    let mut t = Tracker::new(Timeouts::default());
    loop {
        match r.next_record() {
            Ok(Some(rec)) => {
                if let Ok(info) = decode(&rec) {
                    t.track(&info, rec.ts_nanos);
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = e.to_string();
                break;
            }
        }
    }
});
