//! `-m cpu`: `[!] --cpu N`.

use crate::iptables::ext::*;
use rampart_model::matches::cpu::Cpu;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "cpu",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["cpu"], Arity::One)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let Some(o) = find(opts, "cpu") else {
        return Err(cx
            .error("`-m cpu` needs `--cpu`")
            .with_help("for example `-m cpu --cpu 0`"));
    };
    let cpu = Neg::inverted(parse_u32(&o.arg(), "CPU number")?, o.invert);
    Ok(Match::Cpu(Cpu { cpu }))
}

pub(crate) fn save(m: &Cpu, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, m.cpu.invert, "cpu", m.cpu.value);
}
