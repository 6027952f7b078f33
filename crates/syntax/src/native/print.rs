//! Model -> native TOML (`rampart convert --to native`).

use rampart_model::{Origin, Policy};

/// A construct of the model the native format cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotExpressible {
    /// What it is, e.g. "rule `-A INPUT -m string ...`".
    pub construct: String,
    /// Why, and what to do instead.
    pub reason: String,
    pub origin: Option<Origin>,
}

/// The native text of a policy.
pub fn to_native(policy: &Policy) -> Result<String, Vec<NotExpressible>> {
    let _ = policy;
    Err(vec![])
}
