//! rampart-daemon: the I/O side of `rampart guard run`. The decision
//! engine (`rampart-guard`) is pure; this crate feeds it log lines and
//! connection counts, carries its decisions to the kernel ban set, the
//! store and the alert channels, and answers the root-only control socket.
//!
//! * [`run`]: the one loop (sources → filters → engine → store → kernel).
//! * [`source`]: the line-source trait the loop reads; `Sources` (files
//!   through [`tail`], journal jails through [`journal`]) and a polling
//!   file follower.
//! * [`tail`]: log files followed with inotify through rotation.
//! * [`journal`]: the systemd journal through `journalctl`.
//! * [`conntrack`]: live connection counts from conntrack over netlink.
//! * [`alert`]: alert senders (webhook, e-mail, log) behind a bounded queue.
//! * [`kernel`]: actions → elements of table `inet rampart-guard`.
//! * [`control`]: the control socket (JSON lines, root only) and its client.
//! * [`whitelist`]: the host's addresses, admin SSH sessions.
//! * [`resolve`]: host names (`usedns`, whitelisted names) resolved on
//!   threads behind a bounded queue, with a cache; the loop never waits.
//!
//! ```
//! use rampart_daemon::control::{parse_request, request_line, Request};
//! let r = Request::Unban { net: "192.0.2.0/24".parse().expect("a network") };
//! assert_eq!(parse_request(request_line(&r).as_bytes()), Ok(r));
//! ```

pub mod alert;
pub mod conntrack;
pub mod control;
pub mod journal;
pub mod kernel;
pub mod resolve;
pub mod run;
pub mod source;
pub mod tail;
pub mod whitelist;

/// Errors of the daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration or a filter is wrong (located text).
    #[error("{0}")]
    Config(String),
    #[error("ban store: {0}")]
    Store(String),
    #[error("kernel ban table: {0}")]
    Kernel(String),
    #[error("control socket {path}: {message}")]
    Control { path: String, message: String },
}
