//! The iptables front end and printer: command lines, iptables-save files,
//! and the extension framework every match and target plugs into.

pub mod apply;
pub mod cmd;
pub mod ext;
pub mod lex;
pub mod matches;
pub mod print;
pub mod registry;
pub mod save;
pub mod targets;
#[cfg(test)]
pub(crate) mod testutil;

pub use apply::{apply, ApplyOptions};
pub use cmd::{parse_command, CmdContext, Command, Invocation};
pub use print::{rule_line, rule_options, save_text};
pub use save::{detect_family, parse_save};
