//! fail2ban-compatible filters, compiled for speed.
//!
//! A [`Filter`] is built from a [`FilterDef`] (fail2ban's `filter.d` files
//! read by `rampart_syntax::fail2ban`, or a built-in detector). Each line
//! goes through the same steps as in fail2ban's `Filter.processLine`: the
//! date is found and cut out, `prefregex` runs, its `<F-CONTENT>` replaces
//! the text, the failregexes run in order, `ignoreregex` vetoes; multi-line
//! failure ids (`<F-MLFID>`, `<F-NOFAIL>`, `<F-MLFFORGET>`,
//! `<F-MLFGAINED>`) are merged across lines as fail2ban does.
//!
//! Speed: every failregex is analysed for the literal strings any match
//! must contain; one Aho-Corasick automaton over all of them rejects most
//! lines before any date is parsed or any regex runs, and tells which
//! failregexes can match the rest. Patterns run on the `regex` crate;
//! only those needing look-around, back-references or conditionals run on
//! `fancy-regex` ([`Filter::notes`] lists them).
//!
//! `<HOST>` may capture a host name: nothing is resolved here (`usedns` is
//! the daemon's business); [`Failure::host`] is the text as captured.
//!
//! ```
//! use rampart_guard::filter::{Filter, CompileOptions, Scan};
//! use rampart_syntax::fail2ban::{ConfigSet, FilterDef};
//! use std::collections::BTreeMap;
//! let set = ConfigSet::from_text("f.conf", "[Definition]\nfailregex = ^ Failed password for <F-USER>\\S+</F-USER> from <HOST>\n");
//! let def = FilterDef::from_set("f", &set, &BTreeMap::new()).unwrap();
//! let filter = Filter::compile(&def, &CompileOptions::default()).unwrap();
//! let mut scan = Scan::new(&filter, 1_700_000_000);
//! let hits = scan.line("Jan  4 13:03:14 Failed password for root from 192.0.2.7 port 22");
//! assert_eq!(hits[0].host, "192.0.2.7");
//! assert_eq!(hits[0].user.as_deref(), Some("root"));
//! ```

pub mod builtin;
pub mod date;
pub mod fast;
pub mod jail;
pub mod pyre;

use aho_corasick::AhoCorasick;
use date::{DateDetector, LogTime};
use rampart_syntax::fail2ban::{FilterDef, RegexLine};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Longest line looked at; longer lines are counted and skipped.
pub const MAX_LINE: usize = 64 * 1024;

/// Why a filter could not be built, located at the option's file:line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub origin: String,
    pub regex: String,
    pub message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}\n  regex: {}",
            self.origin, self.message, self.regex
        )
    }
}

/// `usedns`: whether `<HOST>` may capture host names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UseDns {
    Yes,
    #[default]
    Warn,
    No,
    Raw,
}

impl UseDns {
    pub fn parse(s: &str) -> Option<UseDns> {
        match s.trim().to_lowercase().as_str() {
            "yes" | "true" | "1" | "on" => Some(UseDns::Yes),
            "warn" => Some(UseDns::Warn),
            "no" | "false" | "0" | "off" => Some(UseDns::No),
            "raw" => Some(UseDns::Raw),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Overrides the filter's own `usedns`.
    pub use_dns: Option<UseDns>,
    /// The current year (fail2ban's `%ExY` accepts 2000 .. year+3).
    pub year: i32,
    /// Try every failregex on every line (fail2ban's `checkAllRegex`, as
    /// its sample tests run); otherwise the first match wins.
    pub check_all: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            use_dns: None,
            year: 2026,
            check_all: false,
        }
    }
}

#[derive(Debug, Clone)]
enum Engine {
    /// `regex-automata` (the pattern as written, or rewritten by
    /// [`fast::rewrite`]); `fallback` runs a line whose relaxed match
    /// failed a look-around check.
    Meta {
        rw: Box<fast::Rewritten>,
        fallback: Option<Box<fancy_regex::Regex>>,
    },
    Fancy(Box<fancy_regex::Regex>),
}

/// One compiled regular expression of a filter.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The regex as the filter wrote it (tags not expanded).
    pub source: String,
    pub origin: String,
    /// Python constructs the `regex` crate has not (empty: none).
    pub fancy: Vec<&'static str>,
    /// Whether those were rewritten for `regex-automata` (conditionals
    /// expanded, look-around checked on the match); false with `fancy`
    /// non-empty: the pattern runs on `fancy-regex`.
    pub rewritten: bool,
    engine: Engine,
    literals: Option<Vec<String>>,
    /// The distinct group names, in order.
    names: Vec<String>,
    /// Capture index → index in `names`.
    slot_name: Vec<Option<usize>>,
    /// The same for the fancy engine (fallback or main).
    fancy_slot_name: Vec<Option<usize>>,
}

/// Named groups of one match (`None` groups left out).
pub type Groups = BTreeMap<String, String>;

/// Per-thread search state of one [`Pattern`]: engine cache, captures,
/// and the span of each named group after a match.
#[derive(Debug, Clone)]
struct PatState {
    cache: Option<regex_automata::meta::Cache>,
    caps: Option<regex_automata::util::captures::Captures>,
    /// The same for the all-ASCII variant.
    ascii: Option<(
        regex_automata::meta::Cache,
        regex_automata::util::captures::Captures,
    )>,
    spans: Vec<Option<(usize, usize)>>,
}

impl Pattern {
    fn compile(line: &RegexLine, use_dns: bool, multiline: bool) -> Result<Pattern, CompileError> {
        let err = |m: String| CompileError {
            origin: line.origin.clone(),
            regex: line.text.clone(),
            message: m,
        };
        let expanded = pyre::expand_tags(&line.text, use_dns);
        if expanded.trim().is_empty() {
            return Err(err("empty regex".to_string()));
        }
        let tr = pyre::translate(&expanded, multiline).map_err(err)?;
        let fancy_re = || {
            fancy_regex::RegexBuilder::new(&tr.exact)
                .backtrack_limit(1_000_000)
                .build()
                .map_err(|e| err(e.to_string()))
        };
        let (engine, rewritten) = if tr.fancy.is_empty() {
            let re = fast::build(&tr.exact).map_err(err)?;
            let names = group_names(&re);
            (
                Engine::Meta {
                    rw: Box::new(fast::Rewritten::plain(re, names, tr.exact.clone())),
                    fallback: None,
                },
                false,
            )
        } else {
            let fancy = fancy_re()?;
            match fast::rewrite(&tr.exact) {
                Some(rw) => {
                    let fallback = rw.has_checks().then(|| Box::new(fancy));
                    (
                        Engine::Meta {
                            rw: Box::new(rw),
                            fallback,
                        },
                        true,
                    )
                }
                None => (Engine::Fancy(Box::new(fancy)), false),
            }
        };
        let mut names: Vec<String> = Vec::new();
        let mut index = |n: &str| match names.iter().position(|x| x == n) {
            Some(i) => i,
            None => {
                names.push(n.to_string());
                names.len() - 1
            }
        };
        let (slot_name, fancy_slot_name) = match &engine {
            Engine::Meta { rw, fallback } => {
                let s: Vec<Option<usize>> = rw
                    .names
                    .iter()
                    .map(|n| n.as_deref().map(&mut index))
                    .collect();
                let f = fallback
                    .as_ref()
                    .map(|r| r.capture_names().map(|n| n.map(&mut index)).collect())
                    .unwrap_or_default();
                (s, f)
            }
            Engine::Fancy(r) => (
                Vec::new(),
                r.capture_names().map(|n| n.map(&mut index)).collect(),
            ),
        };
        Ok(Pattern {
            source: line.text.clone(),
            origin: line.origin.clone(),
            fancy: tr.fancy,
            rewritten,
            engine,
            literals: pyre::required_literals(&tr.approx),
            names,
            slot_name,
            fancy_slot_name,
        })
    }

    fn names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn state(&self) -> PatState {
        let (cache, caps, ascii) = match &self.engine {
            Engine::Meta { rw, .. } => (
                Some(rw.re.create_cache()),
                Some(rw.re.create_captures()),
                rw.ascii
                    .as_ref()
                    .map(|a| (a.create_cache(), a.create_captures())),
            ),
            Engine::Fancy(_) => (None, None, None),
        };
        PatState {
            cache,
            caps,
            ascii,
            spans: vec![None; self.names.len()],
        }
    }

    /// Searches `hay`; on a match `st.spans` holds the groups that took
    /// part. `Err` when fancy-regex gave up (backtracking limit): counted
    /// by the caller as no match.
    fn run(&self, hay: &str, st: &mut PatState) -> Result<bool, ()> {
        match &self.engine {
            Engine::Meta { rw, fallback } => {
                let input = regex_automata::Input::new(hay);
                let caps = match (&rw.ascii, st.ascii.as_mut()) {
                    (Some(re), Some((cache, caps))) if hay.is_ascii() => {
                        re.search_captures_with(cache, &input, caps);
                        caps
                    }
                    _ => {
                        let (Some(cache), Some(caps)) = (st.cache.as_mut(), st.caps.as_mut())
                        else {
                            return Ok(false);
                        };
                        rw.re.search_captures_with(cache, &input, caps);
                        caps
                    }
                };
                if !caps.is_match() {
                    return Ok(false);
                }
                if rw.has_checks() && !rw.checks_pass(hay, caps) {
                    return match fallback {
                        Some(f) => fancy_spans(f, hay, &self.fancy_slot_name, &mut st.spans),
                        None => Ok(false),
                    };
                }
                st.spans.iter_mut().for_each(|s| *s = None);
                for (i, n) in self.slot_name.iter().enumerate() {
                    if let (Some(n), Some(sp)) = (n, caps.get_group(i)) {
                        st.spans[*n] = Some((sp.start, sp.end));
                    }
                }
                Ok(true)
            }
            Engine::Fancy(f) => fancy_spans(f, hay, &self.fancy_slot_name, &mut st.spans),
        }
    }

    /// Whether `hay` matches (no groups).
    fn is_match(&self, hay: &str, st: &mut PatState) -> bool {
        match &self.engine {
            Engine::Meta { rw, .. } if !rw.has_checks() => {
                let input = regex_automata::Input::new(hay).earliest(true);
                match (&rw.ascii, st.ascii.as_mut(), st.cache.as_mut()) {
                    (Some(re), Some((c, _)), _) if hay.is_ascii() => {
                        re.search_with(c, &input).is_some()
                    }
                    (_, _, Some(c)) => rw.re.search_with(c, &input).is_some(),
                    _ => false,
                }
            }
            _ => self.run(hay, st).unwrap_or(false),
        }
    }

    /// The groups of the last match in `st` as fail2ban reports them.
    fn groups(&self, hay: &str, st: &PatState, into: &mut Groups) {
        for (n, sp) in self.names.iter().zip(&st.spans) {
            if let Some((s, e)) = sp {
                into.insert(n.clone(), hay[*s..*e].to_string());
            }
        }
    }
}

/// A fancy-regex search with the groups' spans written to `spans`.
fn fancy_spans(
    f: &fancy_regex::Regex,
    hay: &str,
    slot_name: &[Option<usize>],
    spans: &mut [Option<(usize, usize)>],
) -> Result<bool, ()> {
    let Some(c) = f.captures(hay).map_err(|_| ())? else {
        return Ok(false);
    };
    spans.iter_mut().for_each(|s| *s = None);
    for (i, n) in slot_name.iter().enumerate() {
        if let (Some(n), Some(m)) = (n, c.get(i)) {
            spans[*n] = Some((m.start(), m.end()));
        }
    }
    Ok(true)
}

/// Capture index → group name of a `meta::Regex`.
fn group_names(re: &regex_automata::meta::Regex) -> Vec<Option<String>> {
    re.group_info()
        .pattern_names(regex_automata::PatternID::ZERO)
        .map(|n| n.map(String::from))
        .collect()
}

/// Literal prefilter over all failregexes of a filter.
#[derive(Debug, Clone)]
struct Prefilter {
    ac: AhoCorasick,
    /// Automaton pattern → failregex index.
    owner: Vec<usize>,
    /// The raw line (date not yet cut) may be tested: every date template
    /// is line-anchored, and literals were trimmed by the at most two
    /// characters that can precede such a date.
    raw_ok: bool,
}

/// A compiled filter.
#[derive(Debug, Clone)]
pub struct Filter {
    pub name: String,
    pub prefregex: Option<Pattern>,
    pub failregex: Vec<Pattern>,
    pub ignoreregex: Vec<Pattern>,
    pub maxlines: usize,
    pub dates: DateDetector,
    pub check_all: bool,
    prefilter: Option<Prefilter>,
}

impl Filter {
    pub fn compile(def: &FilterDef, opts: &CompileOptions) -> Result<Filter, Vec<CompileError>> {
        let mut errs = Vec::new();
        let use_dns = opts
            .use_dns
            .or_else(|| def.usedns.as_deref().and_then(UseDns::parse))
            .unwrap_or_default();
        let host_dns = use_dns != UseDns::No;
        let maxlines = match def.maxlines.as_deref().map(str::trim) {
            None | Some("") => 1,
            Some(v) => v.parse::<usize>().unwrap_or_else(|_| {
                errs.push(CompileError {
                    origin: def.name.clone(),
                    regex: v.to_string(),
                    message: "maxlines must be a positive number".to_string(),
                });
                1
            }),
        }
        .max(1);
        let multiline = maxlines > 1;
        let mut comp = |l: &RegexLine| match Pattern::compile(l, host_dns, multiline) {
            Ok(p) => Some(p),
            Err(e) => {
                errs.push(e);
                None
            }
        };
        let prefregex = def.prefregex.as_ref().and_then(&mut comp);
        let failregex: Vec<Pattern> = def.failregex.iter().filter_map(&mut comp).collect();
        let ignoreregex: Vec<Pattern> = def.ignoreregex.iter().filter_map(&mut comp).collect();
        // fail2ban: every failregex needs a failure id (here or in prefregex).
        const IDS: [&str; 5] = ["fid", "ip4", "ip6", "dns", "mlfid"];
        let pref_has_id = prefregex
            .as_ref()
            .is_some_and(|p| p.names().iter().any(|n| IDS.contains(&n.as_str())));
        for p in &failregex {
            if !pref_has_id && !p.names().iter().any(|n| IDS.contains(&n.as_str())) {
                errs.push(CompileError {
                    origin: p.origin.clone(),
                    regex: p.source.clone(),
                    message: "no failure id: the regex needs <HOST>, <ADDR>, <IP4>, <IP6>, <DNS> or <F-ID>".to_string(),
                });
            }
        }
        if def.failregex.is_empty() {
            errs.push(CompileError {
                origin: def.name.clone(),
                regex: String::new(),
                message: "the filter has no failregex".to_string(),
            });
        }
        let dates = match DateDetector::new(def.datepattern.as_deref(), opts.year) {
            Ok(d) => Some(d),
            Err(e) => {
                errs.push(CompileError {
                    origin: def.name.clone(),
                    regex: def.datepattern.clone().unwrap_or_default(),
                    message: e,
                });
                None
            }
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        let Some(dates) = dates else { return Err(errs) };
        let raw_ok = dates.templates.iter().all(|t| t.line_begin && t.short_pre);
        let prefilter = if maxlines == 1 && failregex.iter().all(|p| p.literals.is_some()) {
            // A literal may straddle the cut date (`[` date `]`): on the raw
            // line, drop the two characters that can precede the date; if
            // that leaves a literal shorter than two bytes, test the text
            // after the date is cut instead.
            let trim = |l: &str| -> String {
                let cut = l.char_indices().nth(2).map_or(l.len(), |(k, _)| k);
                l[cut..].to_string()
            };
            let lits = || {
                failregex
                    .iter()
                    .enumerate()
                    .flat_map(|(i, p)| p.literals.iter().flatten().map(move |l| (i, l)))
            };
            let raw_ok = raw_ok && lits().all(|(_, l)| trim(l).len() >= 2);
            let mut pats = Vec::new();
            let mut owner = Vec::new();
            for (i, l) in lits() {
                pats.push(if raw_ok { trim(l) } else { l.clone() });
                owner.push(i);
            }
            let usable = pats.iter().all(|p| p.len() >= 2);
            AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::Standard)
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                // Log lines are short and the literals' bytes common: the
                // rare-byte prefilter stopped at most bytes and cost more
                // than the DFA's own byte-at-a-time scan (profiled).
                .prefilter(false)
                .build(&pats)
                .ok()
                .filter(|_| usable)
                .map(|ac| Prefilter { ac, owner, raw_ok })
        } else {
            None
        };
        Ok(Filter {
            name: def.name.clone(),
            prefregex,
            failregex,
            ignoreregex,
            maxlines,
            dates,
            check_all: opts.check_all,
            prefilter,
        })
    }

    /// Human-readable notes: which patterns need fancy-regex, whether the
    /// literal prefilter is on.
    pub fn notes(&self) -> Vec<String> {
        let mut v = Vec::new();
        match &self.prefilter {
            Some(p) => v.push(format!(
                "literal prefilter: {} literal(s){}",
                p.ac.patterns_len(),
                if p.raw_ok {
                    ", applied before date parsing"
                } else {
                    ""
                }
            )),
            None => v.push(
                "literal prefilter: off (a failregex has no required literal, or maxlines > 1)"
                    .to_string(),
            ),
        }
        let all = self
            .prefregex
            .iter()
            .chain(&self.failregex)
            .chain(&self.ignoreregex);
        for p in all {
            if !p.fancy.is_empty() {
                v.push(format!(
                    "{}: {} ({}): {}",
                    p.origin,
                    if p.rewritten {
                        "rewritten for the regex engine"
                    } else {
                        "fancy-regex"
                    },
                    p.fancy.join(", "),
                    p.source
                ));
            }
        }
        v
    }
}

/// One failure found in a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// 1-based line number.
    pub line: u64,
    /// Index of the failregex that matched.
    pub regex: usize,
    /// Address or host name as captured (or the `<F-ID>` text).
    pub host: String,
    pub user: Option<String>,
    pub time: Option<LogTime>,
    /// Every named group (`user`, `fid`, `ip4`, custom `<F-*>` ones ...).
    pub groups: Groups,
}

/// Line counters of a scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub lines: u64,
    pub matched: u64,
    pub ignored: u64,
    /// Lines with a date no template could parse (fail2ban's "no date").
    pub no_date: u64,
    /// Lines not valid UTF-8, containing NUL, or longer than [`MAX_LINE`].
    pub skipped: u64,
    /// Pattern runs abandoned by fancy-regex's backtracking limit.
    pub regex_errors: u64,
}

/// The state of one filter over one log: multi-line buffer, multi-line
/// failure ids, the last date.
///
/// A line goes through two steps. The first (a `Worker`) needs only the
/// line, the date template that matched last, the last time and (for
/// `maxlines > 1`) the multi-line buffer: date, prefilter, prefregex,
/// failregexes, ignoreregex. The second merges multi-line failure ids in
/// line order. [`Scan::block`] runs the first step over parts of a block
/// in parallel and the second in order; the result is the same as feeding
/// the lines one by one (see its doc for why).
#[derive(Debug)]
pub struct Scan<'f> {
    filter: &'f Filter,
    pub stats: Stats,
    lineno: u64,
    work: Worker<'f>,
    mlfid: HashMap<String, Mlf>,
    mlfid_order: VecDeque<String>,
    /// Copies of the filter for the other threads of [`Scan::block`]: a
    /// regex shared by threads makes them contend for its scratch space.
    copies: Vec<Filter>,
}

/// The first step of a line (see [`Scan`]).
#[derive(Debug)]
struct Worker<'f> {
    filter: &'f Filter,
    now_wall: i64,
    buffer: VecDeque<String>,
    last_time: Option<LogTime>,
    hint: Option<usize>,
    hits: Vec<bool>,
    scratch: String,
    /// `<F-CONTENT>` + `\n` when it is not a slice of the line.
    content: String,
    pre_state: Option<PatState>,
    fail_states: Vec<PatState>,
    ignore_states: Vec<PatState>,
    memo: date::DateMemo,
    /// The lines whose date was searched, with what was found, up to the
    /// first that set the hint, while `probing` (see [`Scan::block`]).
    probe: Vec<(String, Option<date::FoundDate>)>,
    probing: bool,
}

/// A failregex that matched a line (not vetoed by `ignoreregex`), with its
/// groups merged with prefregex's, before the failure-id step.
#[derive(Debug, Clone)]
struct Candidate {
    regex: usize,
    groups: Groups,
}

/// The lines of one part of a block that gave candidates.
#[derive(Debug, Default)]
struct Part {
    /// (line number within the block, candidates, time).
    hits: Vec<(u64, Vec<Candidate>, Option<LogTime>)>,
    stats: Stats,
    lines: u64,
    hint: Option<usize>,
    last_time: Option<LogTime>,
    probe: Vec<(String, Option<date::FoundDate>)>,
}

#[derive(Debug, Clone, Default)]
struct Mlf {
    groups: Groups,
    users: BTreeSet<String>,
    pending: bool,
}

const MLFID_CACHE: usize = 100;

/// Blocks smaller than this are scanned on one thread.
const PARALLEL_MIN: usize = 256 * 1024;

fn truthy(g: &Groups, k: &str) -> bool {
    g.get(k).is_some_and(|v| !v.is_empty())
}

/// The line as text, or `None` when it is skipped (invalid UTF-8, NUL,
/// longer than [`MAX_LINE`]); a final `\r` is cut.
fn usable(raw: &[u8]) -> Option<&str> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if raw.len() > MAX_LINE || memchr::memchr(0, raw).is_some() {
        return None;
    }
    std::str::from_utf8(raw).ok()
}

impl<'f> Worker<'f> {
    fn new(filter: &'f Filter, now_wall: i64) -> Worker<'f> {
        Worker {
            filter,
            now_wall,
            buffer: VecDeque::new(),
            last_time: None,
            hint: None,
            hits: vec![false; filter.failregex.len()],
            scratch: String::with_capacity(1024),
            content: String::new(),
            pre_state: filter.prefregex.as_ref().map(Pattern::state),
            fail_states: filter.failregex.iter().map(Pattern::state).collect(),
            ignore_states: filter.ignoreregex.iter().map(Pattern::state).collect(),
            memo: date::DateMemo::default(),
            probe: Vec::new(),
            probing: false,
        }
    }

    /// The first step for one line (already counted and checked for
    /// length and NUL). Returns the candidates and the line's time (the
    /// last known time when the line has none).
    fn line(
        &mut self,
        st: &mut Stats,
        line: &str,
        given: Option<LogTime>,
    ) -> (Vec<Candidate>, Option<LogTime>) {
        if self.filter.prefilter.as_ref().is_some_and(|p| p.raw_ok) && !self.literal_hits(line) {
            return (Vec::new(), None);
        }
        let f = self.filter;
        // Cut the date out, as fail2ban does.
        let found = if given.is_some() {
            Some(date::FoundDate {
                start: 0,
                end: 0,
                template: 0,
            })
        } else {
            let d = f.dates.find_memo(line, self.hint, &mut self.memo);
            if self.probing {
                self.probe.push((line.to_string(), d));
                self.probing = d.is_none_or(|d| d.end <= d.start);
            }
            d
        };
        let (pre, post) = match found {
            Some(d) if d.end > d.start => {
                self.hint = Some(d.template);
                (&line[..d.start], &line[d.end..])
            }
            Some(_) => ("", line),
            None => {
                st.no_date += 1;
                ("", line)
            }
        };
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        if f.maxlines > 1 {
            let mut text = String::with_capacity(pre.len() + post.len());
            text.push_str(pre);
            text.push_str(post);
            self.buffer.push_back(text);
            while self.buffer.len() > f.maxlines {
                self.buffer.pop_front();
            }
            for l in &self.buffer {
                buf.push_str(l);
                buf.push('\n');
            }
        } else {
            buf.push_str(pre);
            buf.push_str(post);
            buf.push('\n');
        }
        if let Some(p) = &f.prefilter {
            if !p.raw_ok && !self.literal_hits(&buf) {
                self.scratch = buf;
                return (Vec::new(), None);
            }
        }
        let cands = self.find(st, &mut buf);
        self.scratch = buf;
        let time = match (given, found) {
            (Some(t), _) => Some(t),
            (None, Some(d)) if d.end > d.start => {
                let t = f.dates.templates[d.template].parse_memo(
                    line,
                    &d,
                    self.now_wall,
                    &mut self.memo,
                );
                if t.is_none() {
                    st.no_date += 1;
                }
                if t.is_some() {
                    self.last_time = t;
                }
                t.or(self.last_time)
            }
            _ => self.last_time,
        };
        (cands, time)
    }

    /// Marks the failregexes whose literals occur in `text`; false when none.
    fn literal_hits(&mut self, text: &str) -> bool {
        let Some(p) = &self.filter.prefilter else {
            return true;
        };
        self.hits.iter_mut().for_each(|h| *h = false);
        let mut any = false;
        for m in p.ac.find_overlapping_iter(text) {
            self.hits[p.owner[m.pattern().as_usize()]] = true;
            any = true;
        }
        any
    }

    fn ignored(&mut self, st: &mut Stats, buf: &str) -> bool {
        let f = self.filter;
        let hit = f
            .ignoreregex
            .iter()
            .zip(self.ignore_states.iter_mut())
            .any(|(p, s)| p.is_match(buf, s));
        if hit {
            st.ignored += 1;
        }
        hit
    }

    /// The stateless half of fail2ban's `findFailure`: without
    /// `check_all`, every path after the first failregex that matches ends
    /// the search, so at most one candidate comes out.
    fn find(&mut self, st: &mut Stats, buf: &mut String) -> Vec<Candidate> {
        let f = self.filter;
        let mut out = Vec::new();
        if !f.ignoreregex.is_empty()
            && f.ignoreregex.len() + 2 < f.failregex.len()
            && self.ignored(st, buf)
        {
            return out;
        }
        // The text the failregexes search: the line, or prefregex's
        // `<F-CONTENT>` and a newline (a slice of the line when the
        // content ends at its end).
        let mut content = std::mem::take(&mut self.content);
        let mut hay: &str = buf;
        if let (Some(p), Some(ps)) = (&f.prefregex, self.pre_state.as_mut()) {
            match p.run(buf, ps) {
                Ok(true) => {}
                Ok(false) => {
                    self.content = content;
                    return out;
                }
                Err(()) => {
                    st.regex_errors += 1;
                    self.content = content;
                    return out;
                }
            }
            let span = p
                .names
                .iter()
                .position(|n| n == "content")
                .and_then(|i| ps.spans[i]);
            if let Some((s, e)) = span.filter(|(s, e)| e > s) {
                if buf.as_bytes().get(e) == Some(&b'\n') {
                    hay = &buf[s..=e];
                } else {
                    content.clear();
                    content.push_str(&buf[s..e]);
                    content.push('\n');
                    hay = &content;
                }
            }
        }
        for (i, p) in f.failregex.iter().enumerate() {
            if f.prefilter.is_some() && !self.hits[i] {
                continue;
            }
            match p.run(hay, &mut self.fail_states[i]) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(()) => {
                    st.regex_errors += 1;
                    continue;
                }
            }
            if !f.ignoreregex.is_empty() && self.ignored(st, hay) {
                if !f.check_all {
                    break;
                }
                continue;
            }
            let mut fail = Groups::new();
            p.groups(hay, &self.fail_states[i], &mut fail);
            alt_groups(&mut fail);
            if let (Some(p), Some(ps)) = (&f.prefregex, &self.pre_state) {
                let mut merged = Groups::new();
                p.groups(buf, ps, &mut merged);
                merged.remove("content");
                merged.extend(fail);
                fail = merged;
            }
            out.push(Candidate {
                regex: i,
                groups: fail,
            });
            if !f.check_all {
                break;
            }
        }
        self.content = content;
        out
    }
}

impl<'f> Scan<'f> {
    /// `now_wall`: the current local wall-clock time (Unix seconds of the
    /// local time as if it were UTC), for dates without a year.
    pub fn new(filter: &'f Filter, now_wall: i64) -> Scan<'f> {
        Scan {
            filter,
            stats: Stats::default(),
            lineno: 0,
            work: Worker::new(filter, now_wall),
            mlfid: HashMap::new(),
            mlfid_order: VecDeque::new(),
            copies: Vec::new(),
        }
    }

    /// Feeds raw bytes of one line (without its newline). Invalid UTF-8,
    /// NUL bytes and over-long lines are counted and skipped.
    pub fn bytes(&mut self, raw: &[u8]) -> Vec<Failure> {
        match usable(raw) {
            Some(s) => self.line(s),
            None => {
                self.lineno += 1;
                self.stats.lines += 1;
                self.stats.skipped += 1;
                Vec::new()
            }
        }
    }

    /// Feeds one line of text (without its newline).
    pub fn line(&mut self, line: &str) -> Vec<Failure> {
        self.lineno += 1;
        self.stats.lines += 1;
        if line.len() > MAX_LINE || line.contains('\0') {
            self.stats.skipped += 1;
            return Vec::new();
        }
        let (cands, time) = self.work.line(&mut self.stats, line, None);
        self.settle(self.lineno, cands, time)
    }

    /// Feeds a line whose time is already known (a journal entry): no date
    /// is searched in the text.
    pub fn line_at(&mut self, line: &str, time: LogTime) -> Vec<Failure> {
        self.lineno += 1;
        self.stats.lines += 1;
        if line.len() > MAX_LINE || line.contains('\0') {
            self.stats.skipped += 1;
            return Vec::new();
        }
        let (cands, time) = self.work.line(&mut self.stats, line, Some(time));
        self.settle(self.lineno, cands, time)
    }

    /// Feeds a block of lines, each ending with `\n` (a last line without
    /// one is a line too), on up to `threads` threads. The failures and
    /// counters are the same as from feeding each line to [`Scan::bytes`]
    /// in order:
    ///
    /// - the block is cut into parts at line ends; each part's first step
    ///   runs on its own thread, the failure-id step runs afterwards in
    ///   line order;
    /// - the first step depends on earlier lines only through the last
    ///   time (a part reports its own, and the last time before it fills
    ///   in), and the date template that matched last (tried first). A
    ///   part starts without one and records the lines whose date it
    ///   searched until one set it; those searches are replayed with the
    ///   real template, and a part where any result differs is scanned
    ///   again with it;
    /// - filters with `maxlines > 1` carry lines over: scanned on one
    ///   thread.
    pub fn block(&mut self, data: &[u8], threads: usize) -> Vec<Failure> {
        self.block_min(data, threads, PARALLEL_MIN)
    }

    /// [`Scan::block`] with the smallest block scanned in parallel given
    /// (tests use small blocks).
    #[doc(hidden)]
    pub fn block_min(&mut self, data: &[u8], threads: usize, min: usize) -> Vec<Failure> {
        let f = self.filter;
        let now_wall = self.work.now_wall;
        let n = if f.maxlines > 1 || data.len() < min {
            1
        } else {
            threads.clamp(1, 64)
        };
        if n == 1 {
            let mut out = Vec::new();
            for l in lines(data) {
                out.extend(self.bytes(l));
            }
            return out;
        }
        let parts = split_at_lines(data, n);
        let (hint, last) = (self.work.hint, self.work.last_time);
        while self.copies.len() < n - 1 {
            self.copies.push(f.clone());
        }
        let copies = &self.copies;
        let results: Vec<Part> = std::thread::scope(|s| {
            let handles: Vec<_> = parts
                .iter()
                .skip(1)
                .zip(copies)
                .map(|(p, c)| s.spawn(move || scan_part(c, now_wall, p, None, None, true)))
                .collect();
            let mut v = vec![scan_part(f, now_wall, parts[0], hint, last, false)];
            for h in handles {
                // A worker panicking is a bug; scan its part here again
                // so the result stays complete.
                match h.join() {
                    Ok(p) => v.push(p),
                    Err(_) => v.push(Part {
                        lines: u64::MAX,
                        ..Part::default()
                    }),
                }
            }
            v
        });
        let mut out = Vec::new();
        for (k, mut part) in results.into_iter().enumerate() {
            let hint = self.work.hint;
            let last = self.work.last_time;
            if k > 0 && (part.lines == u64::MAX || !probe_agrees(f, &part.probe, hint)) {
                part = scan_part(f, now_wall, parts[k], hint, last, false);
            }
            let base = self.lineno;
            self.stats.add(&part.stats);
            self.lineno += part.lines;
            self.work.hint = part.hint.or(hint);
            self.work.last_time = part.last_time.or(last);
            for (rel, cands, time) in part.hits {
                out.extend(self.settle(base + rel, cands, time.or(last)));
            }
        }
        out
    }

    /// The second step: multi-line failure ids, in line order.
    fn settle(
        &mut self,
        lineno: u64,
        cands: Vec<Candidate>,
        time: Option<LogTime>,
    ) -> Vec<Failure> {
        let f = self.filter;
        let mut out = Vec::new();
        for Candidate {
            regex: i,
            groups: mut fail,
        } in cands
        {
            if f.maxlines > 1 {
                self.work.buffer.clear();
            }
            let mlfid = fail.get("mlfid").cloned();
            if let Some(id) = &mlfid {
                let (merged, _many) = self.merge_mlfid(id, fail);
                fail = merged;
                if truthy(&fail, "nofail") {
                    if !f.check_all {
                        break;
                    }
                    continue;
                }
            }
            let host = ["ip4", "ip6", "dns"]
                .iter()
                .find_map(|k| fail.get(*k).cloned());
            let fid = fail.get("fid").cloned();
            let host = match (host, fid) {
                (Some(h), None) => normalize(&h, fail.get("cidr")),
                (Some(h), Some(fid)) if fid == h => normalize(&h, fail.get("cidr")),
                (Some(_), Some(fid)) | (None, Some(fid)) => fid,
                (None, None) => {
                    if let Some(id) = &mlfid {
                        if let Some(m) = self.mlfid.get_mut(id) {
                            m.pending = true;
                        }
                    }
                    if !f.check_all {
                        break;
                    }
                    continue;
                }
            };
            out.push(Failure {
                line: lineno,
                regex: i,
                host,
                user: fail.get("user").cloned(),
                time: None,
                groups: fail,
            });
            if !f.check_all {
                break;
            }
        }
        if !out.is_empty() {
            self.stats.matched += 1;
            for o in &mut out {
                o.time = time;
            }
        }
        out
    }
    /// fail2ban's `_mergeFailure` (without the matched-lines bookkeeping).
    fn merge_mlfid(&mut self, id: &str, mut fail: Groups) -> (Groups, bool) {
        let mut flags = 0u8;
        if truthy(&fail, "mlfgained") {
            flags |= 8 | 1;
            if !truthy(&fail, "nofail") {
                let g = fail.get("mlfgained").cloned().unwrap_or_default();
                fail.insert("nofail".into(), g);
            }
        } else if truthy(&fail, "nofail") {
            flags |= 1;
        }
        if fail.remove("mlfforget").is_some_and(|v| !v.is_empty()) {
            flags |= 2;
        }
        let user = fail.get("user").cloned();
        let mut users_len = 0;
        let mut pending = false;
        if let Some(mut m) = self.mlfid.remove(id) {
            if let Some(u) = &user {
                m.users.insert(u.clone());
            }
            users_len = m.users.len();
            if m.groups.remove("nofail").is_some_and(|v| !v.is_empty()) {
                flags |= 4;
            }
            if m.groups.remove("mlfgained").is_some_and(|v| !v.is_empty()) {
                flags |= 4;
            }
            if flags & 8 != 0 {
                m.pending = false;
            }
            m.groups.extend(fail);
            pending = m.pending;
            m.pending = false;
            let merged = m.groups.clone();
            if flags & 2 == 0 {
                self.mlfid.insert(id.to_string(), m);
            } else {
                self.mlfid_order.retain(|k| k != id);
            }
            fail = merged;
        } else if flags & 2 == 0 {
            let mut m = Mlf {
                groups: fail.clone(),
                ..Mlf::default()
            };
            if let Some(u) = &user {
                m.users.insert(u.clone());
                users_len = 1;
            }
            self.mlfid.insert(id.to_string(), m);
            self.mlfid_order.push_back(id.to_string());
            while self.mlfid_order.len() > MLFID_CACHE {
                if let Some(old) = self.mlfid_order.pop_front() {
                    self.mlfid.remove(&old);
                }
            }
        }
        if pending || users_len > 1 {
            fail.remove("nofail");
            fail.remove("mlfgained");
            if let Some(m) = self.mlfid.get_mut(id) {
                m.groups.remove("nofail");
                m.groups.remove("mlfgained");
            }
        }
        (fail, users_len > 1)
    }

    /// Line number of the last line fed.
    pub fn lineno(&self) -> u64 {
        self.lineno
    }
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.lines += o.lines;
        self.matched += o.matched;
        self.ignored += o.ignored;
        self.no_date += o.no_date;
        self.skipped += o.skipped;
        self.regex_errors += o.regex_errors;
    }
}

/// The lines of a block: split at `\n`; a last line without one counts.
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let empty = data.is_empty();
    body.split(|b| *b == b'\n').filter(move |_| !empty)
}

/// `n` parts of `data` cut just after a `\n` (some may be empty).
fn split_at_lines(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut start = 0;
    for k in 1..n {
        let want = (data.len() * k / n).max(start);
        let cut = match memchr::memchr(b'\n', &data[want..]) {
            Some(i) => want + i + 1,
            None => data.len(),
        };
        parts.push(&data[start..cut]);
        start = cut;
    }
    parts.push(&data[start..]);
    parts
}

/// The first step over one part of a block.
fn scan_part(
    f: &Filter,
    now_wall: i64,
    data: &[u8],
    hint: Option<usize>,
    last_time: Option<LogTime>,
    probing: bool,
) -> Part {
    let mut w = Worker::new(f, now_wall);
    w.hint = hint;
    w.last_time = last_time;
    w.probing = probing;
    let mut part = Part::default();
    for l in lines(data) {
        part.lines += 1;
        part.stats.lines += 1;
        let Some(s) = usable(l) else {
            part.stats.skipped += 1;
            continue;
        };
        let (cands, time) = w.line(&mut part.stats, s, None);
        if !cands.is_empty() {
            part.hits.push((part.lines, cands, time));
        }
    }
    part.hint = w.hint;
    part.last_time = w.last_time;
    part.probe = w.probe;
    part
}

/// Whether the date searches a part made without a template hint give the
/// same results with `hint` (then the part's first step is what a scan
/// from the start of the log would have done).
fn probe_agrees(
    f: &Filter,
    probe: &[(String, Option<date::FoundDate>)],
    hint: Option<usize>,
) -> bool {
    hint.is_none() || probe.iter().all(|(line, d)| f.dates.find(line, hint) == *d)
}

/// `alt_user_1` → `user` when `user` is empty (fail2ban's ALT_ groups).
fn alt_groups(g: &mut Groups) {
    let alts: Vec<(String, String)> = g
        .iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix("alt_")?;
            let base = rest.trim_end_matches(|c: char| c.is_ascii_digit());
            let base = if base.len() < rest.len() {
                base.strip_suffix('_').unwrap_or(base)
            } else {
                rest
            };
            Some((pyre::group_name(base), v.clone()))
        })
        .collect();
    for (n, v) in alts {
        if !v.is_empty() && !truthy(g, &n) {
            g.insert(n, v);
        }
    }
}

/// The host as fail2ban reports it: the text as captured, a `<CIDR>`
/// appended as `/N`.
fn normalize(h: &str, cidr: Option<&String>) -> String {
    let base = h.to_string();
    match cidr {
        Some(c) => format!("{base}/{c}"),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_syntax::fail2ban::ConfigSet;

    fn filter(text: &str) -> Filter {
        let set = ConfigSet::from_text("t.conf", text);
        let def = FilterDef::from_set("t", &set, &BTreeMap::new()).unwrap();
        Filter::compile(&def, &CompileOptions::default()).unwrap()
    }

    #[test]
    fn injected_address_in_user_name_is_not_the_host() {
        let f = filter("[Definition]\nfailregex = ^\\s*Invalid user <F-USER>\\S+</F-USER> from <HOST>(?: port \\d+)?\\s*$\n");
        let mut s = Scan::new(&f, 0);
        let hits =
            s.line("Jan  1 00:00:00 Invalid user admin from 10.0.0.1 from 192.0.2.9 port 22");
        // `\S+` cannot hold a space: the smuggled text makes the line not match.
        assert!(hits.is_empty());
        let hits = s.line("Jan  1 00:00:00 Invalid user x from 192.0.2.9 port 22");
        assert_eq!(hits[0].host, "192.0.2.9");
    }

    #[test]
    fn garbage_is_counted() {
        let f = filter("[Definition]\nfailregex = ^bad <HOST>$\n");
        let mut s = Scan::new(&f, 0);
        assert!(s.bytes(b"bad \xff\xfe 1.2.3.4").is_empty());
        assert!(s.bytes(b"bad \0 1.2.3.4").is_empty());
        assert!(s.bytes(&vec![b'a'; MAX_LINE + 1]).is_empty());
        assert_eq!(s.bytes(b"bad 1.2.3.4").len(), 1);
        assert_eq!(s.stats.skipped, 3);
        assert_eq!(s.stats.lines, 4);
    }

    /// Issue 6: a block scanned by several threads gives the same
    /// failures (line numbers, hosts, groups, times) and counters as the
    /// same lines fed one by one, with multi-line failure ids crossing the
    /// part boundaries, lines without a date, garbage and two date formats
    /// (the template hint differs between parts).
    #[test]
    fn issue6_parallel_scan_equals_sequential() {
        let f = filter("[Definition]\nprefregex = ^<F-MLFID>\\s*\\S+ app\\[\\d+\\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$\nfailregex = ^<F-NOFAIL>hello from</F-NOFAIL> <HOST>$\n            ^bad user <F-USER>\\S+</F-USER>$\n            ^bad password for <F-USER>\\S+</F-USER> from <HOST>$\n");
        let mut log = Vec::new();
        let mut rng = 7u64;
        let mut next = |m: u64| {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (rng >> 33) % m
        };
        for i in 0..20_000u64 {
            let pid = next(150);
            let date = match next(10) {
                0 => "2026-11-22 10:00:01".to_string(),
                1 => String::new(),
                _ => format!("Nov 22 10:{:02}:{:02}", i / 3600 % 60, i / 60 % 60),
            };
            let line = match next(6) {
                0 => format!("{date} h app[{pid}]: hello from 192.0.2.{}", next(200)),
                1 => format!("{date} h app[{pid}]: bad user u{}", next(9)),
                2 => format!(
                    "{date} h app[{pid}]: bad password for x from 198.51.100.{}",
                    next(9)
                ),
                3 => format!("{date} h other[{pid}]: bad user y"),
                4 => "\u{0}garbage".to_string(),
                _ => format!("{date} h app[{pid}]: nothing"),
            };
            log.extend_from_slice(line.as_bytes());
            if next(50) == 0 {
                log.extend_from_slice(b"\xff\xfe");
            }
            log.push(b'\n');
        }
        let mut one = Scan::new(&f, 1_764_000_000);
        let want: Vec<Failure> = lines(&log).flat_map(|l| one.bytes(l)).collect();
        assert!(want
            .iter()
            .any(|w| w.user.is_some() && w.host.starts_with("192.0.2.")));
        for threads in [2, 3, 4] {
            for block in [4096, 100_000, log.len()] {
                let mut s = Scan::new(&f, 1_764_000_000);
                let mut got = Vec::new();
                let mut rest = &log[..];
                while !rest.is_empty() {
                    let cut = memchr::memrchr(b'\n', &rest[..block.min(rest.len())])
                        .map_or(rest.len(), |i| i + 1);
                    got.extend(s.block_min(&rest[..cut], threads, 0));
                    rest = &rest[cut..];
                }
                assert_eq!(got, want, "{threads} threads, blocks of {block}");
                assert_eq!(s.stats, one.stats, "{threads} threads, blocks of {block}");
            }
        }
    }

    #[test]
    fn prefregex_content_and_ignoreregex() {
        let f = filter("[Definition]\nprefregex = ^\\s*\\S+ app: <F-CONTENT>.+</F-CONTENT>$\nfailregex = ^fail from <HOST>$\nignoreregex = 10\\.\\d+\\.\\d+\\.\\d+\n");
        let mut s = Scan::new(&f, 0);
        assert_eq!(
            s.line("2005-08-14 12:00:00 h app: fail from 192.0.2.1")
                .len(),
            1
        );
        assert!(s
            .line("2005-08-14 12:00:00 h app: fail from 10.0.0.1")
            .is_empty());
        assert_eq!(s.stats.ignored, 1);
        assert!(s
            .line("2005-08-14 12:00:00 h other: fail from 192.0.2.1")
            .is_empty());
    }
}
