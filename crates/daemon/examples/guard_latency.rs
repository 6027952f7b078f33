//! Latency of `rampart guard run`: from a log line written to the
//! address present in the kernel's ban set. Run inside the daemon's
//! network namespace (bench/guard_latency.sh does it):
//!
//!   guard_latency LOGFILE SAMPLES [FLOOD_LINES_PER_SECOND] [FIRST_OCTET]
//!
//! Each sample appends one sshd failure line of a new address (the jail
//! has maxretry = 1) and polls the kernel with one GETSETELEM get until
//! the address is in `inet rampart-guard ban4`. With a flood rate, a
//! thread appends that many other sshd lines per second (connection
//! closes, which the filter reads and rejects) meanwhile. Prints p50,
//! p90, p99 and max in milliseconds.

use rampart_nft::TableFamily;
use rampart_sys::setsync::get_element;
use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn line(addr: Ipv4Addr, i: usize) -> String {
    format!(
        "Nov 22 00:00:01 web sshd[{i}]: Failed password for root from {addr} port 4{:04} ssh2\n",
        i % 10_000
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: guard_latency LOGFILE SAMPLES [FLOOD_LINES_PER_SECOND] [FIRST_OCTET]");
        std::process::exit(2);
    }
    let log = args[1].clone();
    let samples: usize = args[2].parse().expect("SAMPLES: a number");
    let flood: u64 = args
        .get(3)
        .map_or(0, |v| v.parse().expect("rate: a number"));
    let first: u8 = args.get(4).map_or(10, |v| v.parse().expect("octet"));
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = (flood > 0).then(|| {
        let (log, stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).expect("open log");
            let start = Instant::now();
            let mut sent: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                // Write in 1 ms slices to hold the rate.
                let due = (start.elapsed().as_secs_f64() * flood as f64) as u64;
                if due > sent {
                    let mut chunk = String::new();
                    for k in sent..due {
                        chunk.push_str(&format!(
                            "Nov 22 00:00:01 web sshd[{k}]: Connection closed by 198.51.{}.{} port 22 [preauth]\n",
                            (k >> 8) & 255,
                            k & 255
                        ));
                    }
                    f.write_all(chunk.as_bytes()).expect("flood write");
                    sent = due;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            (sent, start.elapsed())
        })
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open log");
    let mut lat = Vec::with_capacity(samples);
    for i in 0..samples {
        let addr = Ipv4Addr::new(first, 77, (i >> 8) as u8, (i & 255) as u8);
        let t0 = Instant::now();
        f.write_all(line(addr, i).as_bytes()).expect("write");
        loop {
            match get_element(TableFamily::Inet, "rampart-guard", "ban4", &addr.octets()) {
                Ok(Some(_)) => break,
                Ok(None) => {}
                Err(e) => panic!("kernel: {e}"),
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "{addr} never banned"
            );
        }
        lat.push(t0.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let flood_done = flooder.map(|h| h.join().expect("flooder"));
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    let rate = flood_done.map_or(0.0, |(n, d)| n as f64 / d.as_secs_f64());
    println!(
        "samples {samples}  flood {rate:.0} lines/s  p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0)
    );
}
