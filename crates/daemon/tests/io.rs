//! The daemon's I/O against real files, processes and sockets: log
//! tailing (`tail`), the journal through `journalctl` (`journal`).

#[path = "io/tail.rs"]
mod tail;

#[path = "io/journal.rs"]
mod journal;
