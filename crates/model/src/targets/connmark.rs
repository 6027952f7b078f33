//! `-j CONNMARK`: set the connection mark, or copy marks between the
//! packet and its connection.

use serde::{Deserialize, Serialize};

/// Direction of a `--left-shift-mark` / `--right-shift-mark` shift
/// (CONNMARK revision 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShiftDir {
    Left,
    Right,
}

/// A bit shift applied to the computed mark (`--left-shift-mark N`,
/// `--right-shift-mark N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shift {
    pub dir: ShiftDir,
    /// 1..=32 (a shift by 0 is no shift and is represented as `None`).
    pub bits: u8,
}

/// What CONNMARK computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum ConnmarkMode {
    /// `--set-xmark` (and `--set-mark`/`--and-mark`/`--or-mark`/`--xor-mark`,
    /// reduced as for MARK): `ctmark = (ctmark & !mask) ^ value`.
    Set { value: u32, mask: u32 },
    /// `--save-mark`: `ctmark = (ctmark & !ctmask) ^ (nfmark & nfmask)`.
    Save { nfmask: u32, ctmask: u32 },
    /// `--restore-mark`: `nfmark = (nfmark & !nfmask) ^ (ctmark & ctmask)`.
    Restore { nfmask: u32, ctmask: u32 },
}

/// `-j CONNMARK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Connmark {
    pub mode: ConnmarkMode,
    /// Revision 2 shift of the copied/computed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift: Option<Shift>,
}

impl Default for Connmark {
    /// `--restore-mark` with full masks.
    fn default() -> Self {
        Connmark {
            mode: ConnmarkMode::Restore {
                nfmask: u32::MAX,
                ctmask: u32::MAX,
            },
            shift: None,
        }
    }
}
