//! `-m bpf`: a classic BPF program or a pinned eBPF object.

use serde::{Deserialize, Serialize};

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BpfInsn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// What the match runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BpfProgram {
    /// `--bytecode "N,code jt jf k,..."`: 1 to 64 instructions.
    Bytecode(Vec<BpfInsn>),
    /// `--object-pinned PATH`: an eBPF program pinned in bpffs.
    ObjectPinned(String),
}

/// `-m bpf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bpf {
    pub program: BpfProgram,
}
