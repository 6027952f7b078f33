//! `-j NETMAP --to ADDR[/PREFIX|/MASK]` (nat table, any of its chains).
//! iptables-save prints the network masked, with a prefix length.

use crate::iptables::cmd::parse_net;
use crate::iptables::ext::*;
use rampart_model::targets::netmap::Netmap;

pub(crate) static EXT: TargetExt = TargetExt {
    name: "NETMAP",
    aliases: &[],
    family: None,
    options: &[OptSpec::new(&["to"], Arity::One)],
    build,
};

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Target, RuleError> {
    at_most_once(opts)?;
    cx.require_table(&[TableKind::Nat])?;
    let mut to = None;
    for o in opts {
        o.check_invert(false)?;
        if o.name == "to" {
            let a = o.arg();
            let net = parse_net(&a.text, a.span, cx.family)?;
            if net.prefix_len().is_none() {
                return Err(RuleError::new(
                    a.span,
                    format!("NETMAP needs a contiguous mask, not `{}`", a.text),
                )
                .with_help("give a prefix length, e.g. `10.0.0.0/24`"));
            }
            to = Some(net);
        }
    }
    let to = to.ok_or_else(|| {
        cx.error("`NETMAP` needs `--to`")
            .with_help("add `--to ADDRESS/PREFIX`")
    })?;
    Ok(Target::Netmap(Netmap { to }))
}

pub(crate) fn save(n: &Netmap, _: &SaveCtx, out: &mut String) {
    save_opt_val(out, false, "to", n.to);
}
