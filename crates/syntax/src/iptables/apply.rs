//! Carrying out an [`Invocation`] on a [`Policy`]: what iptables would do
//! to the kernel's tables, done to the model. Shared by the iptables-save
//! reader and the script reader.

use crate::diag::Span;
use crate::iptables::cmd::{ChainRef, Command, Invocation};
use crate::iptables::ext::RuleError;
use rampart_model::{Family, Origin, Policy, Rule, Table, TableKind, Target};

/// How strict applying is.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Create a user chain on first `-A` instead of failing (rule-only
    /// fragments have no `:CHAIN` lines).
    pub auto_create_chains: bool,
    /// Check that jump targets exist when the rule is added (scripts and
    /// save files); fragments check at the end with [`check_jumps`].
    pub check_jumps_now: bool,
}

/// Applies one command to the policy. `origin` is stamped on new rules.
pub fn apply(
    policy: &mut Policy,
    family: Family,
    inv: Invocation,
    origin: Option<Origin>,
    opts: ApplyOptions,
) -> Result<(), RuleError> {
    if inv.skip {
        return Ok(());
    }
    let table = policy.table_mut(family, inv.table);
    let kind = inv.table;
    let stamp = |mut rules: Vec<Rule>| -> Vec<Rule> {
        for r in &mut rules {
            r.origin = origin.clone();
        }
        rules
    };
    match inv.command {
        Command::Append { chain, rules } => {
            let rules = stamp(rules);
            check_targets(table, &chain, inv.target_span, &rules, opts)?;
            chain_for_add(table, &chain, opts, kind)?
                .rules
                .extend(rules);
        }
        Command::Insert {
            chain,
            position,
            rules,
        } => {
            let rules = stamp(rules);
            check_targets(table, &chain, inv.target_span, &rules, opts)?;
            let c = chain_for_add(table, &chain, opts, kind)?;
            let at = position as usize - 1;
            if at > c.rules.len() {
                return Err(RuleError::new(
                    chain.span,
                    format!(
                        "cannot insert at position {position}: chain `{}` has {} rule(s)",
                        chain.name,
                        c.rules.len()
                    ),
                ));
            }
            for (k, r) in rules.into_iter().enumerate() {
                c.rules.insert(at + k, r);
            }
        }
        Command::DeleteRule { chain, rules } => {
            let c = existing(table, &chain, kind)?;
            for r in rules {
                match c.rules.iter().position(|x| x.same_spec(&r)) {
                    Some(i) => {
                        c.rules.remove(i);
                    }
                    None => {
                        return Err(RuleError::new(
                            chain.span,
                            format!("no rule like this in chain `{}` to delete", chain.name),
                        ));
                    }
                }
            }
        }
        Command::DeleteNum { chain, position } => {
            let c = existing(table, &chain, kind)?;
            let n = c.rules.len();
            if position as usize > n {
                return Err(RuleError::new(
                    chain.span,
                    format!("chain `{}` has {n} rule(s), no rule {position}", chain.name),
                ));
            }
            c.rules.remove(position as usize - 1);
        }
        Command::Replace {
            chain,
            position,
            rule,
        } => {
            let rule = stamp(vec![rule]).remove(0);
            check_targets(
                table,
                &chain,
                inv.target_span,
                std::slice::from_ref(&rule),
                opts,
            )?;
            let c = existing(table, &chain, kind)?;
            let n = c.rules.len();
            match c.rules.get_mut(position as usize - 1) {
                Some(slot) => *slot = rule,
                None => {
                    return Err(RuleError::new(
                        chain.span,
                        format!("chain `{}` has {n} rule(s), no rule {position}", chain.name),
                    ))
                }
            }
        }
        Command::Check { .. } | Command::List => {}
        Command::NewChain(chain) => {
            if !table.add_user_chain(&chain.name) {
                return Err(RuleError::new(
                    chain.span,
                    format!("chain `{}` already exists", chain.name),
                ));
            }
        }
        Command::DeleteChain(chain) => match chain {
            Some(c) => delete_chain(table, &c)?,
            None => {
                let names: Vec<String> = table
                    .chains
                    .iter()
                    .filter(|c| c.policy.is_none())
                    .map(|c| c.name.clone())
                    .collect();
                for n in names {
                    delete_chain(
                        table,
                        &ChainRef {
                            name: n,
                            span: inv.command_span,
                        },
                    )?;
                }
            }
        },
        Command::Flush(chain) => match chain {
            Some(c) => existing(table, &c, kind)?.rules.clear(),
            None => table.chains.iter_mut().for_each(|c| c.rules.clear()),
        },
        Command::Zero(chain) => {
            let zero = |c: &mut rampart_model::Chain| {
                if c.counters.is_some() {
                    c.counters = Some(Default::default());
                }
                for r in &mut c.rules {
                    if r.counters.is_some() {
                        r.counters = Some(Default::default());
                    }
                }
            };
            match chain {
                Some(c) => zero(existing(table, &c, kind)?),
                None => table.chains.iter_mut().for_each(zero),
            }
        }
        Command::Policy { chain, policy: p } => {
            existing(table, &chain, kind)?.policy = Some(p);
        }
        Command::Rename { old, new } => {
            if table.is_builtin(&old.name) {
                return Err(RuleError::new(
                    old.span,
                    "a built-in chain cannot be renamed",
                ));
            }
            if table.chain(&new.name).is_some() {
                return Err(RuleError::new(
                    new.span,
                    format!("chain `{}` already exists", new.name),
                ));
            }
            existing(table, &old, kind)?.name = new.name.clone();
            for r in table.chains.iter_mut().flat_map(|c| &mut c.rules) {
                if let Some(Target::Jump { chain } | Target::Goto { chain }) = &mut r.target {
                    if *chain == old.name {
                        *chain = new.name.clone();
                    }
                }
            }
        }
    }
    Ok(())
}

fn no_chain(chain: &ChainRef, kind: TableKind) -> RuleError {
    RuleError::new(
        chain.span,
        format!(
            "chain `{}` does not exist in the {} table",
            chain.name,
            kind.name()
        ),
    )
    .with_help(format!("create it first with `-N {}`", chain.name))
}

fn existing<'a>(
    table: &'a mut Table,
    chain: &ChainRef,
    kind: TableKind,
) -> Result<&'a mut rampart_model::Chain, RuleError> {
    table
        .chain_mut(&chain.name)
        .ok_or_else(|| no_chain(chain, kind))
}

fn chain_for_add<'a>(
    table: &'a mut Table,
    chain: &ChainRef,
    opts: ApplyOptions,
    kind: TableKind,
) -> Result<&'a mut rampart_model::Chain, RuleError> {
    if table.chain(&chain.name).is_none() && opts.auto_create_chains {
        table.add_user_chain(&chain.name);
    }
    existing(table, chain, kind)
}

fn check_targets(
    table: &Table,
    chain: &ChainRef,
    target_span: Option<Span>,
    rules: &[Rule],
    opts: ApplyOptions,
) -> Result<(), RuleError> {
    if !opts.check_jumps_now {
        return Ok(());
    }
    let at = target_span.unwrap_or(chain.span);
    for r in rules {
        if let Some(Target::Jump { chain: to } | Target::Goto { chain: to }) = &r.target {
            if table.chain(to).is_none() {
                let help = match similar_target(to) {
                    Some(t) => format!("did you mean `{t}`?"),
                    None => format!("create the chain first with `-N {to}`, or check the spelling of the target"),
                };
                return Err(RuleError::new(
                    at,
                    format!(
                        "rule jumps to `{to}`, which is neither a chain of the {} table nor a known target",
                        table.kind.name()
                    ),
                )
                .with_help(help));
            }
            if table.is_builtin(to) {
                return Err(RuleError::new(
                    at,
                    format!("cannot jump to built-in chain `{to}`"),
                ));
            }
        }
    }
    Ok(())
}

/// A standard target or target extension whose name is a likely misspelling
/// of `name` (`ACCPET` → `ACCEPT`).
fn similar_target(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    ["ACCEPT", "DROP", "RETURN", "QUEUE"]
        .into_iter()
        .chain(crate::iptables::registry::TARGETS.iter().map(|t| t.name))
        .find(|t| crate::iptables::cmd::edit_distance(&upper, t) <= 2 && upper.len() > 2)
}

fn delete_chain(table: &mut Table, c: &ChainRef) -> Result<(), RuleError> {
    if table.is_builtin(&c.name) {
        return Err(RuleError::new(c.span, "a built-in chain cannot be deleted"));
    }
    let Some(pos) = table.chains.iter().position(|x| x.name == c.name) else {
        return Err(RuleError::new(
            c.span,
            format!("chain `{}` does not exist", c.name),
        ));
    };
    if !table.chains[pos].rules.is_empty() {
        return Err(
            RuleError::new(c.span, format!("chain `{}` is not empty", c.name))
                .with_help(format!("flush it first with `-F {}`", c.name)),
        );
    }
    let referenced = table.chains.iter().flat_map(|x| &x.rules).any(|r| {
        matches!(&r.target, Some(Target::Jump { chain } | Target::Goto { chain }) if *chain == c.name)
    });
    if referenced {
        return Err(RuleError::new(
            c.span,
            format!("chain `{}` is still referenced by a rule", c.name),
        ));
    }
    table.chains.remove(pos);
    Ok(())
}

/// Jumps to chains that do not exist, with the rule's origin. Used at the end
/// of a file when jumps were not checked as rules were added.
pub fn check_jumps(policy: &Policy) -> Vec<(Option<Origin>, String, TableKind)> {
    let mut out = Vec::new();
    for t in &policy.tables {
        for r in t.chains.iter().flat_map(|c| &c.rules) {
            if let Some(Target::Jump { chain } | Target::Goto { chain }) = &r.target {
                if t.chain(chain).is_none() || t.is_builtin(chain) {
                    out.push((r.origin.clone(), chain.clone(), t.kind));
                }
            }
        }
    }
    out
}

/// A span that covers nothing, for errors without a better place.
pub fn nowhere() -> Span {
    Span::default()
}
