//! The daemon's I/O against real files, processes and sockets: log
//! tailing (`tail`).

#[path = "io/tail.rs"]
mod tail;
