//! rampart's native policy format: a small TOML file written for people.
//!
//! ```toml
//! [defaults]
//! input = "drop"
//!
//! [[allow]]
//! service = ["ssh", "http", "https"]
//! ```
//!
//! [`parse_native`] reads a policy (with its includes and set files) and
//! lowers it into the [`rampart_model::Policy`] an expert would write with
//! iptables and ip6tables; [`to_native`] goes back where the model's shape
//! allows it. The format is described in `docs/native-policy.md`.
//!
//! ```
//! use rampart_syntax::{diag::SourceFile, native};
//! let file = SourceFile::new("policy.toml", "[[allow]]\nservice = \"ssh\"\n");
//! let parsed = native::parse_native(&file);
//! assert!(parsed.diagnostics.is_empty());
//! assert!(parsed.value.rule_count() > 0);
//! ```

mod ast;
pub mod catalogue;
mod check;
pub mod load;
mod lower;
mod print;
mod sets;

pub use catalogue::{service_catalogue, Service};
pub use check::LINT_CODES;
pub use load::{FsLoader, Loader};
pub use print::{to_native, NotExpressible};

use crate::diag::{Parsed, SourceFile};
use rampart_model::Policy;

/// Parses a native policy, reading `include`s and set `file`s from the
/// filesystem relative to `file.path`.
pub fn parse_native(file: &SourceFile) -> Parsed<Policy> {
    parse_native_with(file, &mut FsLoader)
}

/// Parses a native policy, reading included and set files through `loader`
/// (a closure `|path| -> Result<String, String>` will do).
pub fn parse_native_with(file: &SourceFile, loader: &mut dyn Loader) -> Parsed<Policy> {
    let (ir, diagnostics) = check::check(file, loader);
    let value = lower::lower_owned(ir);
    Parsed { value, diagnostics }
}
