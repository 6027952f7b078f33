//! `-m cluster`: `--cluster-total-nodes N`, `[!] --cluster-local-node N` or
//! `[!] --cluster-local-nodemask MASK`, `--cluster-hash-seed SEED` (all
//! required). iptables-save prints the node as a mask.

use crate::iptables::ext::*;
use rampart_model::matches::cluster::Cluster;

pub(crate) static EXT: MatchExt = MatchExt {
    name: "cluster",
    aliases: &[],
    family: None,
    options: &[
        OptSpec::new(&["cluster-total-nodes"], Arity::One),
        OptSpec::new(&["cluster-local-node"], Arity::One),
        OptSpec::new(&["cluster-local-nodemask"], Arity::One),
        OptSpec::new(&["cluster-hash-seed"], Arity::One),
    ],
    build,
};

/// `XT_CLUSTER_NODES_MAX`.
const NODES_MAX: u64 = 32;

fn build(opts: &[OptOcc], cx: &RuleCtx) -> Result<Match, RuleError> {
    at_most_once(opts)?;
    let (mut total, mut node, mut seed) = (None, None, None);
    let mut invert = false;
    for o in opts {
        let node_opt = matches!(o.name, "cluster-local-node" | "cluster-local-nodemask");
        o.check_invert(node_opt)?;
        let t = o.arg();
        match o.name {
            "cluster-total-nodes" => {
                total = Some(parse_uint(&t, "node count", 0, NODES_MAX)? as u32)
            }
            "cluster-local-node" | "cluster-local-nodemask" => {
                if let Some((prev, _)) = node {
                    return Err(RuleError::new(
                        o.span,
                        format!("`--{}` conflicts with `--{prev}`", o.name),
                    ));
                }
                let mask = if o.name == "cluster-local-node" {
                    let n = parse_uint(&t, "node", 1, NODES_MAX)?;
                    1u32 << (n - 1)
                } else {
                    parse_u32(&t, "node mask")?
                };
                invert = o.invert;
                node = Some((o.name, (mask, t.span)));
            }
            "cluster-hash-seed" => seed = Some(parse_u32(&t, "hash seed")?),
            _ => {}
        }
    }
    let (Some(total_nodes), Some((_, (node_mask, node_span))), Some(hash_seed)) =
        (total, node, seed)
    else {
        return Err(cx
            .error("`-m cluster` needs `--cluster-total-nodes`, `--cluster-local-node` (or `--cluster-local-nodemask`) and `--cluster-hash-seed`"));
    };
    if u64::from(node_mask) >= 1u64 << total_nodes {
        return Err(RuleError::new(
            node_span,
            format!("node mask 0x{node_mask:x} names a node above `--cluster-total-nodes {total_nodes}`"),
        ));
    }
    Ok(Match::Cluster(Cluster {
        total_nodes,
        node_mask,
        invert,
        hash_seed,
    }))
}

pub(crate) fn save(m: &Cluster, _: &SaveCtx, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "{} --cluster-local-nodemask 0x{:08x} --cluster-total-nodes {} --cluster-hash-seed 0x{:08x}",
        if m.invert { " !" } else { "" },
        m.node_mask,
        m.total_nodes,
        m.hash_seed
    );
}
