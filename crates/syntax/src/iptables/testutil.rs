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
    print_line(&format!("-A {chain} {rule}"), family, table)
}

/// Parses a whole `-A CHAIN ...` line in `table` and prints the rule(s)
/// back, one per line.
fn print_line(line: &str, family: Family, table: TableKind) -> Result<String, String> {
    let toks = split_line(line, 0).map_err(|e| e.message)?;
    let cx = CmdContext {
        family,
        table,
        allow_table_option: false,
    };
    match parse_command(&toks, &cx).map_err(|e| e.message)?.command {
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

/// Parses a whole `-A CHAIN ...` line in `table` and prints the rule(s)
/// back (one per line).
pub(crate) fn run(family: Family, table: &str, line: &str) -> Result<String, String> {
    print_line(line, family, TableKind::from_name(table).ok_or("table")?)
}

/// Runs `(family, table, line, expected)` cases: `Some(printed)` when
/// iptables accepts the line and prints it so, `None` when it refuses it.
pub(crate) fn check_cases(cases: &[(Family, &str, &str, Option<&str>)]) {
    for &(fam, table, line, want) in cases {
        let got = run(fam, table, line);
        match want {
            Some(w) => assert_eq!(got.as_deref(), Ok(w), "{line}"),
            None => assert!(got.is_err(), "{line} should fail, printed {got:?}"),
        }
    }
}

/// One option occurrence with a single argument and no position.
pub(crate) fn occ(name: &'static str, arg: &str) -> crate::iptables::ext::OptOcc {
    use crate::diag::Span;
    crate::iptables::ext::OptOcc {
        name,
        invert: false,
        args: vec![crate::iptables::lex::Token::new(arg, Span::new(0, 0))],
        span: Span::new(0, 0),
    }
}
