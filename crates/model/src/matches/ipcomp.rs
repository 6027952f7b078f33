//! `-m ipcomp`: IP payload compression (IPComp) header.

use crate::matches::esp::U32Range;
use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m ipcomp [!] --ipcompspi SPI[:SPI] [--compres]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ipcomp {
    /// The compression parameter index (CPI, 16 bits on the wire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi: Option<Neg<U32Range>>,
    /// `--compres`: the reserved field must be zero.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub res: bool,
}
