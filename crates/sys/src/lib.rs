//! # rampart-sys
//!
//! The crate of rampart that talks to the operating system. Today:
//!
//! * [`encode()`]: a [`rampart_nft::Ruleset`] as **one nfnetlink batch**
//!   (`NFNL_MSG_BATCH_BEGIN`, `NEWTABLE`/`DELTABLE`/`NEWTABLE` per table,
//!   `NEWCHAIN`, `NEWSET` + `NEWSETELEM`, `NEWRULE` with kernel expressions,
//!   `NFNL_MSG_BATCH_END`) — the same bytecode `nft -f` generates for the
//!   text [`rampart_nft::to_text`] prints, so `nft list table` shows the
//!   same ruleset either way.
//! * [`Socket`]: a `NETLINK_NETFILTER` socket that sends a batch as one
//!   datagram and reads every acknowledgement; kernel errors come back as
//!   [`KernelError`]s naming the message (and policy line) they are about.
//! * [`apply()`]: both, in the current network namespace.
//! * [`apply_replacing()`]: [`apply()`] that also removes rampart's tables
//!   the new ruleset does not have (rollback to a policy without nat).
//! * [`list_rules()`], [`list_sets()`]: read a table back (rules with
//!   handles and counters, named sets with element counts) over netlink.
//! * [`setsync`]: incremental sync of named sets — only the elements that
//!   differ from the loaded contents, as `NEWSETELEM`/`DELSETELEM` batches
//!   (the loaded contents come from the caller, never from a dump), with a
//!   progress callback; a set read back whole (`list_elements`) or one
//!   element looked up (`get_element`).
//! * [`banset`]: the guard daemon's table `inet rampart-guard` (interval
//!   sets `ban4`/`ban6` with timeouts, drop chains before rampart's
//!   filter chains): created in one transaction with its bans, elements
//!   added and removed with their remaining time.
//! * [`process`]: what the safe-apply guard needs from the OS: leaving the
//!   session (`setsid`), an exclusive lock file (`flock`), and reading an
//!   ancestor's environment (`SSH_CONNECTION` behind `sudo`).
//! * [`netns`]: run a closure inside a named network namespace; throwaway
//!   namespaces (`ip netns add`) deleted on drop.
//! * [`sysctl`]: read and write kernel settings under `/proc/sys` with
//!   errors that name the key; apply a policy's `Sysctl`s.
//! * [`oracle`]: the kernel oracle of the differential tests — a ruleset
//!   in a throwaway namespace, crafted packets ([`craft`]) sent from a peer
//!   namespace with raw sockets, the kernel's verdict and deciding rule read
//!   from nftables trace events ([`trace`]).
//! * [`probe`]: a TCP connect with a deadline from a chosen source address
//!   (accepted / refused / timed out), for `rampart demo`.
//!
//! **Atomicity.** The kernel applies an nf_tables batch as one transaction:
//! if any message fails, or the process dies before the batch is sent,
//! nothing changes; once the kernel has it, all of it commits. rampart's
//! tables are therefore always either the old or the new ruleset.
//!
//! The crate has no `unsafe` code: system calls go through `rustix`.
//!
//! ```
//! use rampart_nft::*;
//! let rs = Ruleset { tables: vec![Table {
//!     family: TableFamily::Inet, name: "rampart".into(), sets: vec![],
//!     chains: vec![Chain { name: "input".into(), base: Some(BaseChain {
//!         kind: ChainType::Filter, hook: Hook::Input,
//!         priority: Priority::FILTER, policy: ChainPolicy::Accept }),
//!         rules: vec![Rule { stmts: vec![Stmt::Counter, Stmt::Verdict(Verdict::Accept)],
//!                            comment: None, origin: None, origins: vec![] }] }],
//! }]};
//! let batch = rampart_sys::encode(&rs, 1).expect("encodes");
//! // begin, new/delete/new table, chain, rule, end
//! assert_eq!(batch.msgs.len(), 5);
//! ```

pub mod banset;
mod consts;
pub mod craft;
pub mod ctnetlink;
pub mod dump;
pub mod encode;
pub mod netns;
mod nla;
pub mod oracle;
pub mod probe;
pub mod process;
pub mod setsync;
pub mod socket;
pub mod sysctl;
pub mod trace;

pub use dump::{list_rules, list_sets, list_tables, LiveRule, LiveSet};
pub use encode::{encode, encode_replacing, Batch, EncodeError, MsgInfo};
pub use socket::{KernelError, SendError, Socket};

/// Why an apply failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// Parts of the ruleset the encoder does not handle; nothing was sent.
    #[error("{} construct(s) cannot be encoded over netlink:\n{}", .0.len(), .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Encode(Vec<EncodeError>),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes `rs` and applies it in one transaction in the current network
/// namespace. Returns the size of the batch in bytes.
pub fn apply(rs: &rampart_nft::Ruleset) -> Result<usize, ApplyError> {
    apply_replacing(rs, &[])
}

/// rampart's own tables: `inet rampart` and `ip|ip6 rampart-nat`.
pub const OWN_TABLES: [(rampart_nft::TableFamily, &str); 3] = [
    (rampart_nft::TableFamily::Inet, "rampart"),
    (rampart_nft::TableFamily::Ip, "rampart-nat"),
    (rampart_nft::TableFamily::Ip6, "rampart-nat"),
];

/// [`apply()`], and in the same transaction removes each table of `remove`
/// that `rs` does not hold (pass [`OWN_TABLES`] so that rampart's tables
/// become exactly those of `rs`; an empty ruleset then removes them all).
pub fn apply_replacing(
    rs: &rampart_nft::Ruleset,
    remove: &[(rampart_nft::TableFamily, &str)],
) -> Result<usize, ApplyError> {
    let seq0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs() as u32);
    let batch = encode_replacing(rs, remove, seq0).map_err(ApplyError::Encode)?;
    if batch.msgs.is_empty() {
        return Ok(0);
    }
    let sock = Socket::open()?;
    sock.send_batch(&batch)?;
    Ok(batch.bytes().len())
}
