//! # rampart-nft
//!
//! Lowers the rampart policy model ([`rampart_model::Policy`]) to an
//! nftables ruleset with iptables' meaning, and prints it as `nft -f` text
//!. The crate is pure: no I/O, no netlink, no
//! process; applying the result is a later, separate step.
//!
//! * [`lower()`] turns a policy into a typed [`Ruleset`] — tables, chains
//!   (with type, hook, priority, policy), named sets (key types, flags,
//!   timeouts, elements) and rules as sequences of typed statements and
//!   expressions — or into every [`LowerError`] of the policy. A construct
//!   that cannot be lowered faithfully is an error naming it and its source
//!   line, never an approximation.
//! * [`optimize()`] (optional, pure) merges runs of rules that differ in one
//!   value into one set lookup and IPv4/IPv6 twins into one rule, keeping
//!   the meaning of every chain; merged rules share one counter and list
//!   every source line in [`Rule::origins`].
//! * [`to_text`] prints the ruleset for `nft -f`, [`to_json`] as libnftables
//!   JSON (`nft -j -f`).
//!
//! The [`Ruleset`] tree is designed so that a netlink encoder can walk it
//! as well: each table, chain, set and rule is one netlink object, and each
//! [`Stmt`]/[`Expr`] maps onto kernel expressions (payload, meta, ct, fib,
//! cmp, bitwise, lookup, counter, limit, log, reject, nat, queue, ...).
//!
//! Layout in the kernel: the filter, mangle, raw and security tables of
//! both families go into `table inet rampart` (IPv4 and IPv6 rules share
//! chains; each rule starts with `meta nfproto ipv4|ipv6`), the nat table
//! into `table ip rampart-nat` / `table ip6 rampart-nat`. Tables of other
//! owners (Docker, libvirt, iptables-nft) are never named, so loading the
//! file never flushes or changes them.
//!
//! ```
//! use rampart_model::*;
//! let mut policy = Policy::default();
//! let input = policy
//!     .table_mut(Family::Ipv4, TableKind::Filter)
//!     .chain_mut("INPUT")
//!     .expect("built-in chain");
//! input.policy = Some(ChainPolicy::Drop);
//! input.rules.push(Rule {
//!     protocol: Some(Neg::new(Protocol::TCP)),
//!     matches: vec![Match::Tcp(matches::tcp::Tcp {
//!         dport: Some(Neg::new(PortRange::single(22))),
//!         ..Default::default()
//!     })],
//!     target: Some(Target::Accept),
//!     ..Default::default()
//! });
//! let ruleset = rampart_nft::lower(&policy).expect("lowers");
//! let text = rampart_nft::to_text(&ruleset);
//! assert!(text.contains("type filter hook input priority filter; policy accept;"));
//! // Only the IPv4 table says DROP: IPv6 packets stay unfiltered.
//! assert!(text.contains("meta nfproto ipv4 counter drop"));
//! assert!(text.contains("meta nfproto ipv4 meta l4proto tcp tcp dport 22 counter accept"));
//! ```

pub mod json;
pub mod lower;
pub mod optimize;
pub mod print;
pub mod ruleset;

pub use json::to_json;
pub use lower::lower;
pub use optimize::optimize;
pub use print::to_text;
pub use ruleset::*;

use rampart_model::{Family, Origin};

/// A construct of the policy that has no faithful nftables lowering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("{}: {construct}: {reason} ({} table {table}, chain {chain})", .origin.as_ref().map_or_else(|| "<no origin>".to_string(), |o| o.to_string()), family.tool())]
pub struct LowerError {
    /// What cannot be lowered (`-m recent`, `-j SET`, `ipset NAME`).
    pub construct: String,
    /// Why.
    pub reason: String,
    pub family: Family,
    /// The iptables table (`filter`, `nat`, ...), or `sets`.
    pub table: String,
    pub chain: String,
    /// The source line of the rule or set.
    pub origin: Option<Origin>,
}
