//! # rampart-guard
//!
//! The ban engine of rampart guard: fail2ban-compatible filters and ban decisions, without I/O.

pub mod filter;
