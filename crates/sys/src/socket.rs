//! A `NETLINK_NETFILTER` socket: send one batch, collect every
//! acknowledgement and error, map errors back to the messages that caused
//! them. No `unsafe` in rampart: the socket is opened by `netlink-sys`
//! (which also sets `NETLINK_EXT_ACK`, an option `rustix` does not offer),
//! and the other system calls go through `rustix`.
//!
//! **Extended acknowledgements.** With `NETLINK_EXT_ACK` on, the kernel
//! appends TLVs to an error: `NLMSGERR_ATTR_MSG` (its own text, e.g.
//! "Attribute failed policy validation") and `NLMSGERR_ATTR_OFFS` (the
//! byte offset, in the refused message, of the attribute it objected to).
//! The error echoes the whole refused message (no `NETLINK_CAP_ACK`), so
//! the offset is resolved against it: for a rule, "expression 3
//! (`immediate`)"; otherwise the attribute's number. Both end up in the
//! [`KernelError`] beside the message's own description and policy line.

use crate::consts::{NFNL_SUBSYS_NFTABLES, NFTA_EXPR_NAME, NFTA_RULE_EXPRESSIONS};
use crate::encode::{Batch, MsgInfo};
use crate::nla::{attrs, messages, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLM_F_DUMP_INTR};
use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{self, RecvFlags, SendFlags};
use std::collections::HashMap;
use std::time::Duration;

/// `NLM_F_CAPPED` on an error: only the header of the refused message is
/// echoed.
const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS` on an error: extended-ack TLVs follow the echo.
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSGERR_ATTR_OFFS: u16 = 2;
/// `nfgenmsg` after the header of every nfnetlink message.
const NFGENMSG_LEN: usize = 4;
const NFT_MSG_NEWRULE: u16 = 6;

/// One error the kernel reported for a message of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    /// The positive errno (`ENOENT` = 2, ...).
    pub errno: i32,
    /// The message it was about, when it is one of ours.
    pub msg: Option<MsgInfo>,
    /// The kernel's own explanation (`NLMSGERR_ATTR_MSG`), when it gave one.
    pub kernel_msg: Option<String>,
    /// What `NLMSGERR_ATTR_OFFS` points at in the refused message:
    /// `expression 3 (immediate)` of a rule, or `attribute 2`.
    pub at: Option<String>,
}

impl std::fmt::Display for KernelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = std::io::Error::from_raw_os_error(self.errno);
        match &self.msg {
            Some(m) => {
                if let Some(o) = &m.origin {
                    write!(f, "{o}: ")?;
                }
                write!(f, "{text}: {}", m.what)?;
            }
            None => write!(f, "{text} (the transaction as a whole)")?,
        }
        match (&self.kernel_msg, &self.at) {
            (Some(k), Some(a)) => write!(f, " [kernel: {k}, at {a}]"),
            (Some(k), None) => write!(f, " [kernel: {k}]"),
            (None, Some(a)) => write!(f, " [kernel: refused at {a}]"),
            (None, None) => Ok(()),
        }
    }
}

/// The extended-ack part of an `NLMSG_ERROR` payload (after the errno):
/// the kernel's message and where the offset points. `flags` are the
/// error message's own header flags.
pub(crate) fn ext_ack(flags: u16, payload: &[u8]) -> (Option<String>, Option<String>) {
    if flags & NLM_F_ACK_TLVS == 0 {
        return (None, None);
    }
    // errno, then the echoed message (its header only when capped).
    let Some(echo) = payload.get(4..) else {
        return (None, None);
    };
    let echo_len = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        match echo.get(..4) {
            Some(b) => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize,
            None => return (None, None),
        }
    };
    let Some(tlvs) = echo.get(echo_len.div_ceil(4) * 4..) else {
        return (None, None);
    };
    let mut text = None;
    let mut offs = None;
    for (ty, v) in attrs(tlvs) {
        match ty {
            NLMSGERR_ATTR_MSG => {
                let v = v.split(|b| *b == 0).next().unwrap_or_default();
                let s = String::from_utf8_lossy(v).trim().to_string();
                if !s.is_empty() {
                    text = Some(s);
                }
            }
            NLMSGERR_ATTR_OFFS if v.len() >= 4 => {
                offs = Some(u32::from_ne_bytes([v[0], v[1], v[2], v[3]]) as usize);
            }
            _ => {}
        }
    }
    let at = match (offs, flags & NLM_F_CAPPED == 0) {
        (Some(o), true) => Some(locate(&echo[..echo_len.min(echo.len())], o)),
        (Some(o), false) => Some(format!("byte {o} of the message")),
        (None, _) => None,
    };
    (text, at)
}

/// The name of top-level attribute `aty` of nf_tables message `msg`.
fn attr_name(msg: u16, aty: u16) -> Option<&'static str> {
    Some(match (msg, aty) {
        (0, 1) => "NFTA_TABLE_NAME",
        (0, 2) => "NFTA_TABLE_FLAGS",
        (3, 1) => "NFTA_CHAIN_TABLE",
        (3, 3) => "NFTA_CHAIN_NAME",
        (3, 4) => "NFTA_CHAIN_HOOK",
        (3, 5) => "NFTA_CHAIN_POLICY",
        (3, 7) => "NFTA_CHAIN_TYPE",
        (6, 1) => "NFTA_RULE_TABLE",
        (6, 2) => "NFTA_RULE_CHAIN",
        (6, 7) => "NFTA_RULE_USERDATA",
        (9, 1) => "NFTA_SET_TABLE",
        (9, 2) => "NFTA_SET_NAME",
        (9, 3) => "NFTA_SET_FLAGS",
        (9, 4) => "NFTA_SET_KEY_TYPE",
        (9, 5) => "NFTA_SET_KEY_LEN",
        (9, 9) => "NFTA_SET_DESC",
        (12, 1) => "NFTA_SET_ELEM_LIST_TABLE",
        (12, 2) => "NFTA_SET_ELEM_LIST_SET",
        (12, 3) => "NFTA_SET_ELEM_LIST_ELEMENTS",
        _ => return None,
    })
}

/// Names the attribute at byte `off` of the netlink message `msg`: the
/// expression of a rule it lies in, else the top-level attribute.
fn locate(msg: &[u8], off: usize) -> String {
    let ty = msg
        .get(4..6)
        .map_or(0, |b| u16::from_ne_bytes([b[0], b[1]]));
    let mut pos = NLMSG_HDRLEN + NFGENMSG_LEN;
    let Some(body) = msg.get(pos..) else {
        return format!("byte {off} of the message");
    };
    for (aty, payload) in attrs(body) {
        let len = u16::from_ne_bytes([msg[pos], msg[pos + 1]]) as usize;
        if off >= pos && off < pos + len.max(4) {
            if ty == (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWRULE) && aty == NFTA_RULE_EXPRESSIONS {
                let mut epos = pos + 4;
                for (i, (_, elem)) in attrs(payload).into_iter().enumerate() {
                    let elen = u16::from_ne_bytes([msg[epos], msg[epos + 1]]) as usize;
                    if off >= epos && off < epos + elen.max(4) {
                        let name = attrs(elem)
                            .into_iter()
                            .find(|(t, _)| *t == NFTA_EXPR_NAME)
                            .map(|(_, n)| {
                                String::from_utf8_lossy(
                                    n.split(|b| *b == 0).next().unwrap_or_default(),
                                )
                                .into_owned()
                            })
                            .unwrap_or_default();
                        return format!("expression {} ({name}) of the rule", i + 1);
                    }
                    epos += elen.div_ceil(4) * 4;
                }
                return "the rule's expression list".to_string();
            }
            return match attr_name(ty & 0xff, aty) {
                Some(n) => format!("{n} of the message"),
                None => format!("attribute {aty} of the message"),
            };
        }
        pos += len.div_ceil(4) * 4;
    }
    format!("byte {off} of the message")
}

/// Failure of a batch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    #[error("netlink: {0}")]
    Io(#[from] std::io::Error),
    /// The kernel refused the batch: nothing of it was applied.
    #[error("the kernel refused the transaction, nothing was changed:\n{}", .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Kernel(Vec<KernelError>),
    #[error("netlink: the batch was never acknowledged ({0} message(s) missing)")]
    Unacknowledged(usize),
}

/// An open `NETLINK_NETFILTER` socket (in the network namespace of the
/// thread that opened it).
#[derive(Debug)]
pub struct Socket {
    fd: netlink_sys::Socket,
}

impl Socket {
    pub fn open() -> std::io::Result<Socket> {
        let mut fd = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_NETFILTER)?;
        fd.bind(&netlink_sys::SocketAddr::new(0, 0))?;
        // Kernels before 4.12 lack extended acks; errors then carry the
        // errno and the message only.
        let _ = fd.set_ext_ack(true);
        Ok(Socket { fd })
    }

    /// Sends one dump request (`NLM_F_DUMP`) and collects the payloads
    /// (after `nlmsghdr`) of every answer until `NLMSG_DONE`. A kernel
    /// error comes back as the `io::Error` of its errno; `Ok(None)` when
    /// the dump was interrupted by a ruleset change (ask again).
    pub(crate) fn dump(&self, request: &[u8], seq: u32) -> std::io::Result<Option<Vec<Vec<u8>>>> {
        net::sockopt::set_socket_timeout(
            &self.fd,
            net::sockopt::Timeout::Recv,
            Some(Duration::from_secs(10)),
        )?;
        let kernel = SocketAddrNetlink::new(0, 0);
        let sent = net::sendto(&self.fd, request, SendFlags::empty(), &kernel)?;
        if sent != request.len() {
            return Err(std::io::Error::other(
                "short netlink send of a dump request",
            ));
        }
        let mut out = Vec::new();
        let mut interrupted = false;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let (n, _) = match net::recv(&self.fd, &mut buf[..], RecvFlags::empty()) {
                Ok(r) => r,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            for (ty, flags, s, payload) in messages(&buf[..n]) {
                if s != seq {
                    continue;
                }
                if flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match ty {
                    NLMSG_DONE => return Ok(if interrupted { None } else { Some(out) }),
                    NLMSG_ERROR => {
                        let code = payload
                            .get(..4)
                            .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                        if code != 0 {
                            return Err(std::io::Error::from_raw_os_error(-code));
                        }
                    }
                    _ => out.push(payload.to_vec()),
                }
            }
        }
    }

    /// Sends `batch` as one datagram (the kernel processes a batch only
    /// within one message buffer) and waits for every acknowledgement.
    pub fn send_batch(&self, batch: &Batch) -> Result<(), SendError> {
        let len = batch.bytes().len();
        // The send buffer must hold the whole batch; as root force it past
        // net.core.wmem_max, else try the ordinary option.
        let want = len + 64 * 1024;
        if net::sockopt::set_socket_send_buffer_size_force(&self.fd, want).is_err() {
            net::sockopt::set_socket_send_buffer_size(&self.fd, want)
                .map_err(std::io::Error::from)?;
        }
        // Room for the errors (each echoes its message) and the final ack.
        let rcv = (len * 2).clamp(1 << 20, 256 << 20);
        if net::sockopt::set_socket_recv_buffer_size_force(&self.fd, rcv).is_err() {
            let _ = net::sockopt::set_socket_recv_buffer_size(&self.fd, rcv);
        }
        net::sockopt::set_socket_timeout(
            &self.fd,
            net::sockopt::Timeout::Recv,
            Some(Duration::from_secs(30)),
        )
        .map_err(std::io::Error::from)?;
        let kernel = SocketAddrNetlink::new(0, 0);
        let sent = net::sendto(&self.fd, batch.bytes(), SendFlags::empty(), &kernel)
            .map_err(std::io::Error::from)?;
        if sent != len {
            return Err(SendError::Io(std::io::Error::other(format!(
                "short netlink send: {sent} of {len} bytes"
            ))));
        }
        let by_seq: HashMap<u32, &MsgInfo> = batch.msgs.iter().map(|m| (m.seq, m)).collect();
        let mut pending: std::collections::HashSet<u32> =
            batch.msgs.last().map(|m| m.seq).into_iter().collect();
        let mut errors = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        while !pending.is_empty() {
            let (n, _) = match net::recv(&self.fd, &mut buf[..], RecvFlags::empty()) {
                Ok(r) => r,
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => break,
                // Answers were dropped: only errors can be that many, so the
                // batch failed; which messages failed is lost.
                Err(Errno::NOBUFS) => {
                    errors.push(KernelError {
                        errno: Errno::NOBUFS.raw_os_error(),
                        msg: None,
                        kernel_msg: None,
                        at: None,
                    });
                    break;
                }
                Err(e) => return Err(SendError::Io(e.into())),
            };
            for (ty, flags, seq, payload) in messages(&buf[..n]) {
                if ty == NLMSG_DONE {
                    continue;
                }
                if ty != NLMSG_ERROR || payload.len() < 4 {
                    continue;
                }
                let code = i32::from_ne_bytes([payload[0], payload[1], payload[2], payload[3]]);
                pending.remove(&seq);
                if code != 0 {
                    let (kernel_msg, at) = ext_ack(flags, payload);
                    errors.push(KernelError {
                        errno: -code,
                        msg: by_seq.get(&seq).map(|m| (*m).clone()),
                        kernel_msg,
                        at,
                    });
                }
            }
        }
        if !errors.is_empty() {
            return Err(SendError::Kernel(errors));
        }
        if !pending.is_empty() {
            return Err(SendError::Unacknowledged(pending.len()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nla::Buf;

    /// An `NLMSG_ERROR` payload: errno, the echoed rule message, TLVs.
    fn error_payload(echo: &[u8], tlvs: &[u8]) -> Vec<u8> {
        let mut p = (-2i32).to_ne_bytes().to_vec();
        p.extend_from_slice(echo);
        p.extend_from_slice(tlvs);
        p
    }

    fn rule_msg() -> (Vec<u8>, usize) {
        let mut b = Buf::default();
        let mut second = 0;
        b.msg(
            NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWRULE,
            0,
            7,
            1,
            0,
            |b| {
                b.str(1, "rampart");
                b.str(2, "input");
                b.nest(NFTA_RULE_EXPRESSIONS, |b| {
                    b.nest(1, |b| b.str(NFTA_EXPR_NAME, "counter"));
                    second = b.b.len();
                    b.nest(1, |b| b.str(NFTA_EXPR_NAME, "immediate"));
                });
            },
        );
        (b.b, second)
    }

    #[test]
    fn extended_ack_names_the_kernel_message_and_the_expression() {
        let (echo, second) = rule_msg();
        let mut t = Buf::default();
        t.str(NLMSGERR_ATTR_MSG, "Attribute failed policy validation");
        t.attr(NLMSGERR_ATTR_OFFS, &(second as u32).to_ne_bytes());
        let p = error_payload(&echo, &t.b);
        let (msg, at) = ext_ack(NLM_F_ACK_TLVS, &p);
        assert_eq!(msg.as_deref(), Some("Attribute failed policy validation"));
        assert_eq!(at.as_deref(), Some("expression 2 (immediate) of the rule"));
        // The chain attribute (after the 20-byte headers and the table).
        let mut t = Buf::default();
        t.attr(NLMSGERR_ATTR_OFFS, &32u32.to_ne_bytes());
        let (msg, at) = ext_ack(NLM_F_ACK_TLVS, &error_payload(&echo, &t.b));
        assert_eq!(msg, None);
        assert_eq!(at.as_deref(), Some("NFTA_RULE_CHAIN of the message"));
        // No TLV flag: nothing is read.
        assert_eq!(ext_ack(0, &p), (None, None));
    }

    #[test]
    fn malformed_extended_acks_never_panic() {
        let (echo, _) = rule_msg();
        for cut in 0..echo.len() + 12 {
            let mut t = Buf::default();
            t.attr(NLMSGERR_ATTR_OFFS, &(cut as u32 * 3).to_ne_bytes());
            let p = error_payload(&echo, &t.b);
            let p = &p[..cut.min(p.len())];
            for flags in [NLM_F_ACK_TLVS, NLM_F_ACK_TLVS | NLM_F_CAPPED] {
                let _ = ext_ack(flags, p);
            }
            let _ = locate(&echo[..cut.min(echo.len())], cut * 2);
        }
        // An echo whose length claims more than the datagram holds.
        let mut bad = echo.clone();
        bad[..4].copy_from_slice(&9999u32.to_ne_bytes());
        let _ = ext_ack(NLM_F_ACK_TLVS, &error_payload(&bad, &[]));
    }
}
