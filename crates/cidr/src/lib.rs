//! # rampart-cidr
//!
//! CIDR algebra over address lists of any size, IPv4 and IPv6: aggregate
//! (merge overlapping and adjacent networks), union, intersect, subtract,
//! membership with the covering input network, address counts, and output
//! as the minimal list of CIDR prefixes.
//!
//! A set of one family is a sorted vector of disjoint, non-adjacent
//! inclusive intervals ([`IntervalSet`] over `u32` or `u128`): building one
//! is a sort (radix sort for IPv4) and a merge, every set operation is a
//! linear merge, membership is a binary search. On this workload such a
//! vector is as fast as any trie and far smaller. The crate does no I/O
//! beyond reading from a caller's [`std::io::BufRead`], and untrusted
//! input never panics: a bad line is a located [`LineError`] and reading
//! goes on.
//!
//! ```
//! use rampart_cidr::CidrSet;
//!
//! // "Block these ranges except our office".
//! let (block, errors) = CidrSet::from_text("10.0.0.0/25\n10.0.0.128/25 # adjacent\n192.0.2.0-192.0.2.255\n");
//! assert!(errors.is_empty());
//! let (office, _) = CidrSet::from_text("10.0.0.64/26\n");
//! let rules = block.subtract(&office);
//! let prefixes: Vec<String> = rules.v4.prefixes().map(|p| p.to_string()).collect();
//! assert_eq!(prefixes, ["10.0.0.0/26", "10.0.0.128/25", "192.0.2.0/24"]);
//! assert_eq!(rules.v4.count(), Some(64 + 128 + 256));
//! assert!(rules.contains("10.0.0.200".parse().expect("an address")));
//!
//! // Bad lines are reported with line and column; the others still count.
//! let (set, errors) = CidrSet::from_text("10.0.0.1\n10.0.0.300\n");
//! assert_eq!(set.v4.count(), Some(1));
//! assert_eq!(errors[0].to_string(), "2:1: invalid IPv4 address");
//! ```

mod covering;
mod interval;
mod parse;

pub use covering::Covering;
pub use interval::{write_v4, Addr, Interval, IntervalSet, Prefix, Prefixes};
pub use parse::{parse_line, read_list, Entry, ErrorKind, LineError, ParseError};

use std::net::IpAddr;

/// Addresses of both families.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CidrSet {
    pub v4: IntervalSet<u32>,
    pub v6: IntervalSet<u128>,
}

impl CidrSet {
    /// Parses a whole list held in memory: the set of its good lines and
    /// the errors of the bad ones.
    pub fn from_text(text: &str) -> (CidrSet, Vec<LineError>) {
        let mut b = Builder::default();
        let mut errors = Vec::new();
        // Reading from a byte slice cannot fail.
        let _ = read_list(text.as_bytes(), |_, r| match r {
            Ok(e) => b.push(e),
            Err(e) => errors.push(e),
        });
        (b.build(), errors)
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    pub fn contains(&self, a: IpAddr) -> bool {
        match a {
            IpAddr::V4(a) => self.v4.contains(u32::from(a)),
            IpAddr::V6(a) => self.v6.contains(u128::from(a)),
        }
    }

    pub fn union(&self, other: &CidrSet) -> CidrSet {
        CidrSet {
            v4: self.v4.union(&other.v4),
            v6: self.v6.union(&other.v6),
        }
    }

    pub fn intersect(&self, other: &CidrSet) -> CidrSet {
        CidrSet {
            v4: self.v4.intersect(&other.v4),
            v6: self.v6.intersect(&other.v6),
        }
    }

    pub fn subtract(&self, other: &CidrSet) -> CidrSet {
        CidrSet {
            v4: self.v4.subtract(&other.v4),
            v6: self.v6.subtract(&other.v6),
        }
    }
}

/// Collects entries (unsorted, overlapping) and aggregates them once at
/// the end: the way to build a set from millions of lines.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    v4: Vec<Interval<u32>>,
    v6: Vec<Interval<u128>>,
}

impl Builder {
    pub fn push(&mut self, e: Entry) {
        match e {
            Entry::V4(iv) => self.v4.push(iv),
            Entry::V6(iv) => self.v6.push(iv),
        }
    }

    /// Entries pushed so far.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn build(self) -> CidrSet {
        CidrSet {
            v4: IntervalSet::from_intervals(self.v4),
            v6: IntervalSet::from_intervals(self.v6),
        }
    }
}
