//! `-m ah`: IPsec Authentication Header. IPv4 (`libipt_ah`) knows only the
//! SPI; IPv6 (`libip6t_ah`) also matches the header length and the
//! reserved field.

use crate::matches::esp::U32Range;
use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m ah [!] --ahspi SPI[:SPI]`, IPv6 also `[!] --ahlen N --ahres`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ah {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spi: Option<Neg<U32Range>>,
    /// `--ahlen` (IPv6 only): the header length field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<Neg<u32>>,
    /// `--ahres` (IPv6 only): the reserved field must be zero.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub res: bool,
}
