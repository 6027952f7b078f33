//! Dates in log lines, as fail2ban's `DateDetector` finds them: a
//! filter's `datepattern` (strptime `%` codes plus fail2ban's `%Ex..`,
//! `{^LN-BEG}`, `{UNB}`, `{DATE}`, `{NONE}`, `EPOCH`, `LEPOCH`, `TAI64N`,
//! `**` word-boundary markers) or fail2ban's default templates. The date
//! found is cut out of the line before any failregex sees it.
//!
//! Differences from fail2ban, by design: templates are tried in a fixed
//! order (line-anchored ones first, then the match nearest the line start)
//! instead of fail2ban's hit-count reordering; the result is the same for
//! a log in one format. Times are not read from a clock: the caller gives
//! "now" (for dates without a year) and the offset of local time.

use super::pyre;
use regex::Regex;

/// A found date: the span cut from the line and the parsed time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoundDate {
    pub start: usize,
    pub end: usize,
    pub template: usize,
}

/// A parsed time: seconds of the local wall clock as if it were UTC, and
/// the offset (minutes east) when the line gave one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogTime {
    pub wall: i64,
    pub offset_min: Option<i32>,
    pub frac: f64,
}

impl LogTime {
    /// Unix time, with `local_offset_min` for times without a zone.
    pub fn unix(&self, local_offset_min: i32) -> i64 {
        self.wall - i64::from(self.offset_min.unwrap_or(local_offset_min)) * 60
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Pattern,
    Epoch { long: bool },
    Tai64n,
}

/// One compiled template.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    re: Regex,
    word_begin: bool,
    word_end: bool,
    pub line_begin: bool,
    /// At most two characters can precede the date this template cuts.
    pub short_pre: bool,
    kind: Kind,
    /// Anchored at the line start with no other assertion: the match, its
    /// groups and the parsed time are functions of the text the match
    /// covers (see [`DateMemo`]).
    memo_ok: bool,
}

/// The last date a template found, for the next line: log lines in a row
/// often start with the same date.
///
/// For a template anchored at the line start (`^`) with no other
/// assertion, whether a path through the regex succeeds depends only on
/// the text it consumes. If line A's leftmost-first match covers
/// `A[..e]`, and line B starts with the same `A[..e]` and its match (found
/// by the DFA, no captures) also ends at `e`, then B's winning path is
/// A's: a higher-priority path succeeding in B would either end by `e`
/// (and then win in A too) or be B's match, which ends at `e`. So the
/// groups (the span cut and the fields parsed) are A's.
#[derive(Debug, Clone, Default)]
pub struct DateMemo {
    template: usize,
    key: String,
    group: (usize, usize),
    parsed: Option<Option<LogTime>>,
}

/// The century part of `%ExY`: the years 2000 .. now+3, as fail2ban builds it.
fn exy(year: i32) -> String {
    let last = (year + 3).clamp(2000, 2099);
    let dec = (last - 2000) / 10;
    format!(r"(?P<Y>20[0-{dec}]\d)")
}

/// The regex of one `%` code (fail2ban's `timeRE`), or `None` if unknown.
fn code_re(code: &str, year: i32) -> Option<String> {
    Some(
        match code {
            "%" => "%",
            "a" => "(?P<a>mon|tue|wed|thu|fri|sat|sun)",
            "A" => "(?P<A>wednesday|thursday|saturday|tuesday|monday|friday|sunday)",
            "b" => "(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
            "B" => "(?P<B>september|february|november|december|january|october|august|march|april|june|july|may)",
            "p" => "(?P<p>am|pm)",
            "f" => "(?P<f>[0-9]{1,6})",
            "I" => "(?P<I>1[0-2]|0[1-9]|[1-9])",
            "j" => r"(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])",
            "U" => r"(?P<U>5[0-3]|[0-4]\d|\d)",
            "W" => r"(?P<W>5[0-3]|[0-4]\d|\d)",
            "w" => "(?P<w>[0-6])",
            "y" | "Exy" => r"(?P<y>\d\d)",
            "k" => r" ?(?P<H>[0-2]?\d)",
            "l" => r" ?(?P<I>1?\d)",
            "Z" => "(?P<Z>Z|[A-Z]{3,5})",
            "z" => r"(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)",
            "ExZ" => "(?P<Z>[A-Z](?:[A-Z]{2,4})?)",
            "Exz" => r"(?P<z>(?:[A-Z](?:[A-Z]{2,4})?)?[+-][01]\d(?::?\d{2})?|[A-Z](?:[A-Z]{2,4})?)",
            "d" => r"(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])",
            "m" => "(?P<m>0?[1-9]|1[0-2])",
            "Y" => r"(?P<Y>\d{4})",
            "H" => r"(?P<H>[0-1]?\d|2[0-3])",
            "M" => r"(?P<M>[0-5]?\d)",
            "S" => r"(?P<S>[0-5]?\d|6[0-1])",
            "Exd" => r"(?P<d>[1-2]\d|0[1-9]|3[0-1])",
            "Exm" => "(?P<m>0[1-9]|1[0-2])",
            "ExH" => r"(?P<H>[0-1]\d|2[0-3])",
            "Exk" => r" ?(?P<H>[0-1]?\d|2[0-3])",
            "Exl" => r" ?(?P<I>1[0-2]|\d)",
            "ExM" => r"(?P<M>[0-5]\d)",
            "ExS" => r"(?P<S>[0-5]\d|6[0-1])",
            "ExY" => return Some(exy(year)),
            _ => return None,
        }
        .to_string(),
    )
}

const MULTI: [&str; 12] = [
    "ExZ", "Exz", "Exd", "Exm", "ExH", "Exk", "Exl", "ExM", "ExS", "ExY", "Exy", "%",
];

/// Replaces the `%` codes of a datepattern; says whether a name code
/// (`%a %A %b %B %p`) was used (fail2ban then matches case-insensitively).
fn subst_codes(p: &str, year: i32) -> Result<(String, bool), String> {
    let mut out = String::new();
    let mut alpha = false;
    let mut rest = p;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let code = MULTI
            .iter()
            .find(|m| after.starts_with(**m))
            .map(|m| m.to_string())
            .or_else(|| after.chars().next().map(String::from))
            .ok_or_else(|| "datepattern ends with `%`".to_string())?;
        let re = code_re(&code, year).ok_or_else(|| {
            format!(
                "unknown or unsupported date code `%{code}` (use `%%` for a literal percent sign)"
            )
        })?;
        if matches!(code.as_str(), "a" | "A" | "b" | "B" | "p") {
            alpha = true;
        }
        out.push_str(&re);
        rest = &after[code.len()..];
    }
    out.push_str(rest);
    Ok((out, alpha))
}

/// fail2ban's own date patterns write `(?P<_sep>[-/.])%m(?P=_sep)` (the
/// same separator twice); the back-reference becomes the separator class
/// again, so either separator is accepted in each place.
fn unshare_sep(p: &str) -> String {
    let Some(i) = p.find("(?P<_sep>") else {
        return p.to_string();
    };
    let body_start = i + "(?P<_sep>".len();
    let Some(len) = p[body_start..].find(')') else {
        return p.to_string();
    };
    let inner = &p[body_start..body_start + len];
    let mut out = String::new();
    out.push_str(&p[..i]);
    out.push_str(&format!("(?:{inner})"));
    out.push_str(&p[body_start + len + 1..].replace("(?P=_sep)", &format!("(?:{inner})")));
    out
}

/// Does the pattern have a plain capturing `(` (fail2ban's `RE_GROUPED`)?
fn has_plain_group(r: &str) -> bool {
    let b = r.as_bytes();
    (0..b.len()).any(|i| {
        b[i] == b'('
            && b.get(i + 1) != Some(&b'?')
            && (i == 0 || b[i - 1] != b'\\')
            && !(i >= 2 && &b[i - 2..i] == b"(?")
    })
}

impl Template {
    /// fail2ban's `DatePatternRegex(pattern)`.
    pub fn pattern(pattern: &str, year: i32) -> Result<Template, String> {
        let mut word_begin = true;
        let mut word_end = true;
        let mut start = false;
        let mut p = pattern;
        if let Some(r) = p.strip_prefix("{UNB}") {
            p = r;
            word_begin = false;
            word_end = false;
        }
        if word_begin {
            if let Some(r) = p.strip_prefix("{^LN-BEG}") {
                p = r;
                start = true;
            }
        }
        let p = unshare_sep(p);
        let (mut regex, alpha) = subst_codes(&p, year)?;
        if alpha {
            regex = format!("(?iu){regex}");
        }
        Self::from_regex(pattern, &regex, word_begin, start, word_end, Kind::Pattern)
    }

    /// fail2ban's `DateTemplate.setRegex`.
    fn from_regex(
        name: &str,
        regex: &str,
        word_begin: bool,
        start: bool,
        word_end: bool,
        kind: Kind,
    ) -> Result<Template, String> {
        let mut regex = regex.trim().to_string();
        // Global flags move to the front.
        let mut gf = String::new();
        if let Some(i) = regex.find("(?") {
            let tail = &regex[i + 2..];
            let n = tail.bytes().take_while(u8::is_ascii_lowercase).count();
            if n > 0 && tail.as_bytes().get(n) == Some(&b')') {
                gf = regex[i..i + 3 + n].to_string();
                regex.replace_range(i..i + 3 + n, "");
            }
        }
        let no_begin = {
            let s = regex.trim_start_matches('(');
            let s = strip_flag_group(s);
            s.starts_with('^')
                || s.trim_start_matches('(').starts_with("**")
                || s.starts_with("?:^")
        };
        let no_end = {
            let s = regex.as_str();
            let esc = |k: usize| s.len() > k && s.as_bytes()[s.len() - k - 1] == b'\\';
            let t = s.trim_end_matches(')');
            (s.ends_with('$') && !esc(1))
                || (s.ends_with("$)") && !esc(2))
                || s.ends_with("\\b")
                || s.ends_with("\\s")
                || t.ends_with("**")
        };
        let bound_begin = word_begin && !no_begin;
        let bound_end = word_end && !no_end;
        let wrapped = !has_plain_group(&regex);
        if wrapped {
            // ^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$  ->  \1(\2)\3
            let mut head = String::new();
            let mut body = regex.as_str();
            let f1 = flag_prefix(body);
            head.push_str(&body[..f1]);
            body = &body[f1..];
            if let Some(b) = body.strip_prefix('^') {
                head.push('^');
                body = b;
            }
            let f2 = flag_prefix(body);
            head.push_str(&body[..f2]);
            body = &body[f2..];
            let (body, tail) = match body.strip_suffix('$') {
                Some(b) => (b, "$"),
                None => (body, ""),
            };
            regex = format!("{head}({body}){tail}");
        }
        let mut line_begin = false;
        if bound_begin && start {
            regex = format!(r"^(?:\W{{0,2}})?{regex}");
            line_begin = true;
        }
        let rb = strip_flag_group(&regex);
        if rb.starts_with('^')
            || ((rb.starts_with("(^") || rb.starts_with("(?:^")) && !rb.contains("^|"))
        {
            line_begin = true;
        }
        // Remove `**` markers.
        let lead = regex.len() - regex.trim_start_matches('(').len();
        if regex[lead..].starts_with("**") {
            regex.replace_range(lead..lead + 2, "");
        }
        let trail = regex.len() - regex.trim_end_matches(')').len();
        let end = regex.len() - trail;
        if regex[..end].ends_with("**") && !regex[..end].ends_with("\\**") {
            regex.replace_range(end - 2..end, "");
        }
        let full = format!("{gf}{regex}");
        let tr =
            pyre::translate(&full, false).map_err(|e| format!("date pattern `{name}`: {e}"))?;
        if !tr.fancy.is_empty() {
            return Err(format!(
                "date pattern `{name}` needs {} (not supported in date patterns)",
                tr.fancy.join(", ")
            ));
        }
        let re = Regex::new(&tr.exact).map_err(|e| format!("date pattern `{name}`: {e}"))?;
        let memo_ok = {
            let body = &tr.exact[flag_prefix(&tr.exact)..];
            body.starts_with('^')
                && tr.exact.matches('^').count() == 1
                && !tr.exact.contains('$')
                && !["\\b", "\\B", "\\z", "\\A", "\\Z", "(?m", "(?s"]
                    .iter()
                    .any(|a| tr.exact.contains(a))
        };
        Ok(Template {
            memo_ok,
            name: name.to_string(),
            re,
            word_begin: bound_begin && !start,
            word_end: bound_end,
            short_pre: (bound_begin && start) || (wrapped && line_begin),
            line_begin,
            kind,
        })
    }

    fn epoch(line_begin_only: bool, long: bool) -> Template {
        let num = if long {
            r"\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?"
        } else {
            r"\d{10,11}\b(?:\.\d{3,6})?"
        };
        let name = match (line_begin_only, long) {
            (false, false) => "Epoch",
            (false, true) => "LongEpoch",
            (true, false) => "{^LN-BEG}Epoch",
            (true, true) => "{^LN-BEG}LongEpoch",
        };
        // fail2ban's `(?P<square>(?<=^\[))` / `audit(` conditions reduce to
        // where the number may start; the trailing conditionals always hold.
        let re = if line_begin_only {
            format!(r"^(?:\W{{0,2}})?({num})")
        } else {
            format!(r"(?:^|^\[|\baudit\()({num})")
        };
        Template {
            name: name.to_string(),
            re: Regex::new(&re).unwrap_or_else(|_| unreachable_regex()),
            word_begin: false,
            word_end: true,
            line_begin: line_begin_only,
            short_pre: line_begin_only,
            kind: Kind::Epoch { long },
            memo_ok: false,
        }
    }

    fn tai64n(line_begin_only: bool) -> Template {
        let re = if line_begin_only {
            r"^(?:\W{0,2})?(@[0-9a-f]{24})"
        } else {
            r"(@[0-9a-f]{24})"
        };
        Template {
            name: if line_begin_only {
                "{^LN-BEG}TAI64N"
            } else {
                "TAI64N"
            }
            .to_string(),
            re: Regex::new(re).unwrap_or_else(|_| unreachable_regex()),
            word_begin: !line_begin_only,
            word_end: true,
            line_begin: line_begin_only,
            short_pre: line_begin_only,
            kind: Kind::Tai64n,
            memo_ok: false,
        }
    }

    /// [`Template::find`], using and updating `memo` (for template `idx`).
    fn find_memo(&self, line: &str, idx: usize, memo: &mut DateMemo) -> Option<(usize, usize)> {
        if !(self.memo_ok && self.line_begin) {
            return self.find(line);
        }
        let m0 = self.re.find(line)?;
        let key = &line[..m0.end()];
        let g = if memo.template == idx && memo.key == key {
            memo.group
        } else {
            let caps = self.re.captures(line)?;
            let c0 = caps.get(0)?;
            let g = caps.get(1).unwrap_or(c0);
            memo.template = idx;
            memo.key.clear();
            memo.key.push_str(key);
            memo.group = (g.start(), g.end());
            memo.parsed = None;
            memo.group
        };
        // As in `find`, for a template anchored at the line start.
        let ok_begin =
            !(self.word_begin && is_word_before(line, m0.start()) && is_word_at(line, m0.start()));
        let ok_end =
            !(self.word_end && is_word_before(line, m0.end()) && is_word_at(line, m0.end()));
        (ok_begin && ok_end).then_some(g)
    }

    /// [`Template::parse`], remembered in `memo` (filled by `find_memo`
    /// for this line).
    pub fn parse_memo(
        &self,
        line: &str,
        found: &FoundDate,
        now_wall: i64,
        memo: &mut DateMemo,
    ) -> Option<LogTime> {
        let same = self.memo_ok
            && self.line_begin
            && memo.template == found.template
            && memo.group == (found.start, found.end)
            && line.as_bytes().get(..memo.key.len()) == Some(memo.key.as_bytes());
        if !same {
            return self.parse(line, found, now_wall);
        }
        if let Some(p) = memo.parsed {
            return p;
        }
        let p = self.parse(line, found, now_wall);
        memo.parsed = Some(p);
        p
    }

    /// The first acceptable match at or after `from`: (span of group 1).
    fn find(&self, line: &str) -> Option<(usize, usize)> {
        let mut from = 0;
        while from <= line.len() {
            let caps = self.re.captures_at(line, from)?;
            let m0 = caps.get(0)?;
            let g = caps.get(1).unwrap_or(m0);
            let ok_begin = !(self.word_begin
                && is_word_before(line, m0.start())
                && is_word_at(line, m0.start()));
            let ok_end =
                !(self.word_end && is_word_before(line, m0.end()) && is_word_at(line, m0.end()));
            if ok_begin && ok_end {
                return Some((g.start(), g.end()));
            }
            if self.line_begin {
                return None;
            }
            from = m0.start() + line[m0.start()..].chars().next().map_or(1, char::len_utf8);
        }
        None
    }

    /// Parses the date this template found in `line` at `start`.
    pub fn parse(&self, line: &str, found: &FoundDate, now_wall: i64) -> Option<LogTime> {
        let text = line.get(found.start..found.end)?;
        match self.kind {
            Kind::Epoch { long } => {
                let mut v: f64 = text.parse().ok()?;
                if long && text.len() >= 13 {
                    v /= if text.len() >= 16 && !text.contains('.') {
                        1e6
                    } else {
                        1e3
                    };
                }
                Some(LogTime {
                    wall: v.floor() as i64,
                    offset_min: Some(0),
                    frac: v - v.floor(),
                })
            }
            Kind::Tai64n => {
                let secs = i64::from_str_radix(text.get(2..17)?, 16).ok()?;
                Some(LogTime {
                    wall: secs,
                    offset_min: Some(0),
                    frac: 0.0,
                })
            }
            Kind::Pattern => {
                // Re-run at the match to get the named fields.
                let mut from = 0;
                let caps = loop {
                    let c = self.re.captures_at(line, from)?;
                    let g = c.get(1).or_else(|| c.get(0))?;
                    if g.start() == found.start && g.end() == found.end {
                        break c;
                    }
                    from = c.get(0)?.start() + 1;
                    if from > line.len() {
                        return None;
                    }
                };
                let get = |n: &str| caps.name(n).map(|m| m.as_str().to_string());
                fields_to_time(&get, now_wall)
            }
        }
    }
}

fn unreachable_regex() -> Regex {
    // The fixed patterns above are valid; an empty regex keeps this total.
    Regex::new("").unwrap_or_else(|_| unreachable!("empty regex"))
}

fn flag_prefix(s: &str) -> usize {
    if let Some(t) = s.strip_prefix("(?") {
        let n = t
            .bytes()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
            .count();
        if n > 0 && t.as_bytes().get(n) == Some(&b')') {
            return n + 3;
        }
    }
    0
}

fn strip_flag_group(s: &str) -> &str {
    &s[flag_prefix(s)..]
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}
fn is_word_before(s: &str, i: usize) -> bool {
    s[..i].chars().next_back().is_some_and(is_word)
}
fn is_word_at(s: &str, i: usize) -> bool {
    s[i..].chars().next().is_some_and(is_word)
}

/// Days from 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date of days from 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// fail2ban's `reGroupDictStrptime`.
fn fields_to_time(f: &dyn Fn(&str) -> Option<String>, now_wall: i64) -> Option<LogTime> {
    let num = |n: &str| f(n).and_then(|v| v.trim().parse::<i64>().ok());
    let mut year = num("Y");
    if year.is_none() {
        if let Some(y) = num("y") {
            year = Some(if y <= 2000 { y + 2000 } else { y });
        }
    }
    let month = num("m").or_else(|| {
        f("b").or_else(|| f("B")).and_then(|v: String| {
            let l = v.to_lowercase();
            MONTHS
                .iter()
                .position(|m| l.starts_with(m))
                .map(|i| i as i64 + 1)
        })
    });
    let day = num("d");
    let mut hour = num("H").unwrap_or(0);
    if let Some(i) = num("I") {
        let pm = f("p").map(|p| p.to_lowercase());
        hour = match pm.as_deref() {
            Some("pm") if i != 12 => i + 12,
            Some("pm") => 12,
            _ if i == 12 => 0,
            _ => i,
        };
    }
    let minute = num("M").unwrap_or(0);
    let second = num("S").unwrap_or(0);
    let frac = f("f")
        .map(|v| format!("0.{v}").parse::<f64>().unwrap_or(0.0))
        .unwrap_or(0.0);
    let mut offset = None;
    if let Some(z) = f("z").or_else(|| f("Z")) {
        offset = Some(zone_offset(&z)?);
    }
    let (ny, nm, nd) = civil_from_days(now_wall.div_euclid(86_400));
    let assume_year = year.is_none();
    let y = year.unwrap_or(ny);
    let assume_today = month.is_none() && day.is_none();
    let (m, d) = if assume_today {
        (i64::from(nm), i64::from(nd))
    } else {
        (month?, day?)
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hour > 23 || minute > 59 || second > 61 {
        return None;
    }
    let tod = hour * 3600 + minute * 60 + second;
    let mut wall = days_from_civil(y, m as u32, d as u32) * 86_400 + tod;
    // fail2ban compares with "now" after moving a zoned time to UTC.
    let cmp = wall - i64::from(offset.unwrap_or(0)) * 60;
    if assume_today && cmp > now_wall {
        wall -= 86_400;
    }
    if assume_year && cmp > now_wall + 86_400 {
        wall = days_from_civil(y - 1, m as u32, d as u32) * 86_400 + tod;
    }
    Some(LogTime {
        wall,
        offset_min: offset,
        frac,
    })
}

/// Minutes east of UTC for `Z`, `UTC`, `+0100`, `-05:30`, `CET+0100`, `EST`.
fn zone_offset(z: &str) -> Option<i32> {
    if matches!(z, "Z" | "UTC" | "GMT") {
        return Some(0);
    }
    let split = z.find(['+', '-']).unwrap_or(z.len());
    let (abbr, off) = z.split_at(split);
    let base = if abbr.is_empty() {
        0
    } else {
        abbr_offset(abbr)?
    };
    if off.is_empty() {
        return Some(base);
    }
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let digits: String = off[1..].chars().filter(char::is_ascii_digit).collect();
    let h: i32 = digits.get(..2)?.parse().ok()?;
    let m: i32 = digits.get(2..4).and_then(|s| s.parse().ok()).unwrap_or(0);
    Some(base + sign * (h * 60 + m))
}

fn abbr_offset(a: &str) -> Option<i32> {
    const T: &[(f32, &str)] = &[
        (-12.0, "Y"),
        (-11.0, "X NUT SST"),
        (-10.0, "W CKT HAST HST TAHT TKT"),
        (-9.0, "V AKST GAMT GIT HADT HNY"),
        (-8.0, "U AKDT CIST HAY HNP PST PT"),
        (-7.0, "T HAP HNR MST PDT"),
        (-6.0, "S CST EAST GALT HAR HNC MDT"),
        (-5.0, "R CDT COT EASST ECT EST ET HAC HNE PET"),
        (-4.0, "Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT"),
        (
            -3.0,
            "P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT",
        ),
        (-2.0, "O BRST FNT PMDT UYST WGST"),
        (-1.0, "N AZOT CVT EGT"),
        (0.0, "Z EGST GMT UTC WET WT"),
        (1.0, "A CET DFT WAT WEDT WEST"),
        (2.0, "B CAT CEDT CEST EET SAST WAST"),
        (3.0, "C EAT EEDT EEST IDT MSK"),
        (4.0, "D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT"),
        (
            5.0,
            "E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT",
        ),
        (6.0, "F ALMT BIOT BTT IOT KGT NOVT OMST YEKST"),
        (7.0, "G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB"),
        (
            8.0,
            "H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST",
        ),
        (9.0, "I AWDT IRKST JST KST PWT TLT WDT WIT YAKT"),
        (10.0, "K AEST ChST PGT VLAT YAKST YAPT"),
        (11.0, "L AEDT LHDT MAGT NCT PONT SBT VLAST VUT"),
        (
            12.0,
            "M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT",
        ),
        (13.0, "FJST NZDT"),
        (11.5, "NFT"),
        (10.5, "ACDT LHST"),
        (9.5, "ACST"),
        (6.5, "CCT MMT"),
        (5.75, "NPT"),
        (5.5, "SLT"),
        (4.5, "AFT IRDT"),
        (3.5, "IRST"),
        (-2.5, "HAT NDT"),
        (-3.5, "HNT NST NT"),
        (-4.5, "HLV VET"),
        (-9.5, "MART MIT"),
    ];
    T.iter()
        .find(|(_, names)| names.split(' ').any(|n| n == a))
        .map(|(h, _)| (h * 60.0) as i32)
}

/// fail2ban's default templates (`DateDetectorCache.DEFAULT_TEMPLATES`).
/// fail2ban requires both separators of `2005-08-14` to be the same (a
/// back-reference); here either of `-/.` is accepted in each place.
const DEFAULTS: [&str; 17] = [
    r"%ExY[-/.]%m[-/.]%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?",
    r"%d[-/]%m[-/](?:%ExY|%Exy) %k:%M:%S",
    r"%d[-/]%b[-/]%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
    r"%m/%d/%ExY:%H:%M:%S",
    r"%m-%d-%ExY %k:%M:%S(?:\.%f)?",
    "EPOCH",
    r"{^LN-BEG}%H:%M:%S",
    r"^<%m/%d/%Exy@%H:%M:%S>",
    r"%Exy%Exm%Exd  ?%H:%M:%S",
    r"%b %d, %ExY %I:%M:%S %p",
    r"^%b-%d-%Exy %k:%M:%S",
    r"%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    "TAI64N",
];

fn default_template(p: &str, anchored: bool, year: i32) -> Result<Template, String> {
    match (p, anchored) {
        ("EPOCH", a) => Ok(Template::epoch(a, false)),
        ("TAI64N", a) => Ok(Template::tai64n(a)),
        (p, true) => Template::pattern(&format!("{{^LN-BEG}}{p}"), year),
        (p, false) => Template::pattern(p, year),
    }
}

/// fail2ban's default template list: the line-anchored twins (of templates
/// not anchored already) first, then the templates themselves.
fn defaults(year: i32, only_line_begin: bool) -> Result<Vec<Template>, String> {
    let mut first = Vec::new();
    let mut rest = Vec::new();
    for p in DEFAULTS {
        let t = default_template(p, false, year)?;
        if !t.line_begin {
            first.push(default_template(p, true, year)?);
        }
        rest.push(t);
    }
    first.extend(rest);
    if only_line_begin {
        first.retain(|t| t.line_begin);
    }
    Ok(first)
}

/// The date templates of one filter.
#[derive(Debug, Clone)]
pub struct DateDetector {
    pub templates: Vec<Template>,
}

impl DateDetector {
    /// From a filter's `datepattern` (one pattern per line; `None`: the
    /// defaults). `year` is the current year (for `%ExY`).
    pub fn new(datepattern: Option<&str>, year: i32) -> Result<DateDetector, String> {
        let mut templates = Vec::new();
        let pats: Vec<&str> = datepattern
            .map(|d| {
                d.split('\n')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if pats.is_empty() {
            templates = defaults(year, false)?;
        }
        for p in pats {
            let key = if p.contains('%') {
                p.to_string()
            } else {
                p.to_uppercase()
            };
            match key.as_str() {
                "{^LN-BEG}" => templates.extend(defaults(year, true)?),
                "{DEFAULT}" => templates.extend(defaults(year, false)?),
                "{NONE}" => templates.push(Template::pattern("{UNB}^", year)?),
                "EPOCH" => templates.push(Template::epoch(false, false)),
                "{^LN-BEG}EPOCH" | "^EPOCH" => templates.push(Template::epoch(true, false)),
                "LEPOCH" => templates.push(Template::epoch(false, true)),
                "{^LN-BEG}LEPOCH" | "^LEPOCH" => templates.push(Template::epoch(true, true)),
                "TAI64N" => templates.push(Template::tai64n(false)),
                "{^LN-BEG}TAI64N" | "^TAI64N" => templates.push(Template::tai64n(true)),
                _ if key.to_uppercase().contains("{DATE}") => {
                    let at = key.to_uppercase().find("{DATE}").unwrap_or(0);
                    for d in DEFAULTS {
                        if d == "EPOCH" || d == "TAI64N" {
                            continue;
                        }
                        let unbound = d.trim_start_matches("{^LN-BEG}");
                        let composed = format!("{}{}{}", &p[..at], unbound, &p[at + 6..]);
                        templates.push(Template::pattern(&composed, year)?);
                    }
                }
                _ => templates.push(Template::pattern(p, year)?),
            }
        }
        Ok(DateDetector { templates })
    }

    /// [`DateDetector::find`] with a [`DateMemo`] kept across lines.
    pub fn find_memo(
        &self,
        line: &str,
        hint: Option<usize>,
        memo: &mut DateMemo,
    ) -> Option<FoundDate> {
        let found = |i: usize, (start, end): (usize, usize)| FoundDate {
            start,
            end,
            template: i,
        };
        if let Some(h) = hint {
            if let Some(t) = self.templates.get(h) {
                if t.line_begin {
                    if let Some(g) = t.find_memo(line, h, memo) {
                        return Some(found(h, g));
                    }
                }
            }
        }
        let mut best: Option<FoundDate> = None;
        for (i, t) in self.templates.iter().enumerate() {
            if let Some(g) = t.find_memo(line, i, memo) {
                if t.line_begin {
                    return Some(found(i, g));
                }
                if best.is_none_or(|b| g.0 < b.start) {
                    best = Some(found(i, g));
                }
            }
        }
        best
    }

    /// Finds the date in a line: the first line-anchored template that
    /// matches, else the match nearest the start (earliest template on ties).
    /// `hint` is the template that matched last (tried first when anchored).
    pub fn find(&self, line: &str, hint: Option<usize>) -> Option<FoundDate> {
        if let Some(h) = hint {
            if let Some(t) = self.templates.get(h) {
                if t.line_begin {
                    if let Some((s, e)) = t.find(line) {
                        return Some(FoundDate {
                            start: s,
                            end: e,
                            template: h,
                        });
                    }
                }
            }
        }
        let mut best: Option<FoundDate> = None;
        for (i, t) in self.templates.iter().enumerate() {
            if let Some((s, e)) = t.find(line) {
                if t.line_begin {
                    return Some(FoundDate {
                        start: s,
                        end: e,
                        template: i,
                    });
                }
                if best.is_none_or(|b| s < b.start) {
                    best = Some(FoundDate {
                        start: s,
                        end: e,
                        template: i,
                    });
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_124_013_600 + 7200; // 2005-08-14 12:00 wall clock (CEST)

    fn wall(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s
    }

    #[test]
    fn syslog_date_is_found_at_the_start_and_cut() {
        let dd = DateDetector::new(Some("{^LN-BEG}"), 2026).unwrap();
        let line = "Jan  4 13:03:14 host sshd[1]: Failed password";
        let f = dd.find(line, None).unwrap();
        assert_eq!(&line[f.start..f.end], "Jan  4 13:03:14");
        let t = dd.templates[f.template].parse(line, &f, NOW).unwrap();
        assert_eq!(t.wall, wall(2005, 1, 4, 13, 3, 14));
        // A date after "now" belongs to last year.
        let line = "Dec 31 23:59:59 host x";
        let f = dd.find(line, None).unwrap();
        let t = dd.templates[f.template].parse(line, &f, NOW).unwrap();
        assert_eq!(t.wall, wall(2004, 12, 31, 23, 59, 59));
    }

    #[test]
    fn iso_and_apache_and_epoch() {
        let dd = DateDetector::new(None, 2026).unwrap();
        let line = "1.2.3.4 - - [10/Oct/2005:13:55:36 -0700] \"GET / HTTP/1.0\"";
        let f = dd.find(line, None).unwrap();
        assert_eq!(&line[f.start..f.end], "10/Oct/2005:13:55:36 -0700");
        let t = dd.templates[f.template].parse(line, &f, NOW).unwrap();
        assert_eq!(t.unix(0), wall(2005, 10, 10, 20, 55, 36));
        let line = "2005-08-14T11:59:00.123+02:00 host x";
        let f = dd.find(line, None).unwrap();
        assert_eq!(&line[f.start..f.end], "2005-08-14T11:59:00.123+02:00");
        let line = "1124013541 foo";
        let f = dd.find(line, None).unwrap();
        let t = dd.templates[f.template].parse(line, &f, NOW).unwrap();
        assert_eq!(t.unix(0), 1_124_013_541);
    }

    #[test]
    fn custom_patterns() {
        let dd = DateDetector::new(Some(r"^%%Y-%%m-%%d %%H:%%M:%%S"), 2026);
        assert!(dd.is_ok());
        assert!(DateDetector::new(Some("%Q"), 2026).is_err());
        let dd = DateDetector::new(Some("{NONE}"), 2026).unwrap();
        let f = dd.find("abc", None).unwrap();
        assert_eq!((f.start, f.end), (0, 0));
    }
}
