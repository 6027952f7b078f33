//! The policy with chain names resolved to indices: what both engines walk.

use rampart_model::{Chain, Family, Policy, Table, TableKind, Target};
use std::collections::HashMap;

/// A rule's place: table, chain and rule index of the [`Program`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RuleKey {
    pub table: u32,
    pub chain: u32,
    pub rule: u32,
}

#[derive(Debug)]
pub(crate) struct PTable<'p> {
    pub family: Family,
    pub kind: TableKind,
    pub chains: Vec<&'p Chain>,
    pub by_name: HashMap<&'p str, usize>,
    /// Per chain, per rule: the chain index a jump or goto leads to
    /// (`None`: not a jump, or a missing chain).
    pub jumps: Vec<Vec<Option<usize>>>,
}

#[derive(Debug)]
pub(crate) struct Program<'p> {
    pub policy: &'p Policy,
    pub tables: Vec<PTable<'p>>,
}

impl<'p> Program<'p> {
    pub fn new(policy: &'p Policy) -> Program<'p> {
        let tables = policy.tables.iter().map(PTable::new).collect();
        Program { policy, tables }
    }

    pub fn table(&self, family: Family, kind: TableKind) -> Option<usize> {
        self.tables
            .iter()
            .position(|t| t.family == family && t.kind == kind)
    }
}

impl<'p> PTable<'p> {
    fn new(t: &'p Table) -> PTable<'p> {
        let chains: Vec<&Chain> = t.chains.iter().collect();
        let by_name: HashMap<&str, usize> = chains
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), i))
            .collect();
        let jumps = chains
            .iter()
            .map(|c| {
                c.rules
                    .iter()
                    .map(|r| match &r.target {
                        Some(Target::Jump { chain }) | Some(Target::Goto { chain }) => {
                            by_name.get(chain.as_str()).copied()
                        }
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        PTable {
            family: t.family,
            kind: t.kind,
            chains,
            by_name,
            jumps,
        }
    }
}
