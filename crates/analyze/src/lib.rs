//! # rampart-analyze
//!
//! Static analysis of a policy: lint findings (shadowed and redundant rules, holes) and the service matrix.
