//! Crafted packets for the kernel oracle: a [`Probe`] describes one IPv4 or
//! IPv6 packet (TCP with any flags, UDP, ICMP/ICMPv6 of any type and code,
//! or a bare protocol number) with chosen addresses and ports, and
//! [`Probe::to_bytes`] builds it with correct checksums (`etherparse`).
//!
//! [`RawSender`] sends such packets unchanged from a network namespace
//! through `SOCK_RAW`/`IPPROTO_RAW` sockets (the kernel takes the IP header
//! as given, `IP_HDRINCL`): the source address can be anything, the peer's
//! routing table only picks the way out. [`Sniffer`] reads what arrives in
//! a namespace (`AF_PACKET`, without link header), used to learn the
//! sequence numbers of a SYN-ACK.

use etherparse::{PacketBuilder, TcpHeader};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};
use std::time::{Duration, Instant};

/// TCP flag bits as in the header's 13th byte.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// The layer-4 part of a [`Probe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum L4 {
    Tcp {
        sport: u16,
        dport: u16,
        /// [`tcp_flags`] bits.
        flags: u8,
        seq: u32,
        ack: u32,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    /// ICMP for IPv4, ICMPv6 for IPv6. `rest` is bytes 5–8 of the header
    /// (identifier and sequence of an echo, unused in errors).
    Icmp {
        ty: u8,
        code: u8,
        rest: [u8; 4],
    },
    /// Any other protocol number, with the payload as its body.
    Other {
        proto: u8,
    },
}

/// One packet to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub l4: L4,
    /// Bytes after the layer-4 header (for an ICMP error: the quoted packet).
    pub payload: Vec<u8>,
    pub ttl: u8,
}

/// Why a probe cannot be built or sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CraftError {
    #[error("source {0} and destination {1} are not of one family")]
    MixedFamilies(IpAddr, IpAddr),
    #[error("cannot build the packet: {0}")]
    Build(String),
    #[error("raw socket: {0}")]
    Io(#[from] std::io::Error),
}

impl Probe {
    /// A TCP probe with flags `flags` and sequence number 1000.
    pub fn tcp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, flags: u8) -> Probe {
        Probe {
            src,
            dst,
            l4: L4::Tcp {
                sport,
                dport,
                flags,
                seq: 1000,
                ack: 0,
            },
            payload: Vec::new(),
            ttl: 64,
        }
    }

    pub fn udp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> Probe {
        Probe {
            src,
            dst,
            l4: L4::Udp { sport, dport },
            payload: b"rampart".to_vec(),
            ttl: 64,
        }
    }

    pub fn icmp(src: IpAddr, dst: IpAddr, ty: u8, code: u8) -> Probe {
        Probe {
            src,
            dst,
            l4: L4::Icmp {
                ty,
                code,
                rest: [0, 1, 0, 1],
            },
            payload: Vec::new(),
            ttl: 64,
        }
    }

    /// The IP protocol number of the probe.
    pub fn protocol(&self) -> u8 {
        match self.l4 {
            L4::Tcp { .. } => 6,
            L4::Udp { .. } => 17,
            L4::Icmp { .. } => {
                if self.src.is_ipv4() {
                    1
                } else {
                    58
                }
            }
            L4::Other { proto } => proto,
        }
    }

    /// Source and destination ports (TCP, UDP).
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.l4 {
            L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport } => Some((sport, dport)),
            _ => None,
        }
    }

    /// The packet from the IP header on, checksums filled in.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CraftError> {
        let build = |e: String| CraftError::Build(e);
        let mut out = Vec::new();
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let ip = PacketBuilder::ipv4(s.octets(), d.octets(), self.ttl);
                match &self.l4 {
                    L4::Tcp { .. } => ip
                        .tcp_header(self.tcp_header())
                        .write(&mut out, &self.payload),
                    L4::Udp { sport, dport } => {
                        ip.udp(*sport, *dport).write(&mut out, &self.payload)
                    }
                    L4::Icmp { ty, code, rest } => ip
                        .icmpv4_raw(*ty, *code, *rest)
                        .write(&mut out, &self.payload),
                    L4::Other { proto } => {
                        return self.other_v4(*proto);
                    }
                }
                .map_err(|e| build(e.to_string()))?;
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let ip = PacketBuilder::ipv6(s.octets(), d.octets(), self.ttl);
                match &self.l4 {
                    L4::Tcp { .. } => ip
                        .tcp_header(self.tcp_header())
                        .write(&mut out, &self.payload),
                    L4::Udp { sport, dport } => {
                        ip.udp(*sport, *dport).write(&mut out, &self.payload)
                    }
                    L4::Icmp { ty, code, rest } => ip
                        .icmpv6_raw(*ty, *code, *rest)
                        .write(&mut out, &self.payload),
                    L4::Other { proto } => {
                        return self.other_v6(*proto);
                    }
                }
                .map_err(|e| build(e.to_string()))?;
            }
            (s, d) => return Err(CraftError::MixedFamilies(s, d)),
        }
        Ok(out)
    }

    fn tcp_header(&self) -> TcpHeader {
        let (sport, dport, flags, seq, ack) = match self.l4 {
            L4::Tcp {
                sport,
                dport,
                flags,
                seq,
                ack,
            } => (sport, dport, flags, seq, ack),
            _ => (0, 0, 0, 0, 0),
        };
        let mut h = TcpHeader::new(sport, dport, seq, 64240);
        h.acknowledgment_number = ack;
        h.fin = flags & tcp_flags::FIN != 0;
        h.syn = flags & tcp_flags::SYN != 0;
        h.rst = flags & tcp_flags::RST != 0;
        h.psh = flags & tcp_flags::PSH != 0;
        h.ack = flags & tcp_flags::ACK != 0;
        h.urg = flags & tcp_flags::URG != 0;
        h.ece = flags & tcp_flags::ECE != 0;
        h.cwr = flags & tcp_flags::CWR != 0;
        h
    }

    fn other_v4(&self, proto: u8) -> Result<Vec<u8>, CraftError> {
        let (IpAddr::V4(s), IpAddr::V4(d)) = (self.src, self.dst) else {
            return Err(CraftError::MixedFamilies(self.src, self.dst));
        };
        let total = u16::try_from(20 + self.payload.len())
            .map_err(|_| CraftError::Build("payload too long".into()))?;
        let mut h = etherparse::Ipv4Header::new(
            total - 20,
            self.ttl,
            etherparse::IpNumber(proto),
            s.octets(),
            d.octets(),
        )
        .map_err(|e| CraftError::Build(e.to_string()))?;
        h.header_checksum = h.calc_header_checksum();
        let mut out = h.to_bytes().to_vec();
        out.extend_from_slice(&self.payload);
        Ok(out)
    }

    fn other_v6(&self, proto: u8) -> Result<Vec<u8>, CraftError> {
        let (IpAddr::V6(s), IpAddr::V6(d)) = (self.src, self.dst) else {
            return Err(CraftError::MixedFamilies(self.src, self.dst));
        };
        let h = etherparse::Ipv6Header {
            traffic_class: 0,
            flow_label: Default::default(),
            payload_length: u16::try_from(self.payload.len())
                .map_err(|_| CraftError::Build("payload too long".into()))?,
            next_header: etherparse::IpNumber(proto),
            hop_limit: self.ttl,
            source: s.octets(),
            destination: d.octets(),
        };
        let mut out = h.to_bytes().to_vec();
        out.extend_from_slice(&self.payload);
        Ok(out)
    }
}

/// Raw IPv4 and IPv6 sockets of one network namespace (open them on a
/// thread inside it, e.g. with [`crate::netns::run_in_named`]).
#[derive(Debug)]
pub struct RawSender {
    v4: OwnedFd,
    v6: OwnedFd,
}

impl RawSender {
    /// Opens both sockets in the current thread's namespace (needs
    /// `CAP_NET_RAW`).
    pub fn open() -> std::io::Result<RawSender> {
        let raw = |fam| {
            net::socket_with(
                fam,
                SocketType::RAW,
                SocketFlags::CLOEXEC,
                Some(net::ipproto::RAW),
            )
        };
        let v4 = raw(AddressFamily::INET)?;
        // Sending to 255.255.255.255 needs SO_BROADCAST.
        net::sockopt::set_socket_broadcast(&v4, true)?;
        Ok(RawSender {
            v4,
            v6: raw(AddressFamily::INET6)?,
        })
    }

    /// Sends `probe` as built by [`Probe::to_bytes`]; the namespace's
    /// routing table chooses the interface from the destination.
    pub fn send(&self, probe: &Probe) -> Result<(), CraftError> {
        let bytes = probe.to_bytes()?;
        self.send_bytes(probe.dst, &bytes)
    }

    /// Sends an IP packet given as bytes towards `dst`.
    pub fn send_bytes(&self, dst: IpAddr, bytes: &[u8]) -> Result<(), CraftError> {
        let n = match dst {
            IpAddr::V4(a) => net::sendto(
                &self.v4,
                bytes,
                SendFlags::empty(),
                &SocketAddrV4::new(a, 0),
            ),
            IpAddr::V6(a) => net::sendto(
                &self.v6,
                bytes,
                SendFlags::empty(),
                &SocketAddrV6::new(a, 0, 0, 0),
            ),
        }
        .map_err(std::io::Error::from)?;
        if n != bytes.len() {
            return Err(CraftError::Io(std::io::Error::other(format!(
                "short raw send: {n} of {} bytes",
                bytes.len()
            ))));
        }
        Ok(())
    }
}

/// An `AF_PACKET` socket that sees every IP packet of its namespace (both
/// directions), without the link-layer header.
#[derive(Debug)]
pub struct Sniffer {
    fd: OwnedFd,
}

impl Sniffer {
    /// Opens it in the current thread's namespace (needs `CAP_NET_RAW`).
    pub fn open() -> std::io::Result<Sniffer> {
        let fd = net::socket_with(
            AddressFamily::PACKET,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            Some(net::eth::ALL),
        )?;
        Ok(Sniffer { fd })
    }

    /// The first packet before `deadline` for which `want` is true.
    pub fn wait_for(
        &self,
        deadline: Instant,
        mut want: impl FnMut(&[u8]) -> bool,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let left = (deadline - now).max(Duration::from_millis(1));
            net::sockopt::set_socket_timeout(&self.fd, net::sockopt::Timeout::Recv, Some(left))?;
            match net::recv(&self.fd, &mut buf[..], RecvFlags::empty()) {
                Ok((n, _)) => {
                    let p = &buf[..n.min(buf.len())];
                    if want(p) {
                        return Ok(Some(p.to_vec()));
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The TCP header fields of an IP packet given as bytes: (src, dst, sport,
/// dport, flags, seq, ack). `None` for anything else.
pub fn tcp_of(packet: &[u8]) -> Option<(IpAddr, IpAddr, u16, u16, u8, u32, u32)> {
    let p = etherparse::SlicedPacket::from_ip(packet).ok()?;
    let (s, d) = match p.net? {
        etherparse::NetSlice::Ipv4(h) => (
            IpAddr::from(h.header().source_addr()),
            IpAddr::from(h.header().destination_addr()),
        ),
        etherparse::NetSlice::Ipv6(h) => (
            IpAddr::from(h.header().source_addr()),
            IpAddr::from(h.header().destination_addr()),
        ),
        _ => return None,
    };
    match p.transport? {
        etherparse::TransportSlice::Tcp(t) => {
            let flags = t.slice().get(13).copied().unwrap_or(0);
            Some((
                s,
                d,
                t.source_port(),
                t.destination_port(),
                flags,
                t.sequence_number(),
                t.acknowledgment_number(),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_probe_round_trips_through_the_parser() {
        let p = Probe::tcp(
            "192.0.2.1".parse().expect("addr"),
            "198.51.100.7".parse().expect("addr"),
            40000,
            22,
            tcp_flags::SYN | tcp_flags::ECE | tcp_flags::CWR,
        );
        let b = p.to_bytes().expect("builds");
        let (s, d, sp, dp, flags, seq, _) = tcp_of(&b).expect("tcp");
        assert_eq!((s, d, sp, dp), (p.src, p.dst, 40000, 22));
        assert_eq!(flags, 0xc2);
        assert_eq!(seq, 1000);
    }

    #[test]
    fn every_kind_builds_in_both_families() {
        for (s, d) in [
            ("192.0.2.1", "198.51.100.7"),
            ("2001:db8::1", "2001:db8::2"),
        ] {
            let (s, d): (IpAddr, IpAddr) = (s.parse().expect("a"), d.parse().expect("a"));
            for p in [
                Probe::tcp(s, d, 1, 2, 0xff),
                Probe::udp(s, d, 53, 53),
                Probe::icmp(s, d, 3, 3),
                Probe {
                    l4: L4::Other { proto: 132 },
                    ..Probe::udp(s, d, 1, 1)
                },
            ] {
                let b = p.to_bytes().expect("builds");
                assert_eq!(b[0] >> 4, if s.is_ipv4() { 4 } else { 6 });
            }
        }
        let mixed = Probe::udp(
            "192.0.2.1".parse().expect("a"),
            "2001:db8::2".parse().expect("a"),
            1,
            1,
        );
        assert!(matches!(
            mixed.to_bytes(),
            Err(CraftError::MixedFamilies(..))
        ));
    }
}
