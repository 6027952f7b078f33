//! nftables trace events (`NFT_MSG_TRACE`), the kernel's own account of
//! what it did with a packet whose `nftrace` bit is set: for every base
//! chain it walks, one event per rule that matched (with the rule's handle
//! and verdict), one when a regular chain returns, and one for the chain
//! policy when the end of a base chain is reached.
//!
//! [`TraceSocket`] joins the `NFNLGRP_NFTRACE` multicast group of a
//! `NETLINK_NETFILTER` socket in the network namespace of the thread that
//! opens it; [`parse_trace`] turns one message into a [`TraceEvent`] (pure,
//! tested on bytes). The kernel sends events only while someone listens and
//! only for packets a rule marked with `meta nftrace set 1`.

use crate::consts::{NFNL_SUBSYS_NFTABLES, NFTA_VERDICT_CHAIN, NFTA_VERDICT_CODE};
use crate::nla::{attrs, messages};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{self, AddressFamily, RecvFlags, SocketFlags, SocketType};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// `NFT_MSG_TRACE`.
const NFT_MSG_TRACE: u16 = 17;
/// `NFNLGRP_NFTRACE`: multicast group 9, bit 8 of the bind mask.
const NFNLGRP_NFTRACE: u32 = 9;

const NFTA_TRACE_TABLE: u16 = 1;
const NFTA_TRACE_CHAIN: u16 = 2;
const NFTA_TRACE_RULE_HANDLE: u16 = 3;
const NFTA_TRACE_TYPE: u16 = 4;
const NFTA_TRACE_VERDICT: u16 = 5;
const NFTA_TRACE_ID: u16 = 6;
const NFTA_TRACE_NETWORK_HEADER: u16 = 8;
const NFTA_TRACE_TRANSPORT_HEADER: u16 = 9;
const NFTA_TRACE_IIF: u16 = 10;
const NFTA_TRACE_NFPROTO: u16 = 15;
const NFTA_TRACE_POLICY: u16 = 16;
const NFTA_TRACE_CT_STATE: u16 = 21;

/// Bits of [`TraceEvent::ct_state`] (`NF_CT_STATE_*_BIT`).
pub mod ct_bits {
    pub const INVALID: u32 = 1;
    pub const ESTABLISHED: u32 = 2;
    pub const RELATED: u32 = 4;
    pub const NEW: u32 = 8;
    pub const UNTRACKED: u32 = 64;
}

/// What kind of step an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceType {
    /// A rule matched (all its expressions passed); `handle` names it.
    Rule,
    /// The end of a regular chain: back to the caller.
    Return,
    /// The end of a base chain: its policy applies.
    Policy,
    /// A type this code does not know (newer kernel).
    Other(u32),
}

/// The verdict of a step, as the kernel's verdict codes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceVerdict {
    Accept,
    Drop,
    /// Stolen, queued, repeat, stop: the packet left nftables' hands.
    Other(i32),
    /// The rule matched but its statements did not end the chain
    /// (`counter`, `log`, `meta mark set`).
    Continue,
    Break,
    Jump(String),
    Goto(String),
    Return,
}

impl TraceVerdict {
    /// Whether the verdict ends the packet's walk through this hook's
    /// chain (accept, drop, or another absolute verdict).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            TraceVerdict::Accept | TraceVerdict::Drop | TraceVerdict::Other(_)
        )
    }

    fn from_code(code: i32, chain: Option<String>) -> TraceVerdict {
        // Absolute verdicts may carry data in the upper bits (queue number,
        // errno of a drop); NF_VERDICT_MASK is the low byte.
        match code {
            -1 => TraceVerdict::Continue,
            -2 => TraceVerdict::Break,
            -3 => TraceVerdict::Jump(chain.unwrap_or_default()),
            -4 => TraceVerdict::Goto(chain.unwrap_or_default()),
            -5 => TraceVerdict::Return,
            c if c >= 0 => match c & 0xff {
                0 => TraceVerdict::Drop,
                1 => TraceVerdict::Accept,
                _ => TraceVerdict::Other(c),
            },
            c => TraceVerdict::Other(c),
        }
    }
}

/// One trace event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEvent {
    /// The packet's trace id (the same for every event of one packet while
    /// it is inside the stack; ids are reused afterwards).
    pub id: u32,
    /// `NFPROTO_*` of the hook (2 IPv4, 10 IPv6).
    pub nfproto: u8,
    /// The family of the table (`nfgenmsg`): 1 inet, 2 ip, 10 ip6.
    pub family: u8,
    pub table: String,
    pub chain: String,
    pub kind: TraceType,
    /// The rule's handle, for [`TraceType::Rule`] (and for a return, the
    /// rule after which it happened when the kernel says).
    pub handle: Option<u64>,
    pub verdict: Option<TraceVerdict>,
    /// The input interface index, when the kernel reported it.
    pub iif: Option<u32>,
    /// The network header as the chain saw it (the first event of each
    /// base chain carries it).
    pub network_header: Option<Vec<u8>>,
    pub transport_header: Option<Vec<u8>>,
    /// The packet's conntrack state as [`ct_bits`] (kernels since 6.12
    /// send it with the packet information of each base chain, once
    /// conntrack has seen the packet).
    pub ct_state: Option<u32>,
}

impl TraceEvent {
    /// Source and destination of [`TraceEvent::network_header`].
    pub fn addresses(&self) -> Option<(IpAddr, IpAddr)> {
        let h = self.network_header.as_deref()?;
        match h.first()? >> 4 {
            4 if h.len() >= 20 => {
                let s: [u8; 4] = h[12..16].try_into().ok()?;
                let d: [u8; 4] = h[16..20].try_into().ok()?;
                Some((IpAddr::from(s), IpAddr::from(d)))
            }
            6 if h.len() >= 40 => {
                let s: [u8; 16] = h[8..24].try_into().ok()?;
                let d: [u8; 16] = h[24..40].try_into().ok()?;
                Some((IpAddr::from(s), IpAddr::from(d)))
            }
            _ => None,
        }
    }

    /// Source and destination ports of [`TraceEvent::transport_header`]
    /// (the first four bytes: TCP, UDP, SCTP, DCCP alike).
    pub fn ports(&self) -> Option<(u16, u16)> {
        let t = self.transport_header.as_deref()?;
        Some((
            u16::from_be_bytes([*t.first()?, *t.get(1)?]),
            u16::from_be_bytes([*t.get(2)?, *t.get(3)?]),
        ))
    }
}

fn str_of(v: &[u8]) -> String {
    let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

fn be32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
}

/// Parses one `NFT_MSG_TRACE` payload (after `nlmsghdr`, starting with
/// `nfgenmsg`). `None` when it is too short or lacks the id.
pub fn parse_trace(payload: &[u8]) -> Option<TraceEvent> {
    let family = *payload.first()?;
    let mut ev = TraceEvent {
        id: 0,
        nfproto: 0,
        family,
        table: String::new(),
        chain: String::new(),
        kind: TraceType::Other(0),
        handle: None,
        verdict: None,
        iif: None,
        network_header: None,
        transport_header: None,
        ct_state: None,
    };
    let mut have_id = false;
    let mut policy = None;
    for (ty, v) in attrs(payload.get(4..)?) {
        match ty {
            NFTA_TRACE_TABLE => ev.table = str_of(v),
            NFTA_TRACE_CHAIN => ev.chain = str_of(v),
            NFTA_TRACE_RULE_HANDLE => {
                ev.handle = Some(u64::from_be_bytes(v.get(..8)?.try_into().ok()?))
            }
            NFTA_TRACE_TYPE => {
                ev.kind = match be32(v)? {
                    1 => TraceType::Policy,
                    2 => TraceType::Return,
                    3 => TraceType::Rule,
                    n => TraceType::Other(n),
                }
            }
            NFTA_TRACE_VERDICT => {
                let mut code = None;
                let mut chain = None;
                for (t, x) in attrs(v) {
                    match t {
                        NFTA_VERDICT_CODE => code = be32(x).map(|c| c as i32),
                        NFTA_VERDICT_CHAIN => chain = Some(str_of(x)),
                        _ => {}
                    }
                }
                ev.verdict = code.map(|c| TraceVerdict::from_code(c, chain));
            }
            NFTA_TRACE_ID => {
                ev.id = be32(v)?;
                have_id = true;
            }
            NFTA_TRACE_NETWORK_HEADER => ev.network_header = Some(v.to_vec()),
            NFTA_TRACE_TRANSPORT_HEADER => ev.transport_header = Some(v.to_vec()),
            NFTA_TRACE_IIF => ev.iif = be32(v),
            NFTA_TRACE_NFPROTO => ev.nfproto = be32(v).map_or(0, |p| p as u8),
            NFTA_TRACE_POLICY => policy = be32(v),
            NFTA_TRACE_CT_STATE => ev.ct_state = be32(v),
            _ => {}
        }
    }
    if ev.kind == TraceType::Policy && ev.verdict.is_none() {
        ev.verdict = policy.map(|p| TraceVerdict::from_code(p as i32, None));
    }
    have_id.then_some(ev)
}

/// A `NETLINK_NETFILTER` socket subscribed to trace events, in the network
/// namespace of the thread that opened it (it may be used from any thread
/// afterwards).
#[derive(Debug)]
pub struct TraceSocket {
    fd: OwnedFd,
    buf: Vec<u8>,
    queue: std::collections::VecDeque<TraceEvent>,
}

impl TraceSocket {
    /// Opens the socket and joins `NFNLGRP_NFTRACE` (needs `CAP_NET_ADMIN`).
    pub fn open() -> std::io::Result<TraceSocket> {
        let fd = net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(net::netlink::NETFILTER),
        )?;
        // Events of a whole burst must fit: a lost event is reported as
        // ENOBUFS by the next read.
        if net::sockopt::set_socket_recv_buffer_size_force(&fd, 8 << 20).is_err() {
            let _ = net::sockopt::set_socket_recv_buffer_size(&fd, 8 << 20);
        }
        net::bind(&fd, &SocketAddrNetlink::new(0, 1 << (NFNLGRP_NFTRACE - 1)))?;
        Ok(TraceSocket {
            fd,
            buf: vec![0; 1 << 16],
            queue: Default::default(),
        })
    }

    /// The next trace event, waiting until `deadline`; `Ok(None)` when the
    /// deadline passed. Events lost to a full socket buffer are an error
    /// (`ENOBUFS`): the caller cannot tell what it missed.
    pub fn next(&mut self, deadline: Instant) -> std::io::Result<Option<TraceEvent>> {
        loop {
            if let Some(ev) = self.queue.pop_front() {
                return Ok(Some(ev));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let left = (deadline - now).max(Duration::from_millis(1));
            net::sockopt::set_socket_timeout(&self.fd, net::sockopt::Timeout::Recv, Some(left))?;
            let n = match net::recv(&self.fd, &mut self.buf[..], RecvFlags::empty()) {
                Ok((n, _)) => n,
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            for (ty, _flags, _seq, payload) in messages(&self.buf[..n]) {
                if ty == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_TRACE {
                    if let Some(ev) = parse_trace(payload) {
                        self.queue.push_back(ev);
                    }
                }
            }
        }
    }

    /// Throws away every event already received.
    pub fn drain(&mut self) -> std::io::Result<()> {
        self.queue.clear();
        loop {
            match net::recv(&self.fd, &mut self.buf[..], RecvFlags::DONTWAIT) {
                Ok(_) => {}
                Err(Errno::AGAIN) => return Ok(()),
                Err(Errno::INTR) | Err(Errno::NOBUFS) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nla::Buf;

    fn event(f: impl Fn(&mut Buf)) -> Vec<u8> {
        let mut b = Buf::default();
        b.msg((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_TRACE, 0, 0, 1, 0, f);
        b.b
    }

    #[test]
    fn rule_event_with_jump_verdict() {
        let m = event(|b| {
            b.str(NFTA_TRACE_TABLE, "rampart");
            b.str(NFTA_TRACE_CHAIN, "input");
            b.be64(NFTA_TRACE_RULE_HANDLE, 7);
            b.be32(NFTA_TRACE_TYPE, 3);
            b.nest(NFTA_TRACE_VERDICT, |b| {
                b.be32(NFTA_VERDICT_CODE, (-3i32) as u32);
                b.str(NFTA_VERDICT_CHAIN, "ssh");
            });
            b.be32(NFTA_TRACE_ID, 0xdead);
            b.be32(NFTA_TRACE_NFPROTO, 2);
            b.attr(
                NFTA_TRACE_NETWORK_HEADER,
                &[
                    0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7,
                ],
            );
            b.attr(NFTA_TRACE_TRANSPORT_HEADER, &[0x30, 0x39, 0, 22]);
        });
        let msgs = messages(&m);
        let ev = parse_trace(msgs[0].3).expect("parses");
        assert_eq!(ev.id, 0xdead);
        assert_eq!(ev.family, 1);
        assert_eq!(ev.nfproto, 2);
        assert_eq!((ev.table.as_str(), ev.chain.as_str()), ("rampart", "input"));
        assert_eq!(ev.kind, TraceType::Rule);
        assert_eq!(ev.handle, Some(7));
        assert_eq!(ev.verdict, Some(TraceVerdict::Jump("ssh".into())));
        assert_eq!(
            ev.addresses(),
            Some(([192, 0, 2, 1].into(), [198, 51, 100, 7].into()))
        );
        assert_eq!(ev.ports(), Some((12345, 22)));
    }

    #[test]
    fn policy_event_takes_the_policy_attribute() {
        let m = event(|b| {
            b.str(NFTA_TRACE_CHAIN, "input");
            b.be32(NFTA_TRACE_TYPE, 1);
            b.be32(NFTA_TRACE_ID, 1);
            b.be32(NFTA_TRACE_POLICY, 0);
        });
        let ev = parse_trace(messages(&m)[0].3).expect("parses");
        assert_eq!(ev.kind, TraceType::Policy);
        assert_eq!(ev.verdict, Some(TraceVerdict::Drop));
    }

    #[test]
    fn garbage_is_not_an_event() {
        assert_eq!(parse_trace(&[]), None);
        assert_eq!(parse_trace(&[1, 0, 0, 0, 255, 255, 1]), None);
        // A handle shorter than 8 bytes.
        let m = event(|b| {
            b.be32(NFTA_TRACE_ID, 1);
            b.attr(NFTA_TRACE_RULE_HANDLE, &[1, 2]);
        });
        assert_eq!(parse_trace(messages(&m)[0].3), None);
        // Every prefix of a good message parses or is refused, never panics.
        let m = event(|b| {
            b.str(NFTA_TRACE_TABLE, "t");
            b.nest(NFTA_TRACE_VERDICT, |b| b.be32(NFTA_VERDICT_CODE, 1));
            b.be32(NFTA_TRACE_ID, 1);
        });
        let p = messages(&m)[0].3.to_vec();
        for n in 0..p.len() {
            let _ = parse_trace(&p[..n]);
        }
    }
}
