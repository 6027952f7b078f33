//! `-j RATEEST`: feed matching packets into a named rate estimator that
//! `-m rateest` can read.

use serde::{Deserialize, Serialize};

/// `-j RATEEST --rateest-name N --rateest-interval T --rateest-ewmalog T`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rateest {
    /// Estimator name (at most 15 bytes).
    pub name: String,
    /// Sampling interval as the kernel stores it: `250ms << interval`
    /// (0..=5, i.e. 250ms to 8s).
    pub interval: u8,
    /// Averaging time constant as the kernel stores it (`ewma_log`).
    pub ewma_log: u8,
}
