//! # rampart-syntax
//!
//! rampart's front ends and printers. Every front end produces the one
//! policy model of [`rampart_model`] and reports every problem of a file as
//! a located [`diag::Diagnostic`] (path:line:column, the line, a caret),
//! going on past bad lines so that one run shows all of them.
//!
//! - [`iptables`]: iptables-save / iptables-restore files (v4 and v6),
//!   rule-only fragments, and the iptables command-line grammar with its
//!   match and target extensions; the iptables-save printer.
//! - [`script`]: shell scripts of `iptables`, `ip6tables` and `ipset`
//!   commands.
//! - [`native`]: rampart's own TOML policy format.
//! - [`fail2ban`]: fail2ban's filter and jail configuration files.
//!
//! ```
//! use rampart_syntax::{diag::SourceFile, iptables};
//! use rampart_model::Family;
//! let file = SourceFile::new("rules.v4", "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n");
//! let parsed = iptables::parse_save(&file, Family::Ipv4);
//! assert!(parsed.diagnostics.is_empty());
//! let text = iptables::save_text(&parsed.value, Family::Ipv4);
//! assert!(text.contains("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"));
//! ```

pub mod diag;
pub mod fail2ban;
pub mod format;
pub mod iptables;
pub mod native;
pub mod script;

pub use diag::{Diagnostic, Diagnostics, Parsed, SourceFile, Span};
pub use format::Format;
