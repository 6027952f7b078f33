//! # rampart-capture
//!
//! Reading captured traffic for `rampart replay`: what an admin recorded
//! yesterday with `tcpdump -w`, classified under a policy before it is
//! deployed. Pure (no clock, no sockets); three layers:
//!
//! * [`file`]: pcap and pcapng readers over any `Read` (format from the
//!   magic number, both byte orders, micro/nanosecond and `if_tsresol`
//!   time stamps). A bad capture is an [`Error`] naming the byte offset and
//!   packet number; lengths are checked before anything is allocated.
//! * [`packet`]: a frame's header fields ([`PacketInfo`]: family,
//!   addresses, protocol, ports, TCP flags, ICMP type/code and the packet
//!   an ICMP error quotes, fragment, lengths, time stamp) for Ethernet
//!   (VLAN tags included), Linux cooked capture v1/v2, raw IP and BSD
//!   loopback link types.
//! * [`flow`]: a conntrack-like [`Tracker`] giving each packet the `ct
//!   state` the kernel would have given it (NEW, ESTABLISHED, RELATED,
//!   INVALID, UNTRACKED), with timeouts passed in and time taken from the
//!   packets.
//!
//! ```
//! use rampart_capture::{decode, CtState, LinkType, PcapWriter, Reader, Timeouts, Tracker};
//! // A SYN and its SYN-ACK as raw IP packets.
//! let mut w = PcapWriter::new(Vec::new(), LinkType::RAW).expect("header");
//! for (src, dst, sp, dp, flags) in [([192, 0, 2, 1], [198, 51, 100, 2], 40000, 22, 0x02u8),
//!                                   ([198, 51, 100, 2], [192, 0, 2, 1], 22, 40000, 0x12)] {
//!     let mut p = Vec::new();
//!     let tcp = etherparse::PacketBuilder::ipv4(src, dst, 64).tcp(sp, dp, 1, 1000);
//!     let tcp = if flags == 0x02 { tcp.syn() } else { tcp.syn().ack(2) };
//!     tcp.write(&mut p, &[]).expect("build");
//!     w.write(1_000_000_000, &p).expect("write");
//! }
//! let bytes = w.into_inner();
//! let mut reader = Reader::new(&bytes[..]).expect("a pcap file");
//! let mut tracker = Tracker::new(Timeouts::default());
//! let mut states = Vec::new();
//! while let Some(rec) = reader.next_record().expect("well formed") {
//!     let info = decode(&rec).expect("an IP packet");
//!     states.push(tracker.track(&info, rec.ts_nanos).state);
//! }
//! assert_eq!(states, [CtState::New, CtState::Established]);
//! ```

pub mod file;
pub mod flow;
pub mod packet;

pub use file::{Error, Format, LinkType, PcapWriter, Reader, Record, MAX_RECORD};
pub use flow::{CtState, Direction, FlowKey, Timeouts, Tracked, Tracker};
pub use packet::{decode, Fragment, PacketInfo, Quoted, Skip};

/// Opens a capture file (buffered).
pub fn open(path: &std::path::Path) -> Result<Reader<std::io::BufReader<std::fs::File>>, Error> {
    let f = std::fs::File::open(path)?;
    Reader::new(std::io::BufReader::with_capacity(1 << 20, f))
}
