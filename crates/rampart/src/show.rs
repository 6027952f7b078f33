//! The readable `rampart show` view of a policy.

use rampart_model::{Family, Policy};
use rampart_syntax::iptables::rule_options;
use rampart_syntax::script::element_text;
use std::fmt::Write;

/// Renders tables, chains, numbered rules (with where each came from),
/// sets and kernel settings.
pub fn render(policy: &Policy) -> String {
    let mut out = String::new();
    for t in &policy.tables {
        let fam = match t.family {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        };
        let _ = writeln!(out, "{fam} table {}", t.kind.name());
        for c in &t.chains {
            // Skip empty built-in chains that only accept: nothing to see.
            if c.rules.is_empty() && c.policy == Some(rampart_model::ChainPolicy::Accept) {
                continue;
            }
            match c.policy {
                Some(p) => {
                    let _ = writeln!(out, "  chain {} (built-in, policy {})", c.name, p.name());
                }
                None => {
                    let _ = writeln!(out, "  chain {} (user)", c.name);
                }
            }
            let width = c.rules.len().to_string().len();
            for (i, r) in c.rules.iter().enumerate() {
                let verdict = r
                    .target
                    .as_ref()
                    .map_or("(count)".to_string(), |t| match t {
                        rampart_model::Target::Goto { chain } => format!("goto {chain}"),
                        rampart_model::Target::Jump { chain } => format!("jump {chain}"),
                        other => other.name().to_string(),
                    });
                let mut opts = rule_options(r, t.family);
                // The verdict is shown in its own column; drop `-j X` from
                // the end when it carries no options.
                for suffix in [format!(" -j {verdict}"), format!("-j {verdict}")] {
                    if opts.ends_with(&suffix) {
                        opts.truncate(opts.len() - suffix.len());
                    }
                }
                let cond = if opts.trim().is_empty() {
                    "(every packet)".to_string()
                } else {
                    opts.trim().to_string()
                };
                let from = r
                    .origin
                    .as_ref()
                    .map(|o| format!("  [{o}]"))
                    .unwrap_or_default();
                let _ = writeln!(out, "    {:>width$}  {:<10} {cond}{from}", i + 1, verdict);
            }
            if c.rules.is_empty() {
                let _ = writeln!(out, "    (no rules)");
            }
        }
        out.push('\n');
    }
    if !policy.sets.is_empty() {
        out.push_str("Sets\n");
        for s in &policy.sets {
            let _ = write!(out, "  {} ({}", s.name, s.kind.name());
            if let Some(f) = s.family {
                let _ = write!(out, ", {}", if f == Family::Ipv4 { "IPv4" } else { "IPv6" });
            }
            if let Some(t) = s.timeout {
                let _ = write!(out, ", timeout {t}s");
            }
            let _ = writeln!(out, "): {} element(s)", s.elements.len());
            for e in s.elements.iter().take(5) {
                let _ = writeln!(out, "    {}", element_text(e, s.kind));
            }
            if s.elements.len() > 5 {
                let _ = writeln!(out, "    ... {} more", s.elements.len() - 5);
            }
        }
        out.push('\n');
    }
    if !policy.sysctls.is_empty() {
        out.push_str("Kernel settings\n");
        for s in &policy.sysctls {
            let from = s
                .origin
                .as_ref()
                .map(|o| format!("  [{o}]"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {} = {}{from}", s.key, s.value);
        }
    }
    out
}
