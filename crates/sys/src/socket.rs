//! A `NETLINK_NETFILTER` socket: send one batch, collect every
//! acknowledgement and error, map errors back to the messages that caused
//! them. No `unsafe`: the system calls go through `rustix`.

use crate::encode::{Batch, MsgInfo};
use crate::nla::{messages, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP_INTR};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{self, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::collections::HashMap;
use std::time::Duration;

/// One error the kernel reported for a message of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    /// The positive errno (`ENOENT` = 2, ...).
    pub errno: i32,
    /// The message it was about, when it is one of ours.
    pub msg: Option<MsgInfo>,
}

impl std::fmt::Display for KernelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = std::io::Error::from_raw_os_error(self.errno);
        match &self.msg {
            Some(m) => {
                if let Some(o) = &m.origin {
                    write!(f, "{o}: ")?;
                }
                write!(f, "{text}: {}", m.what)
            }
            None => write!(f, "{text} (the transaction as a whole)"),
        }
    }
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
    fd: OwnedFd,
}

impl Socket {
    pub fn open() -> std::io::Result<Socket> {
        let fd = net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(net::netlink::NETFILTER),
        )?;
        net::bind(&fd, &SocketAddrNetlink::new(0, 0))?;
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
                    });
                    break;
                }
                Err(e) => return Err(SendError::Io(e.into())),
            };
            for (ty, _flags, seq, payload) in messages(&buf[..n]) {
                if ty == NLMSG_DONE {
                    continue;
                }
                if ty != NLMSG_ERROR || payload.len() < 4 {
                    continue;
                }
                let code = i32::from_ne_bytes([payload[0], payload[1], payload[2], payload[3]]);
                pending.remove(&seq);
                if code != 0 {
                    errors.push(KernelError {
                        errno: -code,
                        msg: by_seq.get(&seq).map(|m| (*m).clone()),
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
