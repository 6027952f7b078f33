//! `-m bpf` (revision 1): `--bytecode "N,code jt jf k,..."` (classic BPF, as
//! `nfbpf_compile` prints it) or `--object-pinned PATH` (an eBPF program
//! pinned in bpffs; whether it exists is kernel state).
//!
//! Of the kernel's classic BPF checks, the structural ones are applied:
//! 1 to 64 instructions, jumps that stay inside the program, and a final
//! `ret`.

use crate::iptables::ext::*;
use rampart_model::matches::bpf::{Bpf, BpfInsn, BpfProgram};

pub(crate) static EXT: MatchExt = MatchExt {
    name: "bpf",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["bytecode"], Arity::One),
        OptSpec::new(&["object-pinned"], Arity::One),
    ],
    build,
};

/// `XT_BPF_MAX_NUM_INSTR`.
const MAX_INSNS: usize = 64;
/// `XT_BPF_PATH_MAX - 1`.
const MAX_PATH: usize = 511;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let mut program = None;
    for o in opts {
        o.check_invert(false)?;
        if program.is_some() {
            return Err(RuleError::new(
                o.span,
                "give either `--bytecode` or `--object-pinned`",
            ));
        }
        let t = o.arg();
        program = Some(if o.name == "bytecode" {
            BpfProgram::Bytecode(parse_bytecode(&t)?)
        } else {
            if t.text.is_empty() || t.text.len() > MAX_PATH {
                return Err(RuleError::new(
                    t.span,
                    format!("a pinned object path must be 1 to {MAX_PATH} bytes"),
                ));
            }
            BpfProgram::ObjectPinned(t.text)
        });
    }
    let Some(program) = program else {
        return Err(cx.error("`-m bpf` needs `--bytecode` or `--object-pinned`"));
    };
    Ok(Match::Bpf(Bpf { program }))
}

fn parse_bytecode(t: &Token) -> Result<Vec<BpfInsn>, RuleError> {
    let err = |msg: String| {
        RuleError::new(t.span, msg)
            .with_help("bytecode is `N,code jt jf k,...` as printed by `nfbpf_compile`")
    };
    let mut parts = t.text.split(',');
    let len: usize = parts
        .next()
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| err("cannot read the program length".into()))?;
    if len == 0 || len > MAX_INSNS {
        return Err(err(format!(
            "program length {len} is out of range 1-{MAX_INSNS}"
        )));
    }
    let mut insns = Vec::with_capacity(len);
    for (i, part) in parts.enumerate() {
        let f: Vec<&str> = part.split_whitespace().collect();
        let insn = match f.as_slice() {
            [code, jt, jf, k] => (|| {
                Some(BpfInsn {
                    code: code.parse().ok()?,
                    jt: jt.parse().ok()?,
                    jf: jf.parse().ok()?,
                    k: k.parse().ok()?,
                })
            })(),
            _ => None,
        };
        let insn = insn.ok_or_else(|| err(format!("cannot read instruction {i}: `{part}`")))?;
        insns.push(insn);
    }
    if insns.len() != len {
        return Err(err(format!(
            "the program has {} instructions but says {len}",
            insns.len()
        )));
    }
    for (i, insn) in insns.iter().enumerate() {
        let left = len - i - 1;
        // BPF_JMP: BPF_JA jumps by k, the others by jt/jf.
        if insn.code & 0x07 == 0x05 {
            let far = if insn.code & 0xf0 == 0x00 {
                insn.k as usize >= left
            } else {
                usize::from(insn.jt) >= left || usize::from(insn.jf) >= left
            };
            if far {
                return Err(err(format!("instruction {i} jumps past the end")));
            }
        }
    }
    if insns.last().is_some_and(|l| l.code & 0x07 != 0x06) {
        return Err(err("the program must end with a `ret` instruction".into()));
    }
    Ok(insns)
}

pub(crate) fn save(m: &Bpf, _: &SaveCtx, out: &mut String) {
    use std::fmt::Write;
    match &m.program {
        BpfProgram::Bytecode(insns) => {
            let _ = write!(out, " --bytecode \"{}", insns.len());
            for i in insns {
                let _ = write!(out, ",{} {} {} {}", i.code, i.jt, i.jf, i.k);
            }
            out.push('"');
        }
        BpfProgram::ObjectPinned(p) => save_opt_val(out, false, "object-pinned", p),
    }
}

#[cfg(test)]
mod tests {
    use super::super::limit::roundtrip;
    use super::*;

    #[test]
    fn bytecode_checks() {
        let ok = "-m bpf --bytecode \"4,48 0 0 9,21 0 1 6,6 0 0 1,6 0 0 0\"";
        assert_eq!(roundtrip(ok, Family::Ipv4).expect("valid test input"), ok);
        for bad in [
            "0,",
            "2,6 0 0 1",
            "1,6 0 0 1,6 0 0 0",
            "2,21 0 1 6,6 0 0 0",
            "1,48 0 0 9",
            "x",
        ] {
            assert!(
                roundtrip(&format!("-m bpf --bytecode \"{bad}\""), Family::Ipv4).is_err(),
                "{bad}"
            );
        }
    }
}
