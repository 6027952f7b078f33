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

/// A bit shift applied while copying a mark (`--left-shift-mark N`,
/// `--right-shift-mark N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shift {
    pub dir: ShiftDir,
    /// 0..=31.
    pub bits: u8,
}

/// What CONNMARK does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum Connmark {
    /// `--set-xmark` (and `--set-mark`/`--and-mark`/`--or-mark`/`--xor-mark`,
    /// reduced as for MARK): `ctmark = (ctmark & !mask) ^ value`.
    Set { value: u32, mask: u32 },
    /// `--save-mark`: `ctmark = (ctmark & !ctmask) ^ (nfmark & nfmask)`
    /// (with the optional shift applied to the masked nfmark).
    Save {
        nfmask: u32,
        ctmask: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shift: Option<Shift>,
    },
    /// `--restore-mark`: `nfmark = (nfmark & !nfmask) ^ (ctmark & ctmask)`
    /// (with the optional shift applied to the masked ctmark).
    Restore {
        nfmask: u32,
        ctmask: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shift: Option<Shift>,
    },
}

impl Default for Connmark {
    /// `--restore-mark` with full masks.
    fn default() -> Self {
        Connmark::Restore {
            nfmask: u32::MAX,
            ctmask: u32::MAX,
            shift: None,
        }
    }
}
