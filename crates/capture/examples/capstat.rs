//! Reads a capture, decodes and tracks every packet, prints counts per
//! conntrack state and the rate: the reader + flow-tracker half of
//! `rampart replay`, used by `bench/replay.sh`.
//!
//!     cargo run --release -p rampart-capture --example capstat -- FILE

use rampart_capture::{decode, open, CtState, Timeouts, Tracker};
use std::collections::BTreeMap;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: capstat FILE.pcap|FILE.pcapng");
        std::process::exit(2);
    };
    let start = std::time::Instant::now();
    let mut reader = match open(std::path::Path::new(&path)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let mut tracker = Tracker::new(Timeouts::default());
    let mut states: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut packets, mut skipped, mut bytes) = (0u64, 0u64, 0u64);
    loop {
        match reader.next_record() {
            Ok(Some(rec)) => {
                packets += 1;
                bytes += rec.data.len() as u64;
                match decode(&rec) {
                    Ok(info) => {
                        let st: CtState = tracker.track(&info, rec.ts_nanos).state;
                        *states.entry(st.name()).or_default() += 1;
                    }
                    Err(_) => skipped += 1,
                }
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(2);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("packets {packets} (not IP or malformed: {skipped}), {bytes} bytes of frames");
    for (s, n) in &states {
        println!("  {s:<12} {n}");
    }
    println!(
        "{:.3} s, {:.0} packets/s, {:.0} MB/s",
        secs,
        packets as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}
