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
/// (`--rateest-bps1`/`--rateest-bps2`); a value is `None` when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct RateestValues {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v1: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v2: Option<u32>,
}

/// `-m rateest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rateest {
    /// `--rateest-delta`: compare the estimator's rate minus the values.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delta: bool,
    /// `--rateest NAME` or `--rateest1 NAME`.
    pub name1: String,
    /// `--rateest2 NAME`: compare two estimators (relative mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name2: Option<String>,
    /// `--rateest-bps[1|2]`; bytes per second values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bps: Option<RateestValues>,
    /// `--rateest-pps[1|2]`; packets per second values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pps: Option<RateestValues>,
    /// `[!] --rateest-lt|gt|eq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<crate::Neg<RateestOp>>,
}
