//! The daemon's I/O against real files, processes and sockets: log
//! tailing (`tail`), the journal through `journalctl` (`journal`), alert
//! senders against local HTTP and SMTP servers (`alert`).

#[path = "io/tail.rs"]
mod tail;

#[path = "io/journal.rs"]
mod journal;

#[path = "io/alert.rs"]
mod alert;
