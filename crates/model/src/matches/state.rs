//! `-m state`: connection tracking state (an alias of `-m conntrack
//! --ctstate` restricted to the five classic states).

use crate::Neg;
use serde::{Deserialize, Serialize};

/// A set of conntrack states, shared by `-m state --state` and
/// `-m conntrack --ctstate` (only the latter accepts `snat` and `dnat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct CtStates {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invalid: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub related: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub established: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub untracked: bool,
    /// The connection has its source translated (`--ctstate SNAT`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub snat: bool,
    /// The connection has its destination translated (`--ctstate DNAT`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dnat: bool,
}

impl CtStates {
    /// Names in the order iptables-save prints them.
    pub const NAMES: [&'static str; 7] = [
        "INVALID",
        "NEW",
        "RELATED",
        "ESTABLISHED",
        "UNTRACKED",
        "SNAT",
        "DNAT",
    ];

    /// The flag of a name of [`Self::NAMES`].
    pub fn flag_mut(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "INVALID" => &mut self.invalid,
            "NEW" => &mut self.new,
            "RELATED" => &mut self.related,
            "ESTABLISHED" => &mut self.established,
            "UNTRACKED" => &mut self.untracked,
            "SNAT" => &mut self.snat,
            "DNAT" => &mut self.dnat,
            _ => return None,
        })
    }

    /// The names of the states in the set, in iptables-save order.
    pub fn names(&self) -> Vec<&'static str> {
        let flags = [
            self.invalid,
            self.new,
            self.related,
            self.established,
            self.untracked,
            self.snat,
            self.dnat,
        ];
        Self::NAMES
            .iter()
            .zip(flags)
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.names().is_empty()
    }
}

/// `-m state [!] --state STATE[,STATE...]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct State {
    pub states: Neg<CtStates>,
}
