//! `-m u32`: tests on 32-bit words read from the packet at computed
//! offsets (see `iptables-extensions(8)`).

use serde::{Deserialize, Serialize};

/// How a location step combines the running value with its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum U32Op {
    /// The first step, or `@`: read the word at `start + value`.
    At,
    /// `&`.
    And,
    /// `<<`.
    Shl,
    /// `>>`.
    Shr,
}

/// One step of a location: `op number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct U32Step {
    pub op: U32Op,
    pub number: u32,
}

/// One test: `LOCATION = RANGE,RANGE,...`. The first step's op is
/// [`U32Op::At`] and its number the first offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct U32Test {
    /// 1 to 10 steps (iptables' limit; the kernel would take 11).
    pub location: Vec<U32Step>,
    /// 1 to 10 inclusive value ranges `(min, max)`; `min > max` is allowed
    /// (iptables and the kernel accept it; such a range never matches).
    pub ranges: Vec<(u32, u32)>,
}

/// `-m u32 [!] --u32 TESTS`: true when every test is true.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct U32 {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invert: bool,
    /// 1 to 10 tests, joined by `&&`.
    pub tests: Vec<U32Test>,
}
