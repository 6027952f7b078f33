//! Test helpers shared by the extension unit tests: parse one rule as
//! `iptables -A CHAIN RULE` would and print it back in iptables-save form.

use crate::iptables::cmd::{parse_command, CmdContext, Command};
use crate::iptables::lex::split_line;
use crate::iptables::print::rule_options;
use rampart_model::{Family, TableKind};

/// Parses `-A INPUT RULE` (IPv4, filter) and prints the rule back.
pub(crate) fn roundtrip(rule: &str) -> Result<String, String> {
    roundtrip_in(rule, Family::Ipv4, TableKind::Filter, "INPUT")
}

/// As [`roundtrip`], for IPv6.
pub(crate) fn roundtrip6(rule: &str) -> Result<String, String> {
    roundtrip_in(rule, Family::Ipv6, TableKind::Filter, "INPUT")
}

pub(crate) fn roundtrip_in(
    rule: &str,
    family: Family,
    table: TableKind,
    chain: &str,
) -> Result<String, String> {
    let line = format!("-A {chain} {rule}");
    let toks = split_line(&line, 0).map_err(|e| e.message)?;
    let cx = CmdContext {
        family,
        table,
        allow_table_option: false,
    };
    let inv = parse_command(&toks, &cx).map_err(|e| e.message)?;
    match inv.command {
        Command::Append { rules, .. } => Ok(rules
            .iter()
            .map(|r| rule_options(r, family))
            .collect::<Vec<_>>()
            .join("\n")),
        _ => Err("not an append".into()),
    }
}

/// As [`roundtrip`], for either family.
pub(crate) fn roundtrip_fam(rule: &str, family: Family) -> Result<String, String> {
    roundtrip_in(rule, family, TableKind::Filter, "INPUT")
}
