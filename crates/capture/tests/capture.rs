//! Issue 4: the capture reader never panics and always names the place of
//! a problem. Random bytes, random bytes behind a valid magic number, and
//! valid files with one byte changed or cut anywhere.

use proptest::prelude::*;
use rampart_capture::{decode, Error, LinkType, PcapWriter, Reader, Timeouts, Tracker};

/// Reads everything, decoding and tracking each packet; returns the
/// number of records or the error.
fn run(bytes: &[u8]) -> Result<u64, Error> {
    let mut r = Reader::new(bytes)?;
    let mut t = Tracker::new(Timeouts::default());
    let mut n = 0;
    while let Some(rec) = r.next_record()? {
        assert!(rec.offset < bytes.len() as u64);
        assert!(rec.data.len() <= bytes.len());
        if let Ok(info) = decode(&rec) {
            t.track(&info, rec.ts_nanos);
        }
        n += 1;
    }
    Ok(n)
}

fn check(bytes: &[u8]) {
    if let Err(Error::Format { offset, .. }) = run(bytes) {
        assert!(offset <= bytes.len() as u64, "offset {offset} past the end");
    }
}

fn sample_pcap(link: LinkType, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), link).expect("header");
    for (i, f) in frames.iter().enumerate() {
        w.write(i as u64 * 1_000_000, f).expect("write");
    }
    w.into_inner()
}

fn frames() -> Vec<Vec<u8>> {
    use etherparse::PacketBuilder;
    let mut out = Vec::new();
    let mut p = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([192, 0, 2, 1], [198, 51, 100, 2], 64)
        .tcp(1, 22, 1, 100)
        .syn()
        .write(&mut p, b"")
        .expect("tcp");
    out.push(p);
    let mut p = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv6([1; 16], [2; 16], 64)
        .udp(5, 53)
        .write(&mut p, b"query")
        .expect("udp");
    out.push(p);
    let mut inner = Vec::new();
    PacketBuilder::ipv4([198, 51, 100, 2], [192, 0, 2, 1], 64)
        .udp(53, 5)
        .write(&mut inner, b"")
        .expect("inner");
    let mut p = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([192, 0, 2, 1], [198, 51, 100, 2], 64)
        .icmpv4_raw(3, 3, [0; 4])
        .write(&mut p, &inner)
        .expect("icmp");
    out.push(p);
    out
}

#[test]
fn issue4_sample_reads() {
    let f = sample_pcap(LinkType::ETHERNET, &frames());
    assert_eq!(run(&f).expect("reads"), 3);
}

/// Inputs the fuzzer found (each once crashed): they read without panic.
#[test]
fn issue4_fuzz_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for entry in std::fs::read_dir(dir).expect("tests/data") {
        let path = entry.expect("entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("fuzz-"))
        {
            check(&std::fs::read(&path).expect("read the regression input"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn issue4_random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check(&bytes);
    }

    #[test]
    fn issue4_random_bodies_behind_good_magic(
        ng in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut f = if ng {
            // Section header block, little endian, length 28.
            let mut h = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
            h.extend_from_slice(&[0xff; 8]);
            h.extend_from_slice(&[28, 0, 0, 0]);
            h
        } else {
            sample_pcap(LinkType::ETHERNET, &[])
        };
        f.extend_from_slice(&body);
        check(&f);
    }

    #[test]
    fn issue4_mutated_captures_never_panic(
        link in prop::sample::select(vec![1u16, 101, 113, 276, 0, 228]),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut f = sample_pcap(LinkType(link), &frames());
        let i = pos.index(f.len());
        f[i] = byte;
        check(&f);
        let c = cut.index(f.len());
        check(&f[..c]);
    }
}
