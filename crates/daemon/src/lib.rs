//! rampart-daemon: the I/O side of `rampart guard run`. The decision
//! engine (`rampart-guard`) is pure; this crate feeds it log lines and
//! connection counts, carries its decisions to the kernel ban set, the
//! store and the alert channels, and answers the root-only control socket.
pub mod alert;
pub mod conntrack;
pub mod journal;
pub mod tail;
