//! # rampart-analyze
//!
//! Static analysis of a policy over header space (sets of packets, not
//! single packets): `rampart lint` findings (shadowed, redundant and
//! unreachable rules and chains, unused sets, IPv6 left open, database and
//! admin ports open to the world, no ESTABLISHED accept, SSH lock-out) and
//! `rampart matrix`, the service matrix of a filter policy.
//!
//! A rule's packets are a union of cubes, one value set per header field
//! ([`space`]); the model's matches become cubes in [`header`]. Matches
//! that cannot be modelled exactly (rate limits, marks, strings, dynamic
//! sets, ...) make a rule *opaque*: it is never used to prove anything
//! about the rules after it, so every "never matches" finding is sound.
//!
//! ```
//! use rampart_analyze::lint::{lint, Code, Options};
//! use rampart_model::*;
//! let mut policy = Policy::default();
//! let input = policy.table_mut(Family::Ipv4, TableKind::Filter).chain_mut("INPUT").unwrap();
//! let net = |s: &str, p| Some(Neg::new(IpNet::new(s.parse().unwrap(), p).unwrap()));
//! // Two /25s drop the whole /24: the ACCEPT of a host inside can never match.
//! for (n, t) in [("10.0.0.0", Target::Drop), ("10.0.0.128", Target::Drop)] {
//!     input.rules.push(Rule { source: net(n, 25), target: Some(t), ..Default::default() });
//! }
//! input.rules.push(Rule { source: net("10.0.0.7", 32), target: Some(Target::Accept), ..Default::default() });
//! let findings = lint(&policy, &Options::default());
//! assert!(findings.iter().any(|f| f.code == Code::Shadowed && f.related.len() == 1));
//! ```

pub mod header;
pub mod lint;
pub mod matrix;
pub mod render;
pub mod space;

pub use lint::{lint, Code, Finding, Options, Severity};
pub use matrix::{matrix, Matrix, Service};

/// Errors of the analysis (bad arguments such as a service that does not
/// parse).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("bad service `{0}`: expected PROTO/PORT such as tcp/22, udp/53 or tcp/8000-8080")]
    BadService(String),
}
