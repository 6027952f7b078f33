//! A TCP connection attempt with a deadline, from a chosen source address:
//! what a firewall does to a connection, seen from the client.

use rustix::io::Errno;
use rustix::net::{sockopt, AddressFamily, SocketType};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// What happened to a connection attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The handshake completed.
    Accepted,
    /// A TCP reset came back (no listener, or a `reject with tcp reset`).
    Refused,
    /// No answer before the deadline: the SYN was dropped.
    TimedOut,
    /// An ICMP error (host/port unreachable, prohibited) or a local error.
    Error(String),
}

/// Connects to `dst` from `src` (any local address when `None`), waiting
/// at most `timeout` for the handshake. Runs in the calling thread's
/// network namespace (use [`crate::netns::run_in`] for another one).
pub fn tcp_connect(src: Option<IpAddr>, dst: SocketAddr, timeout: Duration) -> Outcome {
    let family = if dst.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let attempt = || -> Result<(), Errno> {
        let fd = rustix::net::socket(family, SocketType::STREAM, None)?;
        // Linux bounds a blocking connect(2) by SO_SNDTIMEO and returns
        // EINPROGRESS when it expires.
        sockopt::set_socket_timeout(&fd, sockopt::Timeout::Send, Some(timeout))?;
        if let Some(src) = src {
            rustix::net::bind(&fd, &SocketAddr::new(src, 0))?;
        }
        rustix::net::connect(&fd, &dst)
    };
    match attempt() {
        Ok(()) => Outcome::Accepted,
        Err(Errno::CONNREFUSED) => Outcome::Refused,
        Err(Errno::INPROGRESS | Errno::TIMEDOUT | Errno::AGAIN) => Outcome::TimedOut,
        Err(e) => Outcome::Error(std::io::Error::from(e).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_listener_accepts_and_a_closed_port_refuses() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let src = Some("127.0.0.1".parse().expect("ip"));
        assert_eq!(
            tcp_connect(src, addr, Duration::from_secs(2)),
            Outcome::Accepted
        );
        drop(l);
        assert_eq!(
            tcp_connect(None, addr, Duration::from_secs(2)),
            Outcome::Refused
        );
    }
}
