//! pcap and pcapng readers over any [`Read`], streaming (one buffer,
//! records borrowed from it), with the byte offset and packet number of
//! every problem.
//!
//! pcap: the 24-byte global header (microsecond `a1b2c3d4` or nanosecond
//! `a1b23c4d` magic, either byte order), then 16-byte record headers.
//! pcapng: blocks of `type, total length, body, total length`; Section
//! Header Blocks set the byte order (and may start a new section),
//! Interface Description Blocks give each interface its link type and
//! timestamp resolution (`if_tsresol`), Enhanced, Simple and the obsolete
//! Packet Blocks carry packets; every other block is skipped by its
//! length. Lengths are checked before anything is allocated: a record or
//! block longer than [`MAX_RECORD`] is an error, not an allocation.

use std::io::Read;

/// The largest packet record or block accepted (16 MiB; tcpdump's own
/// limit for a packet is 256 KiB).
pub const MAX_RECORD: u32 = 16 << 20;

/// A link-layer header type (`LINKTYPE_*` of the pcap specifications).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkType(pub u16);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// `LINKTYPE_RAW`: the packet starts with an IPv4 or IPv6 header.
    pub const RAW: LinkType = LinkType(101);
    /// Linux cooked capture (`tcpdump -i any`).
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
    /// `DLT_RAW` as some systems write it in files.
    pub const RAW_BSD: LinkType = LinkType(12);
    pub const LOOP: LinkType = LinkType(108);
}

/// Which file format was detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

/// One packet record. `data` is borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// 1-based packet number (as tcpdump and Wireshark count).
    pub number: u64,
    /// Byte offset of the record (its header, or its block) in the file.
    pub offset: u64,
    /// Time stamp, nanoseconds since the epoch.
    pub ts_nanos: u64,
    pub link: LinkType,
    /// Length of the packet on the wire (may exceed `data.len()` when the
    /// capture was cut by a snap length).
    pub orig_len: u32,
    pub data: &'a [u8],
}

/// A capture file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The data is not a valid capture at `offset`.
    #[error("byte {offset}{}: {what}", packet.map(|p| format!(" (packet {p})")).unwrap_or_default())]
    Format {
        offset: u64,
        /// The number the packet would have had, when the problem is in a
        /// packet record.
        packet: Option<u64>,
        what: String,
    },
}

/// Reads a pcap or pcapng stream, detected from its first four bytes.
#[derive(Debug)]
pub struct Reader<R> {
    src: R,
    buf: Vec<u8>,
    /// Offset in the file of the next unread byte.
    pos: u64,
    number: u64,
    format: Format,
    // pcap
    big_endian: bool,
    nanos: bool,
    link: LinkType,
    // pcapng: per interface (link type, snap length, units per second)
    ifaces: Vec<(LinkType, u32, u64)>,
}

fn u16_at(b: &[u8], at: usize, be: bool) -> u16 {
    let x = [b[at], b[at + 1]];
    if be {
        u16::from_be_bytes(x)
    } else {
        u16::from_le_bytes(x)
    }
}

fn u32_at(b: &[u8], at: usize, be: bool) -> u32 {
    let x = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if be {
        u32::from_be_bytes(x)
    } else {
        u32::from_le_bytes(x)
    }
}

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

impl<R: Read> Reader<R> {
    /// Reads the file header (pcap) or first section header (pcapng).
    pub fn new(mut src: R) -> Result<Reader<R>, Error> {
        let mut head = [0u8; 4];
        let got = read_full(&mut src, &mut head)?;
        if got < 4 {
            return Err(fmt_err(0, None, "the file is too short to be a capture"));
        }
        let mut r = Reader {
            src,
            buf: Vec::with_capacity(1 << 16),
            pos: 4,
            number: 0,
            format: Format::Pcap,
            big_endian: false,
            nanos: false,
            link: LinkType::ETHERNET,
            ifaces: Vec::new(),
        };
        let magic_le = u32::from_le_bytes(head);
        match magic_le {
            0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1 => {
                r.big_endian = matches!(magic_le, 0xd4c3_b2a1 | 0x4d3c_b2a1);
                r.nanos = matches!(magic_le, 0xa1b2_3c4d | 0x4d3c_b2a1);
                let mut rest = [0u8; 20];
                if read_full(&mut r.src, &mut rest)? < 20 {
                    return Err(fmt_err(4, None, "the pcap file header is cut short"));
                }
                r.pos = 24;
                let major = u16_at(&rest, 0, r.big_endian);
                if major != 2 {
                    return Err(fmt_err(4, None, &format!("pcap version {major} is not 2")));
                }
                // The link type is the low 16 bits (the upper carry FCS info).
                r.link = LinkType((u32_at(&rest, 16, r.big_endian) & 0xffff) as u16);
            }
            SHB => {
                r.format = Format::PcapNg;
                r.pos = 0;
                r.read_shb(None)?;
            }
            _ => {
                return Err(fmt_err(
                    0,
                    None,
                    &format!(
                        "not a pcap or pcapng file (first bytes {:02x} {:02x} {:02x} {:02x})",
                        head[0], head[1], head[2], head[3]
                    ),
                ))
            }
        }
        Ok(r)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The next packet, or `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, Error> {
        match self.format {
            Format::Pcap => self.next_pcap(),
            Format::PcapNg => self.next_pcapng(),
        }
    }

    fn next_pcap(&mut self) -> Result<Option<Record<'_>>, Error> {
        let offset = self.pos;
        let number = self.number + 1;
        let mut h = [0u8; 16];
        match read_full(&mut self.src, &mut h)? {
            0 => return Ok(None),
            16 => {}
            n => {
                return Err(fmt_err(
                    offset,
                    Some(number),
                    &format!("the record header is cut short ({n} of 16 bytes)"),
                ))
            }
        }
        let be = self.big_endian;
        let (sec, frac, incl, orig) = (
            u32_at(&h, 0, be),
            u32_at(&h, 4, be),
            u32_at(&h, 8, be),
            u32_at(&h, 12, be),
        );
        if incl > MAX_RECORD {
            return Err(fmt_err(
                offset,
                Some(number),
                &format!("captured length {incl} is larger than the limit of {MAX_RECORD} bytes"),
            ));
        }
        self.fill(incl as usize, offset + 16, number)?;
        self.pos += 16 + u64::from(incl);
        self.number = number;
        let ts_nanos = u64::from(sec) * 1_000_000_000
            + if self.nanos {
                u64::from(frac)
            } else {
                u64::from(frac) * 1000
            };
        Ok(Some(Record {
            number,
            offset,
            ts_nanos,
            link: self.link,
            orig_len: orig.max(incl),
            data: &self.buf[..incl as usize],
        }))
    }

    /// Reads exactly `n` bytes into `buf`; a short read is an error at `at`.
    fn fill(&mut self, n: usize, at: u64, number: u64) -> Result<(), Error> {
        self.buf.resize(n, 0);
        let got = read_full(&mut self.src, &mut self.buf[..n])?;
        if got < n {
            return Err(fmt_err(
                at,
                Some(number),
                &format!("the file ends inside a packet ({got} of {n} bytes)"),
            ));
        }
        Ok(())
    }

    /// A Section Header Block at `self.pos` whose type (and, when `len`
    /// is given, length field) was already read.
    fn read_shb(&mut self, len: Option<[u8; 4]>) -> Result<(), Error> {
        let offset = self.pos;
        let mut h = [0u8; 8];
        let want = if let Some(l) = len {
            h[..4].copy_from_slice(&l);
            read_full(&mut self.src, &mut h[4..])? + 4
        } else {
            read_full(&mut self.src, &mut h)?
        };
        if want < 8 {
            return Err(fmt_err(
                offset,
                None,
                "the section header block is cut short",
            ));
        }
        let bom = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        self.big_endian = match bom {
            BYTE_ORDER_MAGIC => false,
            0x4D3C_2B1A => true,
            _ => {
                return Err(fmt_err(
                    offset + 8,
                    None,
                    &format!("bad pcapng byte-order magic {bom:#010x}"),
                ))
            }
        };
        let len = u32_at(&h, 0, self.big_endian);
        if len < 28 || len & 3 != 0 || len > MAX_RECORD {
            return Err(fmt_err(
                offset + 4,
                None,
                &format!("bad section header block length {len}"),
            ));
        }
        // Body after the byte-order magic, plus the trailing length.
        let rest = len as usize - 12;
        self.fill(rest, offset + 12, self.number + 1)?;
        let major = u16_at(&self.buf, 0, self.big_endian);
        if major != 1 {
            return Err(fmt_err(
                offset + 12,
                None,
                &format!("pcapng version {major} is not 1"),
            ));
        }
        self.check_trailer(len, offset)?;
        self.pos = offset + u64::from(len);
        self.ifaces.clear();
        Ok(())
    }

    fn check_trailer(&self, len: u32, offset: u64) -> Result<(), Error> {
        let b = &self.buf;
        let trailer = u32_at(b, b.len() - 4, self.big_endian);
        if trailer != len {
            return Err(fmt_err(
                offset + u64::from(len) - 4,
                None,
                &format!("block length {len} and trailing length {trailer} differ"),
            ));
        }
        Ok(())
    }

    fn next_pcapng(&mut self) -> Result<Option<Record<'_>>, Error> {
        loop {
            let offset = self.pos;
            let number = self.number + 1;
            let mut h = [0u8; 8];
            match read_full(&mut self.src, &mut h)? {
                0 => return Ok(None),
                8 => {}
                n => {
                    return Err(fmt_err(
                        offset,
                        None,
                        &format!("the block header is cut short ({n} of 8 bytes)"),
                    ))
                }
            }
            let be = self.big_endian;
            let ty = u32_at(&h, 0, be);
            if ty == SHB {
                self.read_shb(Some([h[4], h[5], h[6], h[7]]))?;
                continue;
            }
            let len = u32_at(&h, 4, be);
            if len < 12 || len & 3 != 0 || len > MAX_RECORD {
                return Err(fmt_err(
                    offset + 4,
                    None,
                    &format!("bad block length {len} (block type {ty:#x})"),
                ));
            }
            let pkt = matches!(ty, EPB | SPB | PB);
            self.fill(len as usize - 8, offset + 8, number)?;
            self.check_trailer(len, offset)?;
            self.pos = offset + u64::from(len);
            let body_len = len as usize - 12;
            let err = |what: String| fmt_err(offset, pkt.then_some(number), &what);
            match ty {
                IDB => {
                    if body_len < 8 {
                        return Err(err("interface description block too short".into()));
                    }
                    let link = LinkType(u16_at(&self.buf, 0, be));
                    let snap = u32_at(&self.buf, 4, be);
                    let mut per_sec = 1_000_000u64;
                    // Options: code, length, value padded to 4.
                    let mut o = 8;
                    while o + 4 <= body_len {
                        let code = u16_at(&self.buf, o, be);
                        let olen = usize::from(u16_at(&self.buf, o + 2, be));
                        if code == 0 {
                            break;
                        }
                        if o + 4 + olen > body_len {
                            return Err(err(format!("option {code} overruns its block")));
                        }
                        if code == 9 && olen >= 1 {
                            let v = self.buf[o + 4];
                            let exp = u32::from(v & 0x7f);
                            per_sec = if v & 0x80 == 0 {
                                10u64.checked_pow(exp)
                            } else {
                                2u64.checked_pow(exp)
                            }
                            .filter(|&p| p > 0)
                            .ok_or_else(|| err(format!("bad timestamp resolution {v:#x}")))?;
                        }
                        o += 4 + ((olen + 3) & !3);
                    }
                    self.ifaces.push((link, snap, per_sec));
                }
                EPB | PB => {
                    if body_len < 20 {
                        return Err(err("packet block too short".into()));
                    }
                    let (iface, hi, lo, cap, orig) = if ty == EPB {
                        (
                            u32_at(&self.buf, 0, be),
                            u32_at(&self.buf, 4, be),
                            u32_at(&self.buf, 8, be),
                            u32_at(&self.buf, 12, be),
                            u32_at(&self.buf, 16, be),
                        )
                    } else {
                        (
                            u32::from(u16_at(&self.buf, 0, be)),
                            u32_at(&self.buf, 4, be),
                            u32_at(&self.buf, 8, be),
                            u32_at(&self.buf, 12, be),
                            u32_at(&self.buf, 16, be),
                        )
                    };
                    if cap as usize > body_len - 20 {
                        return Err(err(format!(
                            "captured length {cap} overruns its block ({} bytes left)",
                            body_len - 20
                        )));
                    }
                    let &(link, _, per_sec) = self.ifaces.get(iface as usize).ok_or_else(|| {
                        err(format!(
                            "packet on interface {iface}, which was never described"
                        ))
                    })?;
                    let ts = (u64::from(hi) << 32) | u64::from(lo);
                    let ts_nanos = scale(ts, per_sec);
                    self.number = number;
                    return Ok(Some(Record {
                        number,
                        offset,
                        ts_nanos,
                        link,
                        orig_len: orig.max(cap),
                        data: &self.buf[20..20 + cap as usize],
                    }));
                }
                SPB => {
                    if body_len < 4 {
                        return Err(err("simple packet block too short".into()));
                    }
                    let orig = u32_at(&self.buf, 0, be);
                    let &(link, snap, _) = self
                        .ifaces
                        .first()
                        .ok_or_else(|| err("simple packet block before any interface".into()))?;
                    let mut cap = (body_len - 4).min(orig as usize);
                    if snap > 0 {
                        cap = cap.min(snap as usize);
                    }
                    self.number = number;
                    return Ok(Some(Record {
                        number,
                        offset,
                        ts_nanos: 0,
                        link,
                        orig_len: orig,
                        data: &self.buf[4..4 + cap],
                    }));
                }
                _ => {}
            }
        }
    }
}

/// `ts` units of `1/per_sec` s in nanoseconds (saturating).
fn scale(ts: u64, per_sec: u64) -> u64 {
    let secs = ts / per_sec;
    let frac = ts % per_sec;
    secs.saturating_mul(1_000_000_000)
        .saturating_add((u128::from(frac) * 1_000_000_000 / u128::from(per_sec)) as u64)
}

fn fmt_err(offset: u64, packet: Option<u64>, what: &str) -> Error {
    Error::Format {
        offset,
        packet,
        what: what.to_string(),
    }
}

/// Reads until `buf` is full or the end of the stream; returns the count.
fn read_full(src: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Writes pcap files (microsecond time stamps): for tests, fuzz seeds and
/// the benchmark's generator.
#[derive(Debug)]
pub struct PcapWriter<W: std::io::Write> {
    out: W,
}

impl<W: std::io::Write> PcapWriter<W> {
    pub fn new(mut out: W, link: LinkType) -> std::io::Result<PcapWriter<W>> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&262_144u32.to_le_bytes());
        h.extend_from_slice(&u32::from(link.0).to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out })
    }

    pub fn write(&mut self, ts_nanos: u64, data: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(data.len())
            .map_err(|_| std::io::Error::other("packet longer than 4 GiB"))?;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&((ts_nanos / 1_000_000_000) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&((ts_nanos % 1_000_000_000 / 1000) as u32).to_le_bytes());
        h[8..12].copy_from_slice(&len.to_le_bytes());
        h[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_with(packets: &[&[u8]]) -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new(), LinkType::RAW).expect("header");
        for (i, p) in packets.iter().enumerate() {
            w.write(1_700_000_000_000_000_000 + i as u64 * 1000, p)
                .expect("write");
        }
        w.into_inner()
    }

    /// A little-endian pcapng: SHB, IDB (link, tsresol), EPBs.
    fn pcapng_with(link: u16, tsresol: Option<u8>, packets: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        let block = |out: &mut Vec<u8>, ty: u32, body: &[u8]| {
            let len = (12 + body.len() + 3) & !3;
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(&(len as u32).to_le_bytes());
            out.extend_from_slice(body);
            out.resize(out.len() + (len - 12 - body.len()), 0);
            out.extend_from_slice(&(len as u32).to_le_bytes());
        };
        let mut shb = Vec::new();
        shb.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&u64::MAX.to_le_bytes());
        block(&mut out, SHB, &shb);
        let mut idb = Vec::new();
        idb.extend_from_slice(&link.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&0u32.to_le_bytes());
        if let Some(r) = tsresol {
            idb.extend_from_slice(&9u16.to_le_bytes());
            idb.extend_from_slice(&1u16.to_le_bytes());
            idb.extend_from_slice(&[r, 0, 0, 0]);
            idb.extend_from_slice(&[0; 4]);
        }
        block(&mut out, IDB, &idb);
        for (i, p) in packets.iter().enumerate() {
            let mut epb = Vec::new();
            epb.extend_from_slice(&0u32.to_le_bytes());
            let ts: u64 = 1_000_000_000 + i as u64;
            epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
            epb.extend_from_slice(&(ts as u32).to_le_bytes());
            epb.extend_from_slice(&(p.len() as u32).to_le_bytes());
            epb.extend_from_slice(&(p.len() as u32).to_le_bytes());
            epb.extend_from_slice(p);
            epb.resize((epb.len() + 3) & !3, 0);
            block(&mut out, EPB, &epb);
        }
        out
    }

    fn all(bytes: &[u8]) -> Result<Vec<(u64, u64, Vec<u8>)>, Error> {
        let mut r = Reader::new(bytes)?;
        let mut out = Vec::new();
        while let Some(rec) = r.next_record()? {
            out.push((rec.number, rec.ts_nanos, rec.data.to_vec()));
        }
        Ok(out)
    }

    #[test]
    fn pcap_round_trip() {
        let f = pcap_with(&[b"abc", b"", b"defgh"]);
        let got = all(&f).expect("reads");
        assert_eq!(got.len(), 3);
        assert_eq!(got[2].0, 3);
        assert_eq!(got[2].2, b"defgh");
        assert_eq!(got[2].1, 1_700_000_000_000_002_000);
    }

    #[test]
    fn pcapng_reads_packets_and_resolution() {
        let f = pcapng_with(101, Some(9), &[b"abcd", b"xyz"]);
        let mut r = Reader::new(&f[..]).expect("header");
        assert_eq!(r.format(), Format::PcapNg);
        let rec = r.next_record().expect("ok").expect("one");
        assert_eq!(
            (rec.number, rec.link, rec.data),
            (1, LinkType::RAW, &b"abcd"[..])
        );
        // 1e9 units of 1 ns = 1 s.
        assert_eq!(rec.ts_nanos, 1_000_000_000);
        let rec = r.next_record().expect("ok").expect("two");
        assert_eq!(rec.data, b"xyz");
        assert!(r.next_record().expect("ok").is_none());
        // Default resolution: microseconds.
        let f = pcapng_with(1, None, &[b"a"]);
        assert_eq!(all(&f).expect("reads")[0].1, 1_000_000_000_000);
    }

    #[test]
    fn bad_files_name_the_place() {
        let msg = |b: &[u8]| all(b).expect_err("bad").to_string();
        assert!(msg(b"").contains("too short"));
        assert!(msg(b"GET / HTTP/1.1\r\n").contains("not a pcap or pcapng file"));
        let f = pcap_with(&[b"abcdef"]);
        assert_eq!(
            msg(&f[..f.len() - 2]),
            "byte 40 (packet 1): the file ends inside a packet (4 of 6 bytes)"
        );
        assert!(msg(&f[..30]).contains("byte 24 (packet 1): the record header is cut short"));
        let mut huge = f.clone();
        huge[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(msg(&huge).contains("captured length 4294967295 is larger than the limit"));
        let ng = pcapng_with(1, None, &[b"abcd"]);
        let mut bad = ng.clone();
        let n = bad.len();
        bad[n - 4] ^= 1;
        assert!(msg(&bad).contains("trailing length"), "{}", msg(&bad));
        // The EPB's interface 7 was never described.
        let mut bad = ng.clone();
        let epb = 28 + 20;
        bad[epb + 8..epb + 12].copy_from_slice(&7u32.to_le_bytes());
        assert!(
            msg(&bad).contains("(packet 1): packet on interface 7"),
            "{}",
            msg(&bad)
        );
    }
}
