//! `-m connmark`: match the mark of the packet's connection (`ct mark`).

use crate::matches::mark::MarkMask;
use crate::Neg;
use serde::{Deserialize, Serialize};

/// `-m connmark [!] --mark VALUE[/MASK]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Connmark {
    pub mark: Neg<MarkMask>,
}
