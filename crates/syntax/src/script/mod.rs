//! Shell scripts of `iptables`, `ip6tables` and `ipset` commands, read into
//! one [`Policy`] (both families, sets and kernel settings), plus the
//! `ipset save` reader and printer.
//!
//! ```
//! use rampart_syntax::{diag::SourceFile, script};
//! use rampart_model::{Family, TableKind};
//! let file = SourceFile::new("fw.sh", "#!/bin/sh\nset -e\nIPT=/sbin/iptables\n\
//!     $IPT -P INPUT DROP\nsudo $IPT -A INPUT -p tcp \\\n  --dport 22 -j ACCEPT\n\
//!     echo 1 > /proc/sys/net/ipv4/ip_forward\n");
//! let parsed = script::parse_script(&file);
//! assert!(parsed.diagnostics.is_empty(), "{}", parsed.diagnostics);
//! let input = parsed.value.table(Family::Ipv4, TableKind::Filter).unwrap().chain("INPUT").unwrap();
//! assert_eq!(input.rules.len(), 1);
//! assert_eq!(input.rules[0].origin.as_ref().unwrap().line, 5);
//! assert_eq!(parsed.value.sysctls[0].key, "net.ipv4.ip_forward");
//! ```
//!
//! # What a script may contain
//!
//! - `iptables`, `ip6tables`, `iptables-legacy`, `iptables-nft`,
//!   `ip6tables-legacy`, `ip6tables-nft`, by name or path, with `sudo`
//!   (and its options), `command` or `env` in front, or through a
//!   variable (`IPT=/sbin/iptables; $IPT -A ...`, `IPT="sudo iptables -w"`).
//!   The words go to the iptables command parser (default table filter;
//!   `ip6tables` lands in the IPv6 tables) and are applied with iptables'
//!   semantics. Every rule's origin is the place of its command.
//! - `ipset create|add|del|destroy|flush|rename|swap` (and `-N -A -D -X
//!   -F -E -W`, `-exist`/`-!`); `list`, `test`, `help`, `version` change
//!   nothing.
//! - Kernel settings: `echo VALUE > /proc/sys/a/b/c` (also `>>`, `-n`,
//!   quoted values) and `sysctl [-w] a.b.c=VALUE`.
//! - Variables: `NAME=value`, `export`/`readonly`/`local`/`declare`/
//!   `typeset NAME=value`, `unset NAME`; used as `$NAME`, `${NAME}`,
//!   `${NAME:-default}`, `${NAME-default}`, `${NAME:=default}`,
//!   `${NAME:+alt}`. Unquoted values are split at blanks as the shell does.
//!   Variables come only from the script: the environment is not read, and
//!   using a variable that was never set is an error naming it.
//! - Quoting (`'...'`, `"..."`, `\`), `\` line continuations (spans stay
//!   right), `#` comments, `;` and newlines between commands.
//! - `a && b` and `a || b` with the shell's meaning, where a command fails
//!   when the model refuses it (a chain that exists, a rule not there to
//!   delete). The failure of `a` in `a || b` is expected and not reported
//!   (unless `b` is `exit`); so is a failure with `2>/dev/null`.
//!   Deletions (`-D`, `-X`, `-F CHAIN`, `ipset del/destroy`) of things that
//!   do not exist are warnings, since the script is read starting from an
//!   empty ruleset.
//! - Redirections `>`, `>>`, `2>/dev/null`, `&>/dev/null`, `2>&1`, `<`.
//!
//! Skipped as harmless: a `#!` line, `set` with options only (`set -e`,
//! `set -eux`, `set -o pipefail`), `modprobe`, `true`, `:`, `false`,
//! `sleep`, `logger`, `echo`/`printf` to the terminal, `exit` (which ends
//! the script when it stands alone), `iptables -L/-S/-C`. `iptables-save`
//! and `ipset save` are skipped with a warning.
//!
//! # Reported as errors, then skipped
//!
//! Each names the construct at its place; reading goes on after it.
//!
//! - `for`/`while`/`until`/`select` loops, `if`, `case` and `{ ... }`
//!   groups (skipped up to the matching `done`/`fi`/`esac`/`}`, which the
//!   message names), function definitions (`f() { ...}`, `function f`),
//!   subshells `( ... )` and `(( ... ))`.
//! - Command substitution `$(...)` and backticks, arithmetic `$((...))`,
//!   positional and special parameters (`$1`, `$@`, `$?`, ...), other
//!   parameter expansions (`${#X}`, `${X%y}`), here-documents (`<<`),
//!   `<<<`, `<>`.
//! - Pipelines `|`, background `&`, `source`/`.`, tests `[ ... ]`/`test`,
//!   `eval`, `exec` and other builtins, `iptables-restore` and
//!   `ipset restore` (the help says to import the file they read),
//!   `sysctl -p`, and any other command.
//! - A variable assigned from something not understood
//!   (`X=$(cat file)`): each use names the line of the assignment.
//!
//! # Text pasted from web pages
//!
//! En and em dashes, the minus sign, curly quotes, no-break and zero-width
//! spaces outside comments each get an error saying what the character is
//! and what was meant (see [`hazard`]); the rest of the script is read as
//! if they were fixed, so later errors are still found, with places in
//! the original text. [`fix_pasted_text`] applies the fixes (`--fix`).

pub mod hazard;
mod interp;
mod ipset;
mod lexer;

pub use hazard::{fix_pasted_text, scan_hazards, Hazard, HazardKind};
pub use ipset::{element_text, ipset_save_text, parse_ipset_save, parse_ipset_save_into};

use crate::diag::{Parsed, SourceFile};
use crate::iptables::save::to_diagnostic;
use rampart_model::Policy;

/// Reads a shell script of iptables/ip6tables/ipset/sysctl commands.
pub fn parse_script(file: &SourceFile) -> Parsed<Policy> {
    let hazards = scan_hazards(&file.text);
    let (items, lex_errors) = lexer::lex(&file.text, &hazards);
    let mut it = interp::Interp::new(file, items);
    for h in &hazards {
        it.diags
            .push(file.error(h.span, h.message()).with_help(h.help()));
    }
    for e in lex_errors {
        it.diags.push(to_diagnostic(file, e, false));
    }
    it.run();
    check_set_refs(file, &it.policy, &mut it.diags);
    let mut diagnostics = it.diags;
    interp::sort_diagnostics(&mut diagnostics.0);
    Parsed {
        value: it.policy,
        diagnostics,
    }
}

/// Checks every `-m set` / `-j SET` of the script against the sets the
/// script creates: a set used with more directions than it has dimensions,
/// or of the other family, is an error (the kernel refuses such a rule); a
/// set the script never creates is a warning (it may come from elsewhere,
/// but rampart cannot check it).
fn check_set_refs(file: &SourceFile, policy: &Policy, diags: &mut crate::diag::Diagnostics) {
    use rampart_model::{Match, SetKind, Target};
    for table in &policy.tables {
        for rule in table.chains.iter().flat_map(|c| &c.rules) {
            let mut refs: Vec<(&str, usize, &str)> = Vec::new();
            for m in &rule.matches {
                if let Match::SetMatch(sm) = m {
                    refs.push((&sm.set, sm.dirs.len(), "-m set"));
                }
            }
            if let Some(Target::SetTarget(t)) = &rule.target {
                for r in [&t.add_set, &t.del_set, &t.map_set].into_iter().flatten() {
                    refs.push((&r.name, r.dirs.len(), "-j SET"));
                }
            }
            let Some(origin) = &rule.origin else { continue };
            let at = file.line_start(origin.line);
            let span = crate::diag::Span::new(at, at + file.line_text(origin.line).len());
            for (name, dirs, what) in refs {
                match policy.set(name) {
                    None => diags.push(
                        file.warning(span, format!("set `{name}` used by `{what}` is not created in this script"))
                            .with_help(format!("create it with `ipset create {name} TYPE` before the rule, or rampart cannot check it")),
                    ),
                    Some(set) => {
                        if set.kind != SetKind::ListSet && dirs > set.kind.dimensions() {
                            diags.push(
                                file.error(span, format!(
                                    "`{what}` gives {dirs} direction(s) but set `{name}` ({}) has {} dimension(s)",
                                    set.kind.name(),
                                    set.kind.dimensions()
                                ))
                                .with_help("give one of src/dst per dimension of the set type"),
                            );
                        }
                        if set.family.is_some_and(|f| f != table.family) {
                            diags.push(file.error(span, format!(
                                "set `{name}` holds {} addresses but this is an {} rule",
                                if table.family == rampart_model::Family::Ipv4 { "IPv6" } else { "IPv4" },
                                table.family.tool()
                            )));
                        }
                    }
                }
            }
        }
    }
}

/// The commands a script is recognised by.
const COMMANDS: &[&str] = &[
    "iptables",
    "ip6tables",
    "iptables-legacy",
    "iptables-nft",
    "ip6tables-legacy",
    "ip6tables-nft",
    "ipset",
];

/// Does this text look like a shell script (as opposed to an
/// iptables-save or ipset save file)? For format auto-detection: a `#!`
/// line, or a line that runs one of the firewall commands.
pub fn looks_like_script(text: &str) -> bool {
    if text.starts_with("#!") {
        return true;
    }
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with('*') || t.starts_with(':') || t == "COMMIT" || t.starts_with("-A ") {
            return false;
        }
        let mut words = t.split_whitespace();
        let mut w = words.next().unwrap_or("");
        if w == "sudo" {
            w = words.next().unwrap_or("");
        }
        let base = w.rsplit('/').next().unwrap_or(w);
        if COMMANDS.contains(&base) || (w.starts_with('$') && t.contains(" -A ")) {
            return true;
        }
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests panic on purpose
mod tests {
    use super::*;

    #[test]
    fn detects_scripts() {
        assert!(looks_like_script("#!/bin/bash\n"));
        assert!(looks_like_script("# fw\n\nsudo /sbin/iptables -F\n"));
        assert!(looks_like_script("$IPT -A INPUT -j DROP\n"));
        assert!(!looks_like_script("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"));
        assert!(!looks_like_script("create s hash:ip\nadd s 1.2.3.4\n"));
    }
}
