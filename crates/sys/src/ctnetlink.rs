//! Conntrack over netlink (`NFNL_SUBSYS_CTNETLINK`): the live connection
//! table for `rampart guard`'s connection limits.
//!
//! * [`CtSocket::dump`]: `IPCTNL_MSG_CT_GET` with `NLM_F_DUMP` for both
//!   families (or one), each answer decoded into a [`CtEntry`] and handed
//!   to a callback — nothing is collected, so a million entries cost no
//!   list and no string.
//! * [`CtEvents`]: a socket in the `NFNLGRP_CONNTRACK_NEW`, `_UPDATE` and
//!   `_DESTROY` multicast groups; [`CtEvents::next`] gives one
//!   [`CtEvent`] at a time. When the kernel had to drop events (the socket
//!   buffer was full), the next read says so with [`CtError::Overrun`]:
//!   the caller's picture of the table is stale and it must dump again.
//!   Never silent.
//! * [`CtSocket::create`]: `IPCTNL_MSG_CT_NEW` in datagrams of many
//!   messages (benchmarks and tests fill a namespace's table this way).
//! * [`decode`]: one ctnetlink message payload → [`CtEntry`]; bad or
//!   truncated bytes are a [`DecodeError`] naming the byte offset, never a
//!   panic ([`decode_datagram`] walks a whole datagram; both are fuzzed).
//!
//! Everything happens in the network namespace of the thread that opened
//! the socket.
//!
//! ```
//! use rampart_sys::ctnetlink::{decode, encode_new, CtEntry, tcp_state};
//! let e = CtEntry::tcp("192.0.2.7:40000".parse().expect("addr"), "10.0.0.1:22".parse().expect("addr"),
//!                      tcp_state::SYN_RECV);
//! let msg = encode_new(&e, 60, 1, false);
//! // nlmsghdr (16 bytes), then the payload decode reads.
//! let back = decode(&msg[16..]).expect("decodes");
//! assert_eq!((back.src, back.dport, back.tcp_state), (e.src, Some(22), Some(tcp_state::SYN_RECV)));
//! ```

use crate::nla::{Buf, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLM_F_DUMP, NLM_F_DUMP_INTR};
use crate::nla::{NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{self, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// `NFNL_SUBSYS_CTNETLINK`.
pub const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
/// `NLM_F_EXCL`: with `NLM_F_CREATE` on an event, the flow is new.
const NLM_F_EXCL: u16 = 0x200;

// enum ctattr_type
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_STATUS: u16 = 3;
const CTA_PROTOINFO: u16 = 4;
const CTA_TIMEOUT: u16 = 7;
const CTA_MARK: u16 = 8;
const CTA_ID: u16 = 12;
const CTA_ZONE: u16 = 18;
// enum ctattr_tuple
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_TUPLE_ZONE: u16 = 3;
// enum ctattr_ip
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;
// enum ctattr_l4proto
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
const CTA_PROTO_ICMP_ID: u16 = 4;
const CTA_PROTO_ICMP_TYPE: u16 = 5;
const CTA_PROTO_ICMP_CODE: u16 = 6;
const CTA_PROTO_ICMPV6_ID: u16 = 7;
const CTA_PROTO_ICMPV6_TYPE: u16 = 8;
const CTA_PROTO_ICMPV6_CODE: u16 = 9;
// enum ctattr_protoinfo / ctattr_protoinfo_tcp
const CTA_PROTOINFO_TCP: u16 = 1;
const CTA_PROTOINFO_TCP_STATE: u16 = 1;

/// Multicast groups (`enum nfnetlink_groups`).
const NFNLGRP_CONNTRACK_NEW: u32 = 1;
const NFNLGRP_CONNTRACK_UPDATE: u32 = 2;
const NFNLGRP_CONNTRACK_DESTROY: u32 = 3;

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// conntrack's TCP states (`enum tcp_conntrack`), as [`CtEntry::tcp_state`].
pub mod tcp_state {
    pub const NONE: u8 = 0;
    pub const SYN_SENT: u8 = 1;
    pub const SYN_RECV: u8 = 2;
    pub const ESTABLISHED: u8 = 3;
    pub const FIN_WAIT: u8 = 4;
    pub const CLOSE_WAIT: u8 = 5;
    pub const LAST_ACK: u8 = 6;
    pub const TIME_WAIT: u8 = 7;
    pub const CLOSE: u8 = 8;
    /// `TCP_CONNTRACK_SYN_SENT2` (simultaneous open; the old `LISTEN`
    /// slot, which `conntrack -L` still prints as `LISTEN`).
    pub const SYN_SENT2: u8 = 9;

    /// The name `conntrack -L` prints.
    pub fn name(s: u8) -> &'static str {
        match s {
            NONE => "NONE",
            SYN_SENT => "SYN_SENT",
            SYN_RECV => "SYN_RECV",
            ESTABLISHED => "ESTABLISHED",
            FIN_WAIT => "FIN_WAIT",
            CLOSE_WAIT => "CLOSE_WAIT",
            LAST_ACK => "LAST_ACK",
            TIME_WAIT => "TIME_WAIT",
            CLOSE => "CLOSE",
            SYN_SENT2 => "LISTEN",
            _ => "UNKNOWN",
        }
    }
}

/// Bits of [`CtEntry::status`] (`enum ip_conntrack_status`).
pub mod status {
    pub const EXPECTED: u32 = 1 << 0;
    pub const SEEN_REPLY: u32 = 1 << 1;
    pub const ASSURED: u32 = 1 << 2;
    pub const CONFIRMED: u32 = 1 << 3;
    pub const SRC_NAT: u32 = 1 << 4;
    pub const DST_NAT: u32 = 1 << 5;
    pub const DYING: u32 = 1 << 9;
}

/// One conntrack entry: the original direction's tuple (the peer that
/// opened the connection is `src`), and the facts the limits use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CtEntry {
    /// Layer-4 protocol number (6 tcp, 17 udp, 1 icmp, 58 icmpv6, ...).
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Source and destination port of the original direction, for
    /// protocols with ports (TCP, UDP, SCTP, DCCP, UDP-Lite).
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    /// ICMP/ICMPv6 (type, code, id) of the original direction.
    pub icmp: Option<(u8, u8, u16)>,
    /// The reply direction's source (differs from `dst` under DNAT).
    pub reply_src: Option<IpAddr>,
    /// [`tcp_state`], for TCP.
    pub tcp_state: Option<u8>,
    /// [`status`] bits.
    pub status: u32,
    pub mark: u32,
    /// The conntrack zone (0 when the kernel sent none).
    pub zone: u16,
    /// The kernel's id of the entry (stable while it lives).
    pub id: Option<u32>,
    /// Seconds until the entry expires.
    pub timeout: Option<u32>,
}

impl CtEntry {
    /// A TCP entry from `src` to `dst` in `state` (tests and benchmarks).
    pub fn tcp(src: SocketAddr, dst: SocketAddr, state: u8) -> CtEntry {
        CtEntry {
            proto: 6,
            src: src.ip(),
            dst: dst.ip(),
            sport: Some(src.port()),
            dport: Some(dst.port()),
            icmp: None,
            reply_src: None,
            tcp_state: Some(state),
            status: 0,
            mark: 0,
            zone: 0,
            id: None,
            timeout: None,
        }
    }

    /// What identifies the connection while it lives: zone and original
    /// tuple (as the kernel's hash does).
    pub fn key(&self) -> CtKey {
        CtKey {
            zone: self.zone,
            proto: self.proto,
            src: self.src,
            dst: self.dst,
            sport: self.sport.unwrap_or(0),
            dport: self.dport.unwrap_or(0),
            icmp: self.icmp.unwrap_or((0, 0, 0)),
        }
    }
}

/// The identity of a connection ([`CtEntry::key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CtKey {
    pub zone: u16,
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub icmp: (u8, u8, u16),
}

/// What happened to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CtEventKind {
    New,
    Update,
    Destroy,
}

/// One conntrack event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtEvent {
    pub kind: CtEventKind,
    pub entry: CtEntry,
}

/// Why bytes are not a conntrack message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("conntrack netlink data, byte {offset}: {what}")]
pub struct DecodeError {
    /// Offset from the start of the bytes given to the decoder.
    pub offset: usize,
    pub what: String,
}

fn bad<T>(offset: usize, what: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError {
        offset,
        what: what.into(),
    })
}

/// Failure of a conntrack socket.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CtError {
    #[error("conntrack netlink socket: {0}")]
    Io(#[from] std::io::Error),
    /// The kernel refused a request (errno).
    #[error("the kernel refused the conntrack request: {}", std::io::Error::from_raw_os_error(*.0))]
    Kernel(i32),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Events were lost (`ENOBUFS`): the socket buffer overflowed. The
    /// table must be dumped again.
    #[error(
        "conntrack events were lost (the socket buffer overflowed, ENOBUFS): dump the table again"
    )]
    Overrun,
}

/// The flat attributes of `data` (which starts at `base` of the decoded
/// bytes): `(type without flags, payload, payload offset)`. A length that
/// is too short, overruns the data or leaves a partial header is an error.
fn each_attr<'a>(
    data: &'a [u8],
    base: usize,
    mut f: impl FnMut(u16, &'a [u8], usize) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut pos = 0;
    while pos < data.len() {
        let Some(h) = data.get(pos..pos + 4) else {
            return bad(base + pos, "partial attribute header");
        };
        let len = u16::from_ne_bytes([h[0], h[1]]) as usize;
        let ty = u16::from_ne_bytes([h[2], h[3]]) & 0x3fff;
        if len < 4 {
            return bad(base + pos, format!("attribute length {len} < 4"));
        }
        let Some(payload) = data.get(pos + 4..pos + len) else {
            return bad(
                base + pos,
                format!(
                    "attribute {ty} claims {len} bytes, {} left",
                    data.len() - pos
                ),
            );
        };
        f(ty, payload, base + pos + 4)?;
        pos += (len + 3) & !3;
    }
    Ok(())
}

fn be16(v: &[u8], at: usize, what: &str) -> Result<u16, DecodeError> {
    match v {
        [a, b, ..] if v.len() == 2 => Ok(u16::from_be_bytes([*a, *b])),
        _ => bad(at, format!("{what}: {} bytes, expected 2", v.len())),
    }
}

fn be32(v: &[u8], at: usize, what: &str) -> Result<u32, DecodeError> {
    match <[u8; 4]>::try_from(v) {
        Ok(b) => Ok(u32::from_be_bytes(b)),
        Err(_) => bad(at, format!("{what}: {} bytes, expected 4", v.len())),
    }
}

fn one_byte(v: &[u8], at: usize, what: &str) -> Result<u8, DecodeError> {
    match v {
        [b] => Ok(*b),
        _ => bad(at, format!("{what}: {} bytes, expected 1", v.len())),
    }
}

#[derive(Default)]
struct Tuple {
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    proto: Option<u8>,
    sport: Option<u16>,
    dport: Option<u16>,
    icmp_id: Option<u16>,
    icmp_type: Option<u8>,
    icmp_code: Option<u8>,
    zone: Option<u16>,
}

fn tuple(data: &[u8], base: usize) -> Result<Tuple, DecodeError> {
    let mut t = Tuple::default();
    each_attr(data, base, |ty, v, at| {
        match ty {
            CTA_TUPLE_IP => each_attr(v, at, |ty, v, at| {
                let addr = match ty {
                    CTA_IP_V4_SRC | CTA_IP_V4_DST => match <[u8; 4]>::try_from(v) {
                        Ok(b) => IpAddr::V4(Ipv4Addr::from(b)),
                        Err(_) => return bad(at, format!("IPv4 address of {} bytes", v.len())),
                    },
                    CTA_IP_V6_SRC | CTA_IP_V6_DST => match <[u8; 16]>::try_from(v) {
                        Ok(b) => IpAddr::V6(Ipv6Addr::from(b)),
                        Err(_) => return bad(at, format!("IPv6 address of {} bytes", v.len())),
                    },
                    _ => return Ok(()),
                };
                if matches!(ty, CTA_IP_V4_SRC | CTA_IP_V6_SRC) {
                    t.src = Some(addr);
                } else {
                    t.dst = Some(addr);
                }
                Ok(())
            })?,
            CTA_TUPLE_PROTO => each_attr(v, at, |ty, v, at| {
                match ty {
                    CTA_PROTO_NUM => t.proto = Some(one_byte(v, at, "protocol number")?),
                    CTA_PROTO_SRC_PORT => t.sport = Some(be16(v, at, "source port")?),
                    CTA_PROTO_DST_PORT => t.dport = Some(be16(v, at, "destination port")?),
                    CTA_PROTO_ICMP_ID | CTA_PROTO_ICMPV6_ID => {
                        t.icmp_id = Some(be16(v, at, "ICMP id")?)
                    }
                    CTA_PROTO_ICMP_TYPE | CTA_PROTO_ICMPV6_TYPE => {
                        t.icmp_type = Some(one_byte(v, at, "ICMP type")?)
                    }
                    CTA_PROTO_ICMP_CODE | CTA_PROTO_ICMPV6_CODE => {
                        t.icmp_code = Some(one_byte(v, at, "ICMP code")?)
                    }
                    _ => {}
                }
                Ok(())
            })?,
            CTA_TUPLE_ZONE => t.zone = Some(be16(v, at, "tuple zone")?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(t)
}

/// Decodes one ctnetlink message payload (after `nlmsghdr`, starting with
/// the 4-byte `nfgenmsg`) into an entry. The original tuple with both
/// addresses (of the message's family) and the protocol is required.
pub fn decode(payload: &[u8]) -> Result<CtEntry, DecodeError> {
    let Some(&family) = payload.first() else {
        return bad(0, "empty message");
    };
    let Some(body) = payload.get(4..) else {
        return bad(0, format!("{} bytes, shorter than nfgenmsg", payload.len()));
    };
    let mut orig = None;
    let mut reply_src = None;
    let mut e = CtEntry {
        proto: 0,
        src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        sport: None,
        dport: None,
        icmp: None,
        reply_src: None,
        tcp_state: None,
        status: 0,
        mark: 0,
        zone: 0,
        id: None,
        timeout: None,
    };
    each_attr(body, 4, |ty, v, at| {
        match ty {
            CTA_TUPLE_ORIG => orig = Some((tuple(v, at)?, at)),
            CTA_TUPLE_REPLY => reply_src = tuple(v, at)?.src,
            CTA_STATUS => e.status = be32(v, at, "status")?,
            CTA_MARK => e.mark = be32(v, at, "mark")?,
            CTA_ZONE => e.zone = be16(v, at, "zone")?,
            CTA_ID => e.id = Some(be32(v, at, "id")?),
            CTA_TIMEOUT => e.timeout = Some(be32(v, at, "timeout")?),
            CTA_PROTOINFO => each_attr(v, at, |ty, v, at| {
                if ty == CTA_PROTOINFO_TCP {
                    each_attr(v, at, |ty, v, at| {
                        if ty == CTA_PROTOINFO_TCP_STATE {
                            e.tcp_state = Some(one_byte(v, at, "TCP state")?);
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?,
            _ => {}
        }
        Ok(())
    })?;
    let Some((t, at)) = orig else {
        return bad(4, "no original tuple (CTA_TUPLE_ORIG)");
    };
    let (Some(src), Some(dst)) = (t.src, t.dst) else {
        return bad(at, "original tuple without both addresses");
    };
    let want_v4 = match family {
        AF_INET => true,
        AF_INET6 => false,
        f => return bad(0, format!("address family {f} (expected 2 or 10)")),
    };
    if src.is_ipv4() != want_v4 || dst.is_ipv4() != want_v4 {
        return bad(at, "addresses of another family than the message's");
    }
    let Some(proto) = t.proto else {
        return bad(at, "original tuple without a protocol number");
    };
    e.proto = proto;
    e.src = src;
    e.dst = dst;
    e.sport = t.sport;
    e.dport = t.dport;
    e.icmp = match (t.icmp_type, t.icmp_code, t.icmp_id) {
        (Some(ty), Some(code), id) => Some((ty, code, id.unwrap_or(0))),
        _ => None,
    };
    if e.zone == 0 {
        e.zone = t.zone.unwrap_or(0);
    }
    e.reply_src = reply_src;
    if e.proto != 6 {
        e.tcp_state = None;
    }
    Ok(e)
}

/// The conntrack messages of a datagram: `Ok(Some(event))` per ctnetlink
/// message, `Ok(None)` for other netlink messages (done, errors), an error
/// for a bad header or message. Walks the whole datagram.
pub fn decode_datagram(data: &[u8]) -> Vec<Result<Option<CtEvent>, DecodeError>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let Some(h) = data.get(pos..pos + NLMSG_HDRLEN) else {
            out.push(bad(pos, "partial netlink header"));
            break;
        };
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let ty = u16::from_ne_bytes([h[4], h[5]]);
        let flags = u16::from_ne_bytes([h[6], h[7]]);
        let Some(msg) = data
            .get(pos..pos.saturating_add(len))
            .filter(|_| len >= NLMSG_HDRLEN)
        else {
            out.push(bad(
                pos,
                format!("netlink message length {len} does not fit"),
            ));
            break;
        };
        out.push(event_of(ty, flags, &msg[NLMSG_HDRLEN..]).map_err(|mut e| {
            e.offset += pos + NLMSG_HDRLEN;
            e
        }));
        pos += (len + 3) & !3;
    }
    out
}

fn event_of(ty: u16, flags: u16, payload: &[u8]) -> Result<Option<CtEvent>, DecodeError> {
    if ty >> 8 != NFNL_SUBSYS_CTNETLINK {
        return Ok(None);
    }
    let kind = match ty & 0xff {
        IPCTNL_MSG_CT_NEW if flags & (NLM_F_CREATE | NLM_F_EXCL) != 0 => CtEventKind::New,
        IPCTNL_MSG_CT_NEW => CtEventKind::Update,
        IPCTNL_MSG_CT_DELETE => CtEventKind::Destroy,
        _ => return Ok(None),
    };
    Ok(Some(CtEvent {
        kind,
        entry: decode(payload)?,
    }))
}

/// One `IPCTNL_MSG_CT_NEW` request creating `e` with `timeout` seconds
/// (both tuples are required; the reply is the mirror of the original).
pub fn encode_new(e: &CtEntry, timeout: u32, seq: u32, ack: bool) -> Vec<u8> {
    let mut b = Buf::default();
    encode_new_into(&mut b, e, timeout, seq, ack);
    b.b
}

fn encode_new_into(b: &mut Buf, e: &CtEntry, timeout: u32, seq: u32, ack: bool) {
    let fam = if e.src.is_ipv4() { AF_INET } else { AF_INET6 };
    let flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | if ack { NLM_F_ACK } else { 0 };
    let tuple = |b: &mut Buf, src: IpAddr, dst: IpAddr, sport: Option<u16>, dport: Option<u16>| {
        b.nest(CTA_TUPLE_IP, |b| match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                b.attr(CTA_IP_V4_SRC, &s.octets());
                b.attr(CTA_IP_V4_DST, &d.octets());
            }
            (s, d) => {
                let v6 = |a: IpAddr| match a {
                    IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
                    IpAddr::V6(a) => a.octets(),
                };
                b.attr(CTA_IP_V6_SRC, &v6(s));
                b.attr(CTA_IP_V6_DST, &v6(d));
            }
        });
        b.nest(CTA_TUPLE_PROTO, |b| {
            b.u8(CTA_PROTO_NUM, e.proto);
            if let Some((ty, code, id)) = e.icmp {
                let v6 = fam == AF_INET6;
                b.be16(
                    if v6 {
                        CTA_PROTO_ICMPV6_ID
                    } else {
                        CTA_PROTO_ICMP_ID
                    },
                    id,
                );
                b.u8(
                    if v6 {
                        CTA_PROTO_ICMPV6_TYPE
                    } else {
                        CTA_PROTO_ICMP_TYPE
                    },
                    ty,
                );
                b.u8(
                    if v6 {
                        CTA_PROTO_ICMPV6_CODE
                    } else {
                        CTA_PROTO_ICMP_CODE
                    },
                    code,
                );
            } else {
                if let Some(p) = sport {
                    b.be16(CTA_PROTO_SRC_PORT, p);
                }
                if let Some(p) = dport {
                    b.be16(CTA_PROTO_DST_PORT, p);
                }
            }
        });
    };
    b.msg(
        (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW,
        flags,
        seq,
        fam,
        0,
        |b| {
            b.nest(CTA_TUPLE_ORIG, |b| tuple(b, e.src, e.dst, e.sport, e.dport));
            b.nest(CTA_TUPLE_REPLY, |b| {
                tuple(b, e.reply_src.unwrap_or(e.dst), e.src, e.dport, e.sport)
            });
            b.be32(CTA_TIMEOUT, timeout);
            if e.mark != 0 {
                b.be32(CTA_MARK, e.mark);
            }
            if e.zone != 0 {
                b.be16(CTA_ZONE, e.zone);
            }
            if let (6, Some(s)) = (e.proto, e.tcp_state) {
                b.nest(CTA_PROTOINFO, |b| {
                    b.nest(CTA_PROTOINFO_TCP, |b| b.u8(CTA_PROTOINFO_TCP_STATE, s))
                });
            }
        },
    );
}

/// Which families a dump covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CtFamily {
    Both,
    V4,
    V6,
}

/// What a dump saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpStats {
    /// Entries handed to the callback.
    pub entries: u64,
    /// Messages that did not decode (skipped), and the first reason.
    pub bad: u64,
    pub first_error: Option<DecodeError>,
    /// The kernel flagged the dump as inconsistent (`NLM_F_DUMP_INTR`).
    pub interrupted: bool,
}

fn open_netfilter(groups: u32, rcvbuf: usize) -> std::io::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        Some(net::netlink::NETFILTER),
    )?;
    if net::sockopt::set_socket_recv_buffer_size_force(&fd, rcvbuf).is_err() {
        let _ = net::sockopt::set_socket_recv_buffer_size(&fd, rcvbuf);
    }
    net::bind(&fd, &SocketAddrNetlink::new(0, groups))?;
    Ok(fd)
}

/// A ctnetlink request socket (dumps and creation), in the network
/// namespace of the thread that opened it.
#[derive(Debug)]
pub struct CtSocket {
    fd: OwnedFd,
    buf: Vec<u8>,
    seq: u32,
}

impl CtSocket {
    pub fn open() -> std::io::Result<CtSocket> {
        let fd = open_netfilter(0, 4 << 20)?;
        net::sockopt::set_socket_timeout(
            &fd,
            net::sockopt::Timeout::Recv,
            Some(Duration::from_secs(30)),
        )?;
        Ok(CtSocket {
            fd,
            buf: vec![0; 1 << 20],
            seq: 0,
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn send(&self, bytes: &[u8]) -> Result<(), CtError> {
        let sent = net::sendto(
            &self.fd,
            bytes,
            SendFlags::empty(),
            &SocketAddrNetlink::new(0, 0),
        )
        .map_err(std::io::Error::from)?;
        if sent != bytes.len() {
            return Err(std::io::Error::other("short netlink send").into());
        }
        Ok(())
    }

    /// Dumps the table (`IPCTNL_MSG_CT_GET` + `NLM_F_DUMP`), calling `f`
    /// for every entry as it is decoded.
    pub fn dump(
        &mut self,
        family: CtFamily,
        mut f: impl FnMut(&CtEntry),
    ) -> Result<DumpStats, CtError> {
        let seq = self.next_seq();
        let fam = match family {
            CtFamily::Both => 0,
            CtFamily::V4 => AF_INET,
            CtFamily::V6 => AF_INET6,
        };
        let mut b = Buf::default();
        b.msg(
            (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET,
            NLM_F_REQUEST | NLM_F_DUMP,
            seq,
            fam,
            0,
            |_| {},
        );
        self.send(&b.b)?;
        let mut stats = DumpStats::default();
        loop {
            let n = match net::recv(&self.fd, &mut self.buf[..], RecvFlags::empty()) {
                Ok((n, _)) => n.min(self.buf.len()),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(std::io::Error::from(e).into()),
            };
            let data = &self.buf[..n];
            let mut pos = 0;
            while pos + NLMSG_HDRLEN <= n {
                let h = &data[pos..pos + NLMSG_HDRLEN];
                let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
                let ty = u16::from_ne_bytes([h[4], h[5]]);
                let flags = u16::from_ne_bytes([h[6], h[7]]);
                let s = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
                if len < NLMSG_HDRLEN || pos + len > n {
                    return Err(DecodeError {
                        offset: pos,
                        what: format!("netlink message length {len} does not fit the datagram"),
                    }
                    .into());
                }
                let payload = &data[pos + NLMSG_HDRLEN..pos + len];
                pos += (len + 3) & !3;
                if s != seq {
                    continue;
                }
                if flags & NLM_F_DUMP_INTR != 0 {
                    stats.interrupted = true;
                }
                match ty {
                    NLMSG_DONE => return Ok(stats),
                    NLMSG_ERROR => {
                        let code = payload
                            .get(..4)
                            .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                        if code != 0 {
                            return Err(CtError::Kernel(-code));
                        }
                    }
                    _ if ty >> 8 == NFNL_SUBSYS_CTNETLINK => match decode(payload) {
                        Ok(e) => {
                            stats.entries += 1;
                            f(&e);
                        }
                        Err(e) => {
                            stats.bad += 1;
                            stats.first_error.get_or_insert(e);
                        }
                    },
                    _ => {}
                }
            }
        }
    }

    /// Creates `entries` (`IPCTNL_MSG_CT_NEW`, `timeout` seconds each),
    /// many messages per datagram, each datagram acknowledged once.
    /// Returns how many the kernel refused and the first errno (an entry
    /// that exists, or a full table).
    pub fn create(
        &mut self,
        entries: &[CtEntry],
        timeout: u32,
    ) -> Result<(u64, Option<i32>), CtError> {
        const PER_DATAGRAM: usize = 2000;
        if net::sockopt::set_socket_send_buffer_size_force(&self.fd, 1 << 20).is_err() {
            let _ = net::sockopt::set_socket_send_buffer_size(&self.fd, 1 << 20);
        }
        let mut refused = 0;
        let mut first = None;
        for chunk in entries.chunks(PER_DATAGRAM) {
            let mut b = Buf::default();
            let mut last = 0;
            for (i, e) in chunk.iter().enumerate() {
                last = self.next_seq();
                encode_new_into(&mut b, e, timeout, last, i + 1 == chunk.len());
            }
            self.send(&b.b)?;
            'wait: loop {
                let n = match net::recv(&self.fd, &mut self.buf[..], RecvFlags::empty()) {
                    Ok((n, _)) => n.min(self.buf.len()),
                    Err(Errno::INTR) => continue,
                    Err(e) => return Err(std::io::Error::from(e).into()),
                };
                for r in decode_errors(&self.buf[..n]) {
                    let (seq, code) = r?;
                    if code != 0 {
                        refused += 1;
                        first.get_or_insert(-code);
                    }
                    if seq == last {
                        break 'wait;
                    }
                }
            }
        }
        Ok((refused, first))
    }
}

/// `(seq, errno)` of the `NLMSG_ERROR` messages of a datagram.
fn decode_errors(data: &[u8]) -> Vec<Result<(u32, i32), DecodeError>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + NLMSG_HDRLEN <= data.len() {
        let h = &data[pos..pos + NLMSG_HDRLEN];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let ty = u16::from_ne_bytes([h[4], h[5]]);
        let seq = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
        if len < NLMSG_HDRLEN || pos + len > data.len() {
            out.push(bad(
                pos,
                format!("netlink message length {len} does not fit"),
            ));
            break;
        }
        if ty == NLMSG_ERROR {
            match data.get(pos + NLMSG_HDRLEN..pos + NLMSG_HDRLEN + 4) {
                Some(b) => out.push(Ok((seq, i32::from_ne_bytes([b[0], b[1], b[2], b[3]])))),
                None => out.push(bad(pos, "error message without an errno")),
            }
        }
        pos += (len + 3) & !3;
    }
    out
}

/// Which events a [`CtEvents`] socket receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventGroups {
    pub new: bool,
    pub update: bool,
    pub destroy: bool,
}

impl EventGroups {
    pub const ALL: EventGroups = EventGroups {
        new: true,
        update: true,
        destroy: true,
    };

    fn mask(self) -> u32 {
        let bit = |on: bool, g: u32| if on { 1 << (g - 1) } else { 0 };
        bit(self.new, NFNLGRP_CONNTRACK_NEW)
            | bit(self.update, NFNLGRP_CONNTRACK_UPDATE)
            | bit(self.destroy, NFNLGRP_CONNTRACK_DESTROY)
    }
}

/// A socket subscribed to conntrack events.
#[derive(Debug)]
pub struct CtEvents {
    fd: OwnedFd,
    buf: Vec<u8>,
    queue: std::collections::VecDeque<Result<CtEvent, DecodeError>>,
}

impl CtEvents {
    /// Joins the groups (needs `CAP_NET_ADMIN`) with a receive buffer of
    /// `rcvbuf` bytes (forced past `rmem_max` as root): the burst of
    /// events it can hold before [`CtError::Overrun`].
    pub fn open(groups: EventGroups, rcvbuf: usize) -> std::io::Result<CtEvents> {
        Ok(CtEvents {
            fd: open_netfilter(groups.mask(), rcvbuf)?,
            buf: vec![0; 1 << 16],
            queue: Default::default(),
        })
    }

    /// The next event, waiting until `deadline`; `Ok(None)` when it
    /// passed. Lost events are [`CtError::Overrun`] (once per overflow;
    /// later events keep coming); a message that does not decode is
    /// [`CtError::Decode`] and the next call goes on.
    pub fn next(&mut self, deadline: Instant) -> Result<Option<CtEvent>, CtError> {
        loop {
            if let Some(ev) = self.queue.pop_front() {
                return Ok(Some(ev?));
            }
            let now = Instant::now();
            let flags = if now >= deadline {
                RecvFlags::DONTWAIT
            } else {
                let left = (deadline - now).max(Duration::from_millis(1));
                net::sockopt::set_socket_timeout(&self.fd, net::sockopt::Timeout::Recv, Some(left))
                    .map_err(std::io::Error::from)?;
                RecvFlags::empty()
            };
            let n = match net::recv(&self.fd, &mut self.buf[..], flags) {
                Ok((n, _)) => n.min(self.buf.len()),
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => return Ok(None),
                Err(Errno::NOBUFS) => return Err(CtError::Overrun),
                Err(e) => return Err(std::io::Error::from(e).into()),
            };
            for r in decode_datagram(&self.buf[..n]) {
                match r {
                    Ok(Some(ev)) => self.queue.push_back(Ok(ev)),
                    Ok(None) => {}
                    Err(e) => self.queue.push_back(Err(e)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CtEntry {
        CtEntry {
            status: status::ASSURED | status::CONFIRMED,
            mark: 7,
            zone: 3,
            ..CtEntry::tcp(
                "192.0.2.9:4000".parse().expect("addr"),
                "10.0.0.2:80".parse().expect("addr"),
                tcp_state::SYN_RECV,
            )
        }
    }

    /// A dump answer as the kernel writes it: `encode_new` plus status
    /// and id (which a request does not carry).
    fn answer(e: &CtEntry, flags: u16, ty: u16) -> Vec<u8> {
        let mut m = encode_new(e, 60, 1, false);
        let mut extra = Buf::default();
        extra.be32(CTA_STATUS, e.status);
        extra.be32(CTA_ID, 0xabcd);
        m.extend_from_slice(&extra.b);
        let len = m.len() as u32;
        m[..4].copy_from_slice(&len.to_ne_bytes());
        m[4..6].copy_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | ty).to_ne_bytes());
        m[6..8].copy_from_slice(&flags.to_ne_bytes());
        m
    }

    #[test]
    fn entries_round_trip_through_the_wire_format() {
        let e = sample();
        let got = decode(&encode_new(&e, 60, 1, false)[NLMSG_HDRLEN..]).expect("decodes");
        assert_eq!(got.src, e.src);
        assert_eq!(got.dst, e.dst);
        assert_eq!((got.sport, got.dport), (Some(4000), Some(80)));
        assert_eq!(got.tcp_state, Some(tcp_state::SYN_RECV));
        assert_eq!((got.mark, got.zone, got.timeout), (7, 3, Some(60)));
        assert_eq!(got.reply_src, Some(e.dst));
        let v6 = CtEntry {
            proto: 58,
            sport: None,
            dport: None,
            icmp: Some((128, 0, 77)),
            tcp_state: None,
            ..CtEntry::tcp(
                "[2001:db8::9]:1".parse().expect("addr"),
                "[2001:db8::1]:2".parse().expect("addr"),
                0,
            )
        };
        let got = decode(&encode_new(&v6, 30, 1, false)[NLMSG_HDRLEN..]).expect("decodes");
        assert_eq!(
            (got.proto, got.icmp, got.dport),
            (58, Some((128, 0, 77)), None)
        );
        assert_eq!(got.key(), v6.key());
    }

    #[test]
    fn events_are_new_update_or_destroy() {
        let e = sample();
        let mut dgram = answer(&e, NLM_F_CREATE | NLM_F_EXCL, IPCTNL_MSG_CT_NEW);
        dgram.extend(answer(&e, 0, IPCTNL_MSG_CT_NEW));
        dgram.extend(answer(&e, 0, IPCTNL_MSG_CT_DELETE));
        let kinds: Vec<_> = decode_datagram(&dgram)
            .into_iter()
            .map(|r| r.expect("decodes").expect("an event").kind)
            .collect();
        assert_eq!(
            kinds,
            [CtEventKind::New, CtEventKind::Update, CtEventKind::Destroy]
        );
        let ev = decode_datagram(&dgram)[0]
            .clone()
            .expect("ok")
            .expect("event");
        assert_eq!((ev.entry.status, ev.entry.id), (e.status, Some(0xabcd)));
    }

    #[test]
    fn truncated_and_malformed_messages_are_errors() {
        let m = answer(&sample(), 0, IPCTNL_MSG_CT_NEW);
        // Every cut of the message is an error or (at attribute
        // boundaries after the tuple) an entry, never a panic.
        for cut in 0..m.len() {
            for r in decode_datagram(&m[..cut]) {
                let _ = r;
            }
            let _ = decode(&m[NLMSG_HDRLEN.min(cut)..cut]);
        }
        assert!(decode(&[]).is_err());
        assert!(decode(&[2, 0, 0]).is_err());
        // No tuple at all.
        let err = decode(&[2, 0, 0, 0]).expect_err("no tuple");
        assert!(err.what.contains("CTA_TUPLE_ORIG"), "{err}");
        // An attribute claiming more bytes than there are.
        let err = decode(&[2, 0, 0, 0, 40, 0, 1, 0x80, 0, 0]).expect_err("overrun");
        assert!(err.what.contains("claims 40 bytes"), "{err}");
        // An IPv4 address of 3 bytes.
        let mut b = Buf::default();
        b.nest(CTA_TUPLE_ORIG, |b| {
            b.nest(CTA_TUPLE_IP, |b| b.attr(CTA_IP_V4_SRC, &[1, 2, 3]))
        });
        let mut p = vec![2, 0, 0, 0];
        p.extend(&b.b);
        let err = decode(&p).expect_err("short address");
        assert_eq!(err.offset, 16);
        // An IPv6 address in an IPv4 message.
        let v6 = CtEntry::tcp(
            "[2001:db8::9]:1".parse().expect("addr"),
            "[2001:db8::1]:2".parse().expect("addr"),
            1,
        );
        let mut m = encode_new(&v6, 1, 1, false);
        m[NLMSG_HDRLEN] = AF_INET;
        assert!(decode(&m[NLMSG_HDRLEN..]).is_err());
        // A header whose length is wrong.
        let mut m = answer(&sample(), 0, IPCTNL_MSG_CT_NEW);
        m[..4].copy_from_slice(&9999u32.to_ne_bytes());
        assert!(decode_datagram(&m)[0].is_err());
        m[..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(decode_datagram(&m)[0].is_err());
    }

    #[test]
    fn error_messages_carry_their_sequence() {
        let mut b = Buf::default();
        b.msg(NLMSG_ERROR, 0, 9, 0, 0, |b| {
            b.b.extend_from_slice(&[0xef, 0xff])
        });
        // nfgenmsg bytes stand in for the errno here: -17 (EEXIST) after them.
        let mut m = b.b.clone();
        m[NLMSG_HDRLEN..NLMSG_HDRLEN + 4].copy_from_slice(&(-17i32).to_ne_bytes());
        assert_eq!(decode_errors(&m)[0].as_ref().ok(), Some(&(9, -17)));
        assert!(decode_errors(&m[..NLMSG_HDRLEN + 2])[0].is_err());
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = decode(&bytes);
            let _ = decode_datagram(&bytes);
            let _ = decode_errors(&bytes);
        }

        #[test]
        fn mutated_messages_never_panic(at in 0usize..200, byte in proptest::prelude::any::<u8>(), cut in 0usize..200) {
            let mut m = answer(&sample(), NLM_F_CREATE, IPCTNL_MSG_CT_NEW);
            let at = at % m.len();
            m[at] = byte;
            m.truncate(cut.max(at));
            let _ = decode_datagram(&m);
            let _ = decode(m.get(NLMSG_HDRLEN..).unwrap_or_default());
        }
    }
}
