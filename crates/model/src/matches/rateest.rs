//! `-m rateest`: compares rate estimators created by `-j RATEEST`.

use serde::{Deserialize, Serialize};

/// How the rates are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateestOp {
    Lt,
    Gt,
    Eq,
}

impl RateestOp {
    pub fn name(self) -> &'static str {
        match self {
            RateestOp::Lt => "lt",
            RateestOp::Gt => "gt",
            RateestOp::Eq => "eq",
        }
    }
}

/// One compared quantity (bytes or packets per second) with its two values
/// (`--rateest-bps1`/`--rateest-bps2`). A value is `Some` exactly when the
/// kernel uses it: `v1` with `--rateest-delta`, `v2` in absolute mode (no
/// `--rateest2`) or with `--rateest-delta`; a value the rule needs but does
/// not give is 0, as iptables leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct RateestValues {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v1: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v2: Option<u32>,
}

/// `-m rateest`: absolute mode compares estimator `name1` with the given
/// values; relative mode (`name2` set) compares two estimators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rateest {
    /// `--rateest-delta`: compare the given values minus the rates.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delta: bool,
    /// `--rateest NAME` or `--rateest1 NAME` (1 to 15 bytes).
    pub name1: String,
    /// `--rateest2 NAME`: compare two estimators (relative mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name2: Option<String>,
    /// `--rateest-bps[1|2]`; values in bytes per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bps: Option<RateestValues>,
    /// `--rateest-pps[1|2]`; values in packets per second. At least one of
    /// `bps` and `pps` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pps: Option<RateestValues>,
    /// `[!] --rateest-lt|gt|eq` (required by the kernel).
    pub op: crate::Neg<RateestOp>,
}
