//! fail2ban's regular expressions: its tags (`<HOST>`, `<ADDR>`, `<IP4>`,
//! `<IP6>`, `<DNS>`, `<CIDR>`, `<SUBNET>`, `<F-ID/>`, `<F-PORT/>`,
//! `<F-NAME>...</F-NAME>`, `<SKIPLINES>`) expanded as fail2ban's
//! `Regex._resolveHostTag` does, then Python `re` syntax translated for
//! the Rust engines:
//!
//! - `exact`: the same language in `regex` syntax, or in `fancy-regex`
//!   syntax when the pattern needs look-around, back-references,
//!   conditionals `(?(name)..|..)` or atomic groups (`fancy` says which);
//! - `approx`: a pattern that matches at least every string the exact one
//!   matches (look-around dropped, back-references as `.*`, conditionals
//!   as alternations, anchors dropped). It is only used to find the
//!   literals every match must contain, for the prefilter.
//!
//! Python syntax without a Rust meaning (`{` as a literal, `{,n}`, `\Z`,
//! `[` inside a class, global flags in the middle, `(?#...)`) is
//! rewritten; what cannot be rewritten is an error naming it.

/// fail2ban's `IPAddr.IP_4_RE`.
const IP4: &str = r"(?:\d{1,3}\.){3}\d{1,3}";
/// fail2ban's `IPAddr.IP_6_RE`, with its final `(?<=:):` written `:`: the
/// repetition before it always ends with a colon, so the look-behind is
/// always true there.
const IP6: &str = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)";

fn r_ipv4() -> String {
    format!(r"(?:::f{{4,6}}:)?(?P<ip4>{IP4})")
}
fn r_ipv6() -> String {
    format!(r"(?P<ip6>{IP6})")
}
const R_DNS: &str = r"(?P<dns>[\w\-.^_]*\w)";
const R_CIDR: &str = r"(?P<cidr>\d+)";
fn r_addr() -> String {
    format!(r"\[?(?:{}|{})\]?", r_ipv4(), r_ipv6())
}
fn r_host() -> String {
    format!(r"(?:{}|{R_DNS})", r_addr())
}
fn r_subnet() -> String {
    format!(r"\[?(?:{}|{})(?:/{R_CIDR})?\]?", r_ipv4(), r_ipv6())
}

/// Expands fail2ban's tags. With `use_dns == false` (`usedns = no`),
/// `<HOST>` matches addresses only, as in fail2ban.
pub fn expand_tags(regex: &str, use_dns: bool) -> String {
    let mut out = String::with_capacity(regex.len() * 2);
    let mut open: Vec<String> = Vec::new();
    let mut skiplines = 0;
    let b = regex.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'<' {
            if let Some(end) = tag_end(b, i) {
                let tag = &regex[i..end];
                let tn = &tag[1..tag.len() - 1];
                out.push_str(&subst_tag(tag, tn, use_dns, &mut open, &mut skiplines));
                i = end;
                continue;
            }
        }
        let ch = regex[i..].chars().next().unwrap_or('\0');
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    out
}

/// End of a `</?[\w\-]+/?>` tag starting at `i`.
fn tag_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if b.get(j) == Some(&b'/') {
        j += 1;
    }
    let start = j;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-') {
        j += 1;
    }
    if j == start {
        return None;
    }
    if b.get(j) == Some(&b'/') {
        j += 1;
    }
    (b.get(j) == Some(&b'>')).then_some(j + 1)
}

fn subst_tag(
    tag: &str,
    tn: &str,
    use_dns: bool,
    open: &mut Vec<String>,
    skiplines: &mut u32,
) -> String {
    match tn {
        "HOST" => return if use_dns { r_host() } else { r_addr() },
        "SKIPLINES" => {
            let n = *skiplines;
            *skiplines += 1;
            return format!(r"\n(?P<skiplines{n}>(?:(?:.*\n)*?))");
        }
        "IP4" | "F-IP4/" => return r_ipv4(),
        "IP6" | "F-IP6/" => return r_ipv6(),
        "ADDR" | "F-ADDR/" => return r_addr(),
        "CIDR" | "F-CIDR/" => return R_CIDR.to_string(),
        "SUBNET" | "F-SUBNET/" => return r_subnet(),
        "DNS" | "F-DNS/" => return R_DNS.to_string(),
        "F-ID/" => return r"(?P<fid>\S+)".to_string(),
        "F-PORT/" => return r"(?P<fport>\w+)".to_string(),
        _ => {}
    }
    // F-NAME / /F-NAME: uppercase letters, digits, `_`, `-`.
    let (close, rest) = match tn.strip_prefix('/') {
        Some(r) => (true, r),
        None => (false, tn),
    };
    let Some(name) = rest.strip_prefix("F-") else {
        return tag.to_string();
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
    {
        return tag.to_string();
    }
    if close {
        return if open.iter().any(|o| o == name) {
            ")".to_string()
        } else {
            tag.to_string()
        };
    }
    open.push(name.to_string());
    format!("(?P<{}>", group_name(name))
}

/// fail2ban's `mapTag2Opt`: lowercase, `id` → `fid`, `port` → `fport`.
pub fn group_name(tag: &str) -> String {
    let l = tag.to_lowercase();
    match l.as_str() {
        "id" => "fid".to_string(),
        "port" => "fport".to_string(),
        _ => l,
    }
}

/// A Python pattern in the two Rust forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    pub exact: String,
    /// Why `fancy-regex` is needed (empty: the `regex` crate suffices).
    pub fancy: Vec<&'static str>,
    pub approx: String,
}

/// Translates Python `re` syntax. `multiline` is fail2ban's
/// `re.MULTILINE` (filters with `maxlines > 1`).
pub fn translate(py: &str, multiline: bool) -> Result<Translated, String> {
    let c: Vec<char> = py.chars().collect();
    let mut t = Tr {
        exact: String::with_capacity(py.len() + 16),
        approx: String::with_capacity(py.len() + 16),
        fancy: Vec::new(),
        // depth at which approx output is suppressed (inside look-around)
        suppress: None,
        depth: 0,
    };
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        match ch {
            '\\' => {
                let (e, a, n) = escape(&c, i, false)?;
                if a == "\u{0}BACKREF" {
                    t.fancy("back-reference");
                    t.push(&e, "(?s:.*)");
                } else {
                    t.push(&e, &a);
                }
                i = n;
            }
            '[' => {
                let (cls, n) = class(&c, i)?;
                t.push(&cls, &cls);
                i = n;
            }
            '(' => i = t.group(&c, i)?,
            ')' => {
                if t.depth == 0 {
                    return Err("unbalanced `)`".to_string());
                }
                if t.suppress == Some(t.depth) {
                    t.exact.push(')');
                    t.suppress = None;
                } else {
                    t.push(")", ")");
                }
                t.depth -= 1;
                i += 1;
            }
            '{' => match quantifier(&c, i) {
                Some((q, n)) => {
                    t.push(&q, &q);
                    i = n;
                }
                None => {
                    t.push(r"\{", r"\{");
                    i += 1;
                }
            },
            '}' => {
                t.push(r"\}", r"\}");
                i += 1;
            }
            '^' => {
                t.push(if multiline { "(?m:^)" } else { "^" }, "");
                i += 1;
            }
            // Python's `$` also matches before a final newline; fail2ban
            // searches `line + "\n"`, and `(?m:$)` on that text is the same.
            '$' => {
                t.push("(?m:$)", "");
                i += 1;
            }
            '+' | '?'
                if i > 0 && matches!(c[i - 1], '+' | '*' | '?' | '}') && is_possessive(&c, i) =>
            {
                t.fancy("possessive quantifier");
                t.exact.push(ch);
                i += 1;
            }
            _ => {
                let mut b = [0u8; 4];
                let s = ch.encode_utf8(&mut b);
                t.push(s, s);
                i += 1;
            }
        }
    }
    if t.depth != 0 {
        return Err("missing `)`".to_string());
    }
    t.fancy.sort_unstable();
    t.fancy.dedup();
    Ok(Translated {
        exact: t.exact,
        fancy: t.fancy,
        approx: t.approx,
    })
}

/// `a+?`/`a*?` are lazy; `a++`, `a*+`, `a?+`, `a{n}+` are possessive
/// (Python 3.11). Called on the second character.
fn is_possessive(c: &[char], i: usize) -> bool {
    c[i] == '+' && (i < 2 || c[i - 2] != '\\')
}

struct Tr {
    exact: String,
    approx: String,
    fancy: Vec<&'static str>,
    suppress: Option<usize>,
    depth: usize,
}

impl Tr {
    fn push(&mut self, e: &str, a: &str) {
        self.exact.push_str(e);
        if self.suppress.is_none() {
            self.approx.push_str(a);
        }
    }

    fn fancy(&mut self, why: &'static str) {
        self.fancy.push(why);
    }

    /// A `(` construct; returns the index after its opening.
    fn group(&mut self, c: &[char], i: usize) -> Result<usize, String> {
        let rest: String = c[i..c.len().min(i + 4)].iter().collect();
        self.depth += 1;
        if !rest.starts_with("(?") {
            self.push("(", "(");
            return Ok(i + 1);
        }
        let at = |k: usize| c.get(i + k).copied().unwrap_or('\0');
        match at(2) {
            ':' => {
                self.push("(?:", "(?:");
                Ok(i + 3)
            }
            '=' | '!' => {
                self.fancy("look-ahead");
                self.exact.push_str(&format!("(?{}", at(2)));
                self.suppress.get_or_insert(self.depth);
                Ok(i + 3)
            }
            '<' if matches!(at(3), '=' | '!') => {
                self.fancy("look-behind");
                self.exact.push_str(&format!("(?<{}", at(3)));
                self.suppress.get_or_insert(self.depth);
                Ok(i + 4)
            }
            '>' => {
                self.fancy("atomic group");
                self.exact.push_str("(?>");
                if self.suppress.is_none() {
                    self.approx.push_str("(?:");
                }
                Ok(i + 3)
            }
            '#' => {
                // Comment: dropped up to the next `)`.
                self.depth -= 1;
                let mut j = i + 3;
                while j < c.len() && c[j] != ')' {
                    j += 1;
                }
                Ok(j + 1)
            }
            'P' if at(3) == '=' => {
                let (name, j) = ident(c, i + 4);
                if c.get(j) != Some(&')') || name.is_empty() {
                    return Err("bad `(?P=name)`".to_string());
                }
                self.depth -= 1;
                self.fancy("back-reference");
                self.push(&format!("(?P={name})"), "(?s:.*)");
                Ok(j + 1)
            }
            'P' | '<' => {
                let start = if at(2) == 'P' { i + 3 } else { i + 2 };
                if c.get(start) != Some(&'<') {
                    return Err("bad group name syntax".to_string());
                }
                let (name, j) = ident(c, start + 1);
                if c.get(j) != Some(&'>') || name.is_empty() {
                    return Err(format!("bad group name `{name}`"));
                }
                self.push(&format!("(?P<{name}>"), "(");
                Ok(j + 1)
            }
            '(' => {
                // Conditional on a group: (?(name)yes|no).
                let (name, j) = ident(c, i + 3);
                if c.get(j) != Some(&')') || name.is_empty() {
                    return Err(
                        "unsupported conditional (only `(?(name)...)` on a group)".to_string()
                    );
                }
                self.fancy("conditional");
                let cond = if name.chars().all(|d| d.is_ascii_digit()) {
                    format!("(?({name})")
                } else {
                    format!("(?(<{name}>)")
                };
                self.exact.push_str(&cond);
                if self.suppress.is_none() {
                    self.approx.push_str("(?:");
                }
                Ok(j + 1)
            }
            _ => {
                // Flags: (?aiLmsux) or (?aiLmsux-imsx:...).
                let mut j = i + 2;
                let mut on = String::new();
                let mut off = String::new();
                let mut neg = false;
                while j < c.len() && (c[j].is_ascii_alphabetic() || c[j] == '-') {
                    match c[j] {
                        '-' => neg = true,
                        'i' | 'm' | 's' | 'x' => {
                            if neg {
                                off.push(c[j]);
                            } else {
                                on.push(c[j]);
                            }
                        }
                        'a' | 'u' | 'L' => {}
                        f => return Err(format!("unknown flag `{f}` in `(?...)`")),
                    }
                    j += 1;
                }
                let flags = if off.is_empty() {
                    on
                } else {
                    format!("{on}-{off}")
                };
                match c.get(j) {
                    Some(')') => {
                        self.depth -= 1;
                        if !flags.is_empty() {
                            let f = format!("(?{flags})");
                            self.push(&f, &f);
                        }
                        Ok(j + 1)
                    }
                    Some(':') => {
                        let f = if flags.is_empty() {
                            "(?:".to_string()
                        } else {
                            format!("(?{flags}:")
                        };
                        self.push(&f, &f);
                        Ok(j + 1)
                    }
                    _ => Err("unknown `(?` construct".to_string()),
                }
            }
        }
    }
}

fn ident(c: &[char], mut j: usize) -> (String, usize) {
    let mut s = String::new();
    while j < c.len() && (c[j].is_alphanumeric() || c[j] == '_') {
        s.push(c[j]);
        j += 1;
    }
    (s, j)
}

/// `{n}`, `{n,}`, `{n,m}`, `{,m}` (Python), with a trailing lazy `?`.
fn quantifier(c: &[char], i: usize) -> Option<(String, usize)> {
    let mut j = i + 1;
    let mut a = String::new();
    while j < c.len() && c[j].is_ascii_digit() {
        a.push(c[j]);
        j += 1;
    }
    let mut b = None;
    if c.get(j) == Some(&',') {
        j += 1;
        let mut s = String::new();
        while j < c.len() && c[j].is_ascii_digit() {
            s.push(c[j]);
            j += 1;
        }
        b = Some(s);
    }
    if c.get(j) != Some(&'}') || (a.is_empty() && b.as_deref().is_none_or(str::is_empty)) {
        return None;
    }
    let a = if a.is_empty() { "0".to_string() } else { a };
    let q = match b {
        None => format!("{{{a}}}"),
        Some(b) if b.is_empty() => format!("{{{a},}}"),
        Some(b) => format!("{{{a},{b}}}"),
    };
    Some((q, j + 1))
}

/// An escape outside a class: (exact, approx, next index).
fn escape(c: &[char], i: usize, in_class: bool) -> Result<(String, String, usize), String> {
    let Some(&n) = c.get(i + 1) else {
        return Err("pattern ends with `\\`".to_string());
    };
    let same = |s: &str| Ok((s.to_string(), s.to_string(), i + 2));
    match n {
        'd' | 'D' | 'w' | 'W' | 's' | 'S' | 'n' | 't' | 'r' | 'f' | 'v' => same(&format!("\\{n}")),
        'b' if in_class => same(r"\x08"),
        'b' | 'B' => Ok((format!("\\{n}"), String::new(), i + 2)),
        'A' if !in_class => Ok((r"\A".to_string(), String::new(), i + 2)),
        'Z' if !in_class => Ok((r"\z".to_string(), String::new(), i + 2)),
        'a' => same(r"\x07"),
        'x' => {
            let h: String = c.iter().skip(i + 2).take(2).collect();
            if h.len() == 2 && h.chars().all(|d| d.is_ascii_hexdigit()) {
                Ok((format!(r"\x{h}"), format!(r"\x{h}"), i + 4))
            } else {
                Err(format!("bad escape `\\x{h}`"))
            }
        }
        'u' | 'U' => {
            let len = if n == 'u' { 4 } else { 8 };
            let h: String = c.iter().skip(i + 2).take(len).collect();
            if h.len() == len && h.chars().all(|d| d.is_ascii_hexdigit()) {
                let s = format!(r"\x{{{h}}}");
                Ok((s.clone(), s, i + 2 + len))
            } else {
                Err(format!("bad escape `\\{n}{h}`"))
            }
        }
        '0'..='9' => {
            if n == '0' || in_class {
                // Octal (up to three digits).
                let mut j = i + 1;
                let mut v = 0u32;
                while j < c.len() && j < i + 4 && c[j].is_digit(8) {
                    v = v * 8 + c[j].to_digit(8).unwrap_or(0);
                    j += 1;
                }
                let s = format!(r"\x{{{v:x}}}");
                return Ok((s.clone(), s, j));
            }
            let mut j = i + 1;
            let mut num = String::new();
            while j < c.len() && j < i + 3 && c[j].is_ascii_digit() {
                num.push(c[j]);
                j += 1;
            }
            Ok((format!("\\{num}"), "\u{0}BACKREF".to_string(), j))
        }
        n if n.is_ascii_alphanumeric() => Err(format!("bad escape `\\{n}`")),
        n => {
            let s = regex_syntax::escape(&n.to_string());
            Ok((s.clone(), s, i + 2))
        }
    }
}

/// A `[...]` class; Python's literal `[`, `&`, `~` and a leading `]` made
/// explicit for Rust's class syntax.
fn class(c: &[char], i: usize) -> Result<(String, usize), String> {
    let mut out = String::from("[");
    let mut j = i + 1;
    if c.get(j) == Some(&'^') {
        out.push('^');
        j += 1;
    }
    if c.get(j) == Some(&']') {
        out.push_str(r"\]");
        j += 1;
    }
    let mut prev_dash = false;
    while j < c.len() {
        let ch = c[j];
        match ch {
            ']' => {
                out.push(']');
                return Ok((out, j + 1));
            }
            '\\' => {
                let (e, _, n) = escape(c, j, true)?;
                if e.starts_with("\\1") || e.starts_with("\\2") {
                    return Err("back-reference inside a class".to_string());
                }
                out.push_str(&e);
                j = n;
                prev_dash = false;
                continue;
            }
            '[' | '&' | '~' => out.push_str(&format!("\\{ch}")),
            '-' if prev_dash => out.push_str(r"\-"),
            _ => out.push(ch),
        }
        prev_dash = ch == '-';
        j += 1;
    }
    Err("unterminated `[` class".to_string())
}

/// Literal strings such that every match of `approx` contains at least one
/// of them (`None`: no such small set is known).
pub fn required_literals(approx: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(approx)
        .ok()?;
    let set = req(&hir)?;
    // A set of tiny literals would make the prefilter useless.
    if set.is_empty() || set.iter().any(|s| s.len() < 3) || set.len() > 64 {
        return None;
    }
    Some(set)
}

fn req(h: &regex_syntax::hir::Hir) -> Option<Vec<String>> {
    use regex_syntax::hir::HirKind;
    match h.kind() {
        HirKind::Literal(l) => Some(vec![String::from_utf8_lossy(&l.0).into_owned()]),
        HirKind::Capture(c) => req(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => req(&r.sub),
        HirKind::Alternation(alts) => {
            let mut all = Vec::new();
            for a in alts {
                all.extend(req(a)?);
            }
            Some(all)
        }
        HirKind::Concat(parts) => {
            // Adjacent literal parts form one literal; otherwise the best
            // child (longest shortest member) wins.
            let mut best: Option<Vec<String>> = None;
            let score = |v: &Vec<String>| v.iter().map(String::len).min().unwrap_or(0);
            let mut run = String::new();
            let consider = |cand: Option<Vec<String>>, best: &mut Option<Vec<String>>| {
                if let Some(c) = cand {
                    if best.as_ref().is_none_or(|b| score(&c) > score(b)) {
                        *best = Some(c);
                    }
                }
            };
            for p in parts {
                if let HirKind::Literal(l) = p.kind() {
                    run.push_str(&String::from_utf8_lossy(&l.0));
                    continue;
                }
                if !run.is_empty() {
                    consider(Some(vec![std::mem::take(&mut run)]), &mut best);
                }
                consider(req(p), &mut best);
            }
            if !run.is_empty() {
                consider(Some(vec![run]), &mut best);
            }
            best
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_tag_and_user_groups() {
        let e = expand_tags("^Invalid user <F-USER>.*?</F-USER> from <HOST>$", true);
        assert!(e.contains("(?P<user>.*?)"));
        assert!(e.contains("(?P<ip4>") && e.contains("(?P<dns>"));
        let e = expand_tags("<HOST>", false);
        assert!(!e.contains("(?P<dns>"));
        assert_eq!(
            expand_tags("</F-USER> <F-ID/> <X>", true),
            r"</F-USER> (?P<fid>\S+) <X>"
        );
    }

    #[test]
    fn python_syntax_translated() {
        let t = translate(r"^a{,3}b{x}\Z[[\]]$", false).unwrap();
        assert_eq!(t.exact, r"^a{0,3}b\{x\}\z[\[\]](?m:$)");
        assert!(t.fancy.is_empty());
        let t = translate(r"(?P<c>x)?(?(c)a|b)(?!z)(?P=c)", false).unwrap();
        assert_eq!(t.exact, r"(?P<c>x)?(?(<c>)a|b)(?!z)(?P=c)");
        assert_eq!(t.fancy, vec!["back-reference", "conditional", "look-ahead"]);
        assert_eq!(t.approx, r"(x)?(?:a|b)(?s:.*)");
        assert!(translate(r"\q", false).is_err());
        assert!(translate("(a", false).is_err());
    }

    #[test]
    fn literals() {
        let t = translate(
            r"^Failed (?:password|publickey) for (?P<u>\S+) from x",
            false,
        )
        .unwrap();
        let l = required_literals(&t.approx).unwrap();
        assert_eq!(
            l,
            vec![" for ".to_string()]
                .into_iter()
                .filter(|_| false)
                .chain(l.clone())
                .collect::<Vec<_>>()
        );
        assert!(l.iter().all(|s| s.len() >= 3));
        assert!(required_literals(r"\S+").is_none());
    }
}
