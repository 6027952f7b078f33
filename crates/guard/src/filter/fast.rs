//! fail2ban patterns that need `fancy-regex` (conditionals, look-around)
//! rewritten for the `regex` engines when an exact rewrite exists.
//!
//! Two rewrites, both exact:
//!
//! - **Conditionals** `(?(g)yes|no)` are expanded into ordered
//!   alternatives: in a sequence `P X R` where `X` defines group `g` and
//!   `R` tests it, `X` is split into its paths with and without `g`, in
//!   the order a backtracking engine tries them, and the sequence becomes
//!   `P (?:X1 R[g=yes] | X2 R[g=no] ...)`. The prefix `P` stays outside,
//!   so the priority of every path (hence the captures of the match) is
//!   the one Python's `re` gives. Groups copied into several alternatives
//!   are unnamed capture groups mapped back to their original name.
//! - **Look-around** is dropped from the automaton and checked on the
//!   match: a look-around outside any repetition becomes an empty marker
//!   group, checked at its position; a "tempered" repetition
//!   `(?:(?!LITERAL).)*` becomes `.*` inside a marker group, checked for
//!   no `LITERAL` starting in its span. The relaxed pattern matches every
//!   string the exact one does, with the paths in the same priority
//!   order, so when the relaxed engine's (top-priority) match passes the
//!   checks it is the exact match. When a check fails the line is handed
//!   to `fancy-regex` (rare: the relaxed match was not an exact one).
//!
//! Back-references, atomic groups and possessive quantifiers are not
//! rewritten: such patterns stay on `fancy-regex`.

use fancy_regex::{Assertion, Expr, LookAround};
use regex_automata::meta;
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input};
use std::collections::HashMap;

/// A pattern tree (fancy-regex's parse, groups numbered).
#[derive(Debug, Clone)]
enum Node {
    Empty,
    /// One atom (`.`, a literal, a class, an assertion) in `regex`
    /// syntax; `lit`: its text when it is a case-sensitive literal;
    /// `one`: whether it always matches one character.
    Leaf {
        text: String,
        lit: Option<String>,
        one: bool,
    },
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    /// A capture group with its original (1-based) number.
    Group(usize, Box<Node>),
    Repeat {
        child: Box<Node>,
        lo: usize,
        hi: usize,
        greedy: bool,
    },
    Look(Box<Node>, LookAround),
    Cond(usize, Box<Node>, Box<Node>),
    /// A capture group (not in the original) whose span a check reads.
    Checked(usize, Box<Node>),
    /// Something the rewrite does not handle.
    Hard,
}

/// A condition the relaxed match must meet (see the module doc).
#[derive(Debug, Clone)]
enum CheckKind {
    /// No occurrence of the literal starts inside the span.
    NoLiteral(Box<memchr::memmem::Finder<'static>>),
    /// The regex matches (or, `neg`, does not) anchored at the position.
    Ahead(Box<meta::Regex>, bool),
    /// The regex (ending in `\z`) matches the text before the position.
    Behind(Box<meta::Regex>, bool),
}

#[derive(Debug, Clone)]
struct Check {
    /// Capture index in the relaxed regex.
    slot: usize,
    kind: CheckKind,
}

/// A pattern compiled for the `regex` engines, exact (see the module doc).
#[derive(Debug, Clone)]
pub struct Rewritten {
    pub re: meta::Regex,
    /// `re` for all-ASCII haystacks (same groups), see [`build_ascii`].
    pub ascii: Option<meta::Regex>,
    /// Capture index → the original group's name (unnamed and check
    /// groups: `None`).
    pub names: Vec<Option<String>>,
    checks: Vec<Check>,
    /// The relaxed pattern text (for notes and tests).
    pub text: String,
}

fn meta_config() -> meta::Config {
    meta::Config::new()
        .nfa_size_limit(Some(64 << 20))
        .dfa_size_limit(Some(64 << 20))
        .hybrid_cache_capacity(8 << 20)
}

fn syntax_config() -> regex_automata::util::syntax::Config {
    regex_automata::util::syntax::Config::new()
}

/// Builds a `meta::Regex` for `pattern` with the settings filters use.
pub fn build(pattern: &str) -> Result<meta::Regex, String> {
    meta::Builder::new()
        .configure(meta_config())
        .syntax(syntax_config())
        .build(pattern)
        .map_err(|e| e.to_string())
}

/// The same pattern for haystacks that are all ASCII: Unicode classes
/// (`\d`, `\w`, `\s`, `\b`, `.`, case folding) become byte classes, which
/// match exactly the same ASCII text with a far smaller automaton. `None`
/// when the pattern needs Unicode mode (a non-ASCII class member).
pub fn build_ascii(pattern: &str) -> Option<meta::Regex> {
    meta::Builder::new()
        .configure(meta_config().utf8_empty(false))
        .syntax(syntax_config().unicode(false).utf8(false))
        .build(pattern)
        .ok()
}

/// Builds one automaton over several patterns (no capture groups kept).
pub fn build_many(patterns: &[&str]) -> Result<meta::Regex, String> {
    meta::Builder::new()
        .configure(
            meta_config().which_captures(regex_automata::nfa::thompson::WhichCaptures::Implicit),
        )
        .syntax(syntax_config())
        .build_many(patterns)
        .map_err(|e| e.to_string())
}

/// Rewrites a pattern in fancy-regex syntax for the `regex` engines;
/// `None` when it cannot be done exactly.
pub fn rewrite(fancy: &str) -> Option<Rewritten> {
    let tree = Expr::parse_tree(fancy).ok()?;
    let mut names: HashMap<usize, String> = HashMap::new();
    for (n, i) in &tree.named_groups {
        names.insert(*i, n.clone());
    }
    let mut counter = 0;
    let node = convert(&tree.expr, &mut counter);
    let node = expand(node);
    let mut checks = Vec::new();
    let node = relax(node, false, &mut checks)?;
    let mut p = Printer {
        out: String::new(),
        names: vec![None],
        check_slots: vec![0; checks.len()],
        orig: &names,
    };
    p.node(&node)?;
    let re = build(&p.out).ok()?;
    let mut built = Vec::new();
    for (k, c) in checks.into_iter().enumerate() {
        let kind = match c {
            RawCheck::NoLiteral(l) => CheckKind::NoLiteral(Box::new(
                memchr::memmem::Finder::new(l.as_bytes()).into_owned(),
            )),
            RawCheck::Ahead(text, neg) => CheckKind::Ahead(Box::new(build(&text).ok()?), neg),
            RawCheck::Behind(text, neg) => {
                CheckKind::Behind(Box::new(build(&format!(r"(?:{text})\z")).ok()?), neg)
            }
        };
        built.push(Check {
            slot: p.check_slots[k],
            kind,
        });
    }
    Some(Rewritten {
        ascii: build_ascii(&p.out),
        re,
        names: p.names,
        checks: built,
        text: p.out,
    })
}

impl Rewritten {
    /// A pattern the `regex` engines run as written (no checks).
    pub fn plain(re: meta::Regex, names: Vec<Option<String>>, text: String) -> Rewritten {
        Rewritten {
            ascii: build_ascii(&text),
            re,
            names,
            checks: Vec::new(),
            text,
        }
    }

    /// Whether the match in `caps` meets every check (`caps` holds a match).
    pub fn checks_pass(&self, hay: &str, caps: &Captures) -> bool {
        self.checks.iter().all(|c| {
            let Some(span) = caps.get_group(c.slot) else {
                return true;
            };
            match &c.kind {
                CheckKind::NoLiteral(f) => {
                    let end = (span.end + f.needle().len())
                        .saturating_sub(1)
                        .min(hay.len())
                        .max(span.start);
                    f.find(&hay.as_bytes()[span.start..end]).is_none()
                }
                CheckKind::Ahead(re, neg) => {
                    let hit =
                        re.is_match(Input::new(hay).range(span.start..).anchored(Anchored::Yes));
                    hit != *neg
                }
                CheckKind::Behind(re, neg) => {
                    let hit = re.is_match(Input::new(&hay[..span.start]));
                    hit != *neg
                }
            }
        })
    }

    /// Whether any check exists (else the relaxed regex is exact).
    pub fn has_checks(&self) -> bool {
        !self.checks.is_empty()
    }
}

/// fancy-regex's tree → ours, numbering groups in opening order.
fn convert(e: &Expr, counter: &mut usize) -> Node {
    match e {
        Expr::Empty => Node::Empty,
        Expr::Assertion(a) => Node::Leaf {
            text: assertion(*a).to_string(),
            lit: None,
            one: false,
        },
        Expr::Any { .. } | Expr::Literal { .. } | Expr::Delegate { .. } => {
            let mut text = String::from("(?:");
            e.to_str(&mut text, 0);
            text.push(')');
            let (lit, one) = match e {
                Expr::Literal { val, casei } => {
                    ((!casei).then(|| val.clone()), val.chars().count() == 1)
                }
                Expr::Delegate { size, .. } => (None, *size == 1),
                _ => (None, true),
            };
            Node::Leaf { text, lit, one }
        }
        Expr::Concat(v) => Node::Concat(v.iter().map(|x| convert(x, counter)).collect()),
        Expr::Alt(v) => Node::Alt(v.iter().map(|x| convert(x, counter)).collect()),
        Expr::Group(c) => {
            *counter += 1;
            let n = *counter;
            Node::Group(n, Box::new(convert(c, counter)))
        }
        Expr::LookAround(c, k) => Node::Look(Box::new(convert(c, counter)), *k),
        Expr::Repeat {
            child,
            lo,
            hi,
            greedy,
        } => Node::Repeat {
            child: Box::new(convert(child, counter)),
            lo: *lo,
            hi: *hi,
            greedy: *greedy,
        },
        Expr::Conditional {
            condition,
            true_branch,
            false_branch,
        } => match condition.as_ref() {
            Expr::BackrefExistsCondition(g) => Node::Cond(
                *g,
                Box::new(convert(true_branch, counter)),
                Box::new(convert(false_branch, counter)),
            ),
            _ => Node::Hard,
        },
        _ => Node::Hard,
    }
}

/// Whether `n` contains a definition of group `g`.
fn defines(n: &Node, g: usize) -> bool {
    match n {
        Node::Group(i, c) => *i == g || defines(c, g),
        Node::Concat(v) | Node::Alt(v) => v.iter().any(|x| defines(x, g)),
        Node::Repeat { child, .. } | Node::Look(child, _) | Node::Checked(_, child) => {
            defines(child, g)
        }
        Node::Cond(_, a, b) => defines(a, g) || defines(b, g),
        _ => false,
    }
}

/// Whether `n` tests group `g` in a conditional.
fn tests(n: &Node, g: usize) -> bool {
    match n {
        Node::Cond(i, a, b) => *i == g || tests(a, g) || tests(b, g),
        Node::Group(_, c)
        | Node::Repeat { child: c, .. }
        | Node::Look(c, _)
        | Node::Checked(_, c) => tests(c, g),
        Node::Concat(v) | Node::Alt(v) => v.iter().any(|x| tests(x, g)),
        _ => false,
    }
}

/// Groups defined in `n`, in opening order.
fn groups(n: &Node, out: &mut Vec<usize>) {
    match n {
        Node::Group(i, c) => {
            out.push(*i);
            groups(c, out);
        }
        Node::Concat(v) | Node::Alt(v) => v.iter().for_each(|x| groups(x, out)),
        Node::Repeat { child, .. } | Node::Look(child, _) | Node::Checked(_, child) => {
            groups(child, out)
        }
        Node::Cond(_, a, b) => {
            groups(a, out);
            groups(b, out);
        }
        _ => {}
    }
}

/// `n` with every `(?(g)yes|no)` replaced by `yes` (`set`) or `no`.
fn subst(n: Node, g: usize, set: bool) -> Node {
    let s = |x: Node| subst(x, g, set);
    match n {
        Node::Cond(i, a, b) if i == g => s(if set { *a } else { *b }),
        Node::Cond(i, a, b) => Node::Cond(i, Box::new(s(*a)), Box::new(s(*b))),
        Node::Concat(v) => Node::Concat(v.into_iter().map(s).collect()),
        Node::Alt(v) => Node::Alt(v.into_iter().map(s).collect()),
        Node::Group(i, c) => Node::Group(i, Box::new(s(*c))),
        Node::Checked(i, c) => Node::Checked(i, Box::new(s(*c))),
        Node::Look(c, k) => Node::Look(Box::new(s(*c)), k),
        Node::Repeat {
            child,
            lo,
            hi,
            greedy,
        } => Node::Repeat {
            child: Box::new(s(*child)),
            lo,
            hi,
            greedy,
        },
        other => other,
    }
}

/// The paths of `n` in backtracking order, as alternatives, each with
/// whether group `g` took part; `None` when `n` cannot be split so.
fn split(n: Node, g: usize) -> Option<Vec<(Node, bool)>> {
    if !defines(&n, g) {
        return Some(vec![(n, false)]);
    }
    match n {
        Node::Group(i, c) if i == g => {
            if tests(&c, g) {
                return None;
            }
            Some(vec![(Node::Group(i, c), true)])
        }
        Node::Group(i, c) => Some(
            split(*c, g)?
                .into_iter()
                .map(|(v, b)| (Node::Group(i, Box::new(v)), b))
                .collect(),
        ),
        Node::Alt(v) => {
            let mut out = Vec::new();
            for b in v {
                out.extend(split(b, g)?);
            }
            Some(out)
        }
        Node::Repeat {
            child,
            lo: 0,
            hi: 1,
            greedy,
        } => {
            let mut v = split(*child, g)?;
            if greedy {
                v.push((Node::Empty, false));
            } else {
                v.insert(0, (Node::Empty, false));
            }
            Some(v)
        }
        Node::Repeat {
            child,
            lo: 1,
            hi: 1,
            ..
        } => split(*child, g),
        Node::Concat(items) => {
            let k = items.iter().position(|x| defines(x, g))?;
            // Items before the split one must have a single path, or the
            // order of the alternatives would differ from backtracking's.
            if !items[..k]
                .iter()
                .all(|x| matches!(x, Node::Leaf { .. } | Node::Empty))
            {
                return None;
            }
            let mut items = items;
            let after: Vec<Node> = items.split_off(k + 1);
            let x = items.pop()?;
            let before = items;
            let mut out = Vec::new();
            for (v, b) in split(x, g)? {
                let mut seq = before.clone();
                seq.push(v);
                seq.extend(after.iter().cloned().map(|a| subst(a, g, b)));
                out.push((Node::Concat(seq), b));
            }
            Some(out)
        }
        _ => None,
    }
}

/// Expands conditionals into ordered alternatives where exact.
fn expand(n: Node) -> Node {
    match n {
        Node::Concat(items) => expand_concat(items),
        Node::Alt(v) => Node::Alt(v.into_iter().map(expand).collect()),
        Node::Group(i, c) => Node::Group(i, Box::new(expand(*c))),
        Node::Repeat {
            child,
            lo,
            hi,
            greedy,
        } => Node::Repeat {
            child: Box::new(expand(*child)),
            lo,
            hi,
            greedy,
        },
        Node::Look(c, k) => Node::Look(Box::new(expand(*c)), k),
        Node::Cond(g, a, b) => Node::Cond(g, Box::new(expand(*a)), Box::new(expand(*b))),
        other => other,
    }
}

fn expand_concat(items: Vec<Node>) -> Node {
    for i in 0..items.len() {
        let mut defs = Vec::new();
        groups(&items[i], &mut defs);
        for g in defs {
            if !items[i + 1..].iter().any(|x| tests(x, g)) || tests(&items[i], g) {
                continue;
            }
            let mut items = items.clone();
            let rest = items.split_off(i + 1);
            let Some(x) = items.pop() else { continue };
            let Some(variants) = split(x, g) else {
                continue;
            };
            let alts = variants
                .into_iter()
                .map(|(v, b)| {
                    let mut seq = vec![v];
                    seq.extend(rest.iter().cloned().map(|r| subst(r, g, b)));
                    Node::Concat(seq)
                })
                .collect();
            items.push(Node::Alt(alts));
            return expand_concat_items(items);
        }
    }
    Node::Concat(items.into_iter().map(expand).collect())
}

/// [`expand_concat`] again after a split (the new alternatives expanded
/// in turn).
fn expand_concat_items(items: Vec<Node>) -> Node {
    expand_concat(items)
}

enum RawCheck {
    NoLiteral(String),
    Ahead(String, bool),
    Behind(String, bool),
}

impl std::fmt::Debug for RawCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawCheck::NoLiteral(l) => write!(f, "NoLiteral({l:?})"),
            RawCheck::Ahead(t, n) => write!(f, "Ahead({t:?}, {n})"),
            RawCheck::Behind(t, n) => write!(f, "Behind({t:?}, {n})"),
        }
    }
}

/// A literal made of literal leaves (case-sensitive), if `n` is one.
fn literal(n: &Node) -> Option<String> {
    match n {
        Node::Leaf { lit: Some(l), .. } => Some(l.clone()),
        Node::Concat(v) => {
            let mut s = String::new();
            for x in v {
                s.push_str(&literal(x)?);
            }
            Some(s)
        }
        _ => None,
    }
}

/// Whether `n` always matches exactly one character.
fn one_char(n: &Node) -> bool {
    matches!(n, Node::Leaf { one: true, .. })
}

/// An assertion in `regex` syntax.
fn assertion(a: Assertion) -> &'static str {
    match a {
        Assertion::StartText => r"\A",
        Assertion::EndText => r"\z",
        Assertion::StartLine { crlf: false } => "(?m:^)",
        Assertion::EndLine { crlf: false } => "(?m:$)",
        Assertion::StartLine { crlf: true } => "(?Rm:^)",
        Assertion::EndLine { crlf: true } => "(?Rm:$)",
        Assertion::WordBoundary => r"\b",
        Assertion::NotWordBoundary => r"\B",
        Assertion::LeftWordBoundary => r"\b{start}",
        Assertion::RightWordBoundary => r"\b{end}",
    }
}

/// Replaces look-around by checks (see the module doc); `None` when a
/// construct remains that the `regex` crate cannot run.
fn relax(n: Node, in_rep: bool, checks: &mut Vec<RawCheck>) -> Option<Node> {
    Some(match n {
        Node::Repeat {
            child,
            lo,
            hi,
            greedy,
        } => {
            if let Node::Concat(v) = child.as_ref() {
                if let [Node::Look(w, LookAround::LookAheadNeg), x] = v.as_slice() {
                    if let (Some(w), false, true) = (literal(w), in_rep, one_char(x)) {
                        if !w.is_empty() {
                            checks.push(RawCheck::NoLiteral(w));
                            return Some(Node::Checked(
                                checks.len() - 1,
                                Box::new(Node::Repeat {
                                    child: Box::new(x.clone()),
                                    lo,
                                    hi,
                                    greedy,
                                }),
                            ));
                        }
                    }
                }
            }
            Node::Repeat {
                child: Box::new(relax(*child, in_rep || hi > 1, checks)?),
                lo,
                hi,
                greedy,
            }
        }
        Node::Look(w, kind) => {
            if in_rep || has_groups_or_hard(&w) {
                return None;
            }
            let mut p = Printer {
                out: String::new(),
                names: vec![None],
                check_slots: Vec::new(),
                orig: &HashMap::new(),
            };
            p.node(&w)?;
            checks.push(match kind {
                LookAround::LookAhead => RawCheck::Ahead(p.out, false),
                LookAround::LookAheadNeg => RawCheck::Ahead(p.out, true),
                LookAround::LookBehind => RawCheck::Behind(p.out, false),
                LookAround::LookBehindNeg => RawCheck::Behind(p.out, true),
            });
            Node::Checked(checks.len() - 1, Box::new(Node::Empty))
        }
        Node::Concat(v) => Node::Concat(
            v.into_iter()
                .map(|x| relax(x, in_rep, checks))
                .collect::<Option<_>>()?,
        ),
        Node::Alt(v) => Node::Alt(
            v.into_iter()
                .map(|x| relax(x, in_rep, checks))
                .collect::<Option<_>>()?,
        ),
        Node::Group(i, c) => Node::Group(i, Box::new(relax(*c, in_rep, checks)?)),
        Node::Cond(..) | Node::Hard => return None,
        other => other,
    })
}

fn has_groups_or_hard(n: &Node) -> bool {
    match n {
        Node::Group(..) | Node::Cond(..) | Node::Hard | Node::Look(..) | Node::Checked(..) => true,
        Node::Concat(v) | Node::Alt(v) => v.iter().any(has_groups_or_hard),
        Node::Repeat { child, .. } => has_groups_or_hard(child),
        _ => false,
    }
}

/// Prints a tree in `regex` syntax; every capture group unnamed, with its
/// original name recorded by capture index.
struct Printer<'a> {
    out: String,
    names: Vec<Option<String>>,
    check_slots: Vec<usize>,
    orig: &'a HashMap<usize, String>,
}

impl Printer<'_> {
    fn node(&mut self, n: &Node) -> Option<()> {
        match n {
            Node::Empty => {}
            Node::Leaf { text, .. } => self.out.push_str(text),
            Node::Concat(v) => {
                self.out.push_str("(?:");
                for x in v {
                    self.node(x)?;
                }
                self.out.push(')');
            }
            Node::Alt(v) => {
                self.out.push_str("(?:");
                for (k, x) in v.iter().enumerate() {
                    if k > 0 {
                        self.out.push('|');
                    }
                    self.node(x)?;
                }
                self.out.push(')');
            }
            Node::Group(i, c) => {
                self.names.push(self.orig.get(i).cloned());
                self.out.push('(');
                self.node(c)?;
                self.out.push(')');
            }
            Node::Checked(k, c) => {
                let slot = self.names.len();
                *self.check_slots.get_mut(*k)? = slot;
                self.names.push(None);
                self.out.push('(');
                self.node(c)?;
                self.out.push(')');
            }
            Node::Repeat {
                child,
                lo,
                hi,
                greedy,
            } => {
                self.out.push_str("(?:");
                self.node(child)?;
                self.out.push(')');
                if *hi == usize::MAX {
                    self.out.push_str(&format!("{{{lo},}}"));
                } else {
                    self.out.push_str(&format!("{{{lo},{hi}}}"));
                }
                if !greedy {
                    self.out.push('?');
                }
            }
            Node::Look(..) | Node::Cond(..) | Node::Hard => return None,
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rewritten pattern gives the same matches and groups as
    /// fancy-regex on the given lines.
    fn same(pattern: &str, lines: &[&str]) -> Rewritten {
        let rw = rewrite(pattern).unwrap_or_else(|| panic!("not rewritten: {pattern}"));
        let fancy = fancy_regex::Regex::new(pattern).unwrap();
        for l in lines {
            let want = fancy.captures(l).unwrap().map(|c| {
                fancy
                    .capture_names()
                    .enumerate()
                    .filter_map(|(i, n)| Some((n?.to_string(), c.get(i)?.as_str().to_string())))
                    .collect::<std::collections::BTreeMap<_, _>>()
            });
            let mut caps = rw.re.create_captures();
            rw.re.captures(Input::new(*l), &mut caps);
            if caps.is_match() && !rw.checks_pass(l, &caps) {
                // Not an exact match: the caller runs fancy-regex.
                assert!(rw.has_checks());
                continue;
            }
            let got = if caps.is_match() {
                Some(
                    rw.names
                        .iter()
                        .enumerate()
                        .filter_map(|(i, n)| {
                            let s = caps.get_group(i)?;
                            Some((n.clone()?, l[s.range()].to_string()))
                        })
                        .collect::<std::collections::BTreeMap<_, _>>(),
                )
            } else {
                None
            };
            assert_eq!(got, want, "{pattern} on {l:?}\nrelaxed: {}", rw.text);
        }
        rw
    }

    #[test]
    fn conditionals_become_ordered_alternatives() {
        let p = r"^x (?P<inv>invalid user )?(?P<user>(?P<cu>\S+)|(?(<inv>)[^!]*?|[^:]+)) from (?P<h>\d+)(?(<cu>): |(?m:$))";
        let rw = same(
            p,
            &[
                "x root from 1 \n",
                "x invalid user bob from 2\n",
                "x invalid user bo b from 3\n",
                "x invalid user bob from 4: more\n",
                "x a b from 5: x\n",
                "x a b from 6\n",
                "x a:b from 7\n",
            ],
        );
        assert!(!rw.has_checks());
    }

    #[test]
    fn tempered_dot_and_lookahead_checked() {
        let p = r"^F (?P<cu>\S+)?(?P<user>(?:(?! from ).)*?) from (?P<h>\d+)(?(<cu>): |(?:(?! from ).)*(?m:$))";
        same(
            p,
            &[
                "F a b from 1\n",
                "F a from 1 from 2\n",
                "F a b from 1 x from 2\n",
                "F x from 1: y\n",
                "F  from from 3\n",
            ],
        );
        same(r"^a(?!b)\w+(?<=c)$", &["acc", "abc", "ac", "acd"]);
    }

    #[test]
    fn backrefs_stay_fancy() {
        assert!(rewrite(r"(a)\1").is_none());
        assert!(rewrite(r"(?>a)").is_none());
    }
}
