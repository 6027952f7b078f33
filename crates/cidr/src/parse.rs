//! Reading address lists: one network, address or range per line, `#` and
//! `;` comments, blank lines. Parsing works on bytes (no UTF-8 decoding on
//! the hot path) and never panics; a bad line yields a located error and
//! reading goes on.

use crate::interval::Interval;
use std::io::{self, BufRead};
use std::net::Ipv6Addr;

/// One parsed line of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    V4(Interval<u32>),
    V6(Interval<u128>),
}

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    #[error("expected an IPv4 or IPv6 address, network (ADDR/LEN) or range (ADDR-ADDR)")]
    ExpectedAddress,
    #[error("invalid IPv4 address")]
    BadIpv4,
    #[error("invalid IPv6 address")]
    BadIpv6,
    #[error("leading zero in an IPv4 address (octal or decimal?)")]
    LeadingZero,
    #[error("expected a prefix length after `/`")]
    ExpectedPrefixLen,
    #[error("prefix length {len} is longer than {bits} bits")]
    PrefixTooLong { len: u32, bits: u8 },
    #[error("netmask is not contiguous")]
    NonContiguousMask,
    #[error("range start is after its end")]
    ReversedRange,
    #[error("range mixes IPv4 and IPv6")]
    MixedRange,
    #[error("unexpected text after the address (comments start with `#` or `;`)")]
    Trailing,
}

/// A parse error inside one line: byte offsets `start..end` of the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (bytes {start}..{end})")]
pub struct ParseError {
    pub kind: ErrorKind,
    pub start: usize,
    pub end: usize,
}

/// A bad line of a list, located and ready to be shown with a caret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {kind}")]
pub struct LineError {
    /// 1-based line number.
    pub line: u64,
    /// 1-based column, in characters.
    pub column: u32,
    /// Width of the offending text, in characters (at least 1).
    pub width: u32,
    /// The line (without its end of line; invalid UTF-8 replaced).
    pub text: String,
    pub kind: ErrorKind,
}

impl LineError {
    fn new(line_no: u64, line: &[u8], e: ParseError) -> Self {
        let text = String::from_utf8_lossy(line).into_owned();
        let chars = |b: &[u8]| String::from_utf8_lossy(b).chars().count();
        let start = e.start.min(line.len());
        let end = e.end.clamp(start, line.len());
        LineError {
            line: line_no,
            column: u32::try_from(chars(&line[..start]) + 1).unwrap_or(u32::MAX),
            width: u32::try_from(chars(&line[start..end]).max(1)).unwrap_or(u32::MAX),
            text,
            kind: e.kind,
        }
    }
}

fn is_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn err(kind: ErrorKind, start: usize, end: usize) -> ParseError {
    ParseError { kind, start, end }
}

/// Parses one line (without or with its `\n`/`\r\n`): `Ok(None)` for blank
/// and comment lines.
///
/// Accepted: `ADDR`, `ADDR/LEN`, `IPV4/NETMASK` (contiguous), `ADDR-ADDR`
/// (spaces around `-` allowed), for IPv4 and IPv6, followed by nothing or
/// a comment starting with `#` or `;`. Host bits of `ADDR/LEN` are masked
/// off, as the kernel does.
pub fn parse_line(line: &[u8]) -> Result<Option<Entry>, ParseError> {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    let line = &line[..end];
    let mut i = 0;
    while i < line.len() && is_space(line[i]) {
        i += 1;
    }
    if i == line.len() || line[i] == b'#' || line[i] == b';' {
        return Ok(None);
    }
    let (first, after) = parse_addr(line, i)?;
    let mut j = after;
    let entry = match line.get(j) {
        Some(b'/') => {
            let (len, e) = parse_len(line, j + 1, &first)?;
            j = e;
            // parse_len has checked the length against the family width.
            let too_long = err(ErrorKind::ExpectedPrefixLen, i, j);
            match first {
                Ip::V4(a) => Entry::V4(Interval::prefix(a, len).ok_or(too_long)?),
                Ip::V6(a) => Entry::V6(Interval::prefix(a, len).ok_or(too_long)?),
            }
        }
        _ => {
            // A range, possibly with spaces around the dash.
            let mut k = j;
            while k < line.len() && is_space(line[k]) {
                k += 1;
            }
            if line.get(k) == Some(&b'-') {
                k += 1;
                while k < line.len() && is_space(line[k]) {
                    k += 1;
                }
                let (second, e) = parse_addr(line, k)?;
                let entry = match (first, second) {
                    (Ip::V4(a), Ip::V4(b)) => Interval::new(a, b).map(Entry::V4),
                    (Ip::V6(a), Ip::V6(b)) => Interval::new(a, b).map(Entry::V6),
                    _ => return Err(err(ErrorKind::MixedRange, i, e)),
                };
                j = e;
                entry.ok_or(err(ErrorKind::ReversedRange, i, e))?
            } else {
                match first {
                    Ip::V4(a) => Entry::V4(Interval::single(a)),
                    Ip::V6(a) => Entry::V6(Interval::single(a)),
                }
            }
        }
    };
    // Only a comment may follow.
    let mut k = j;
    while k < line.len() && is_space(line[k]) {
        k += 1;
    }
    match line.get(k) {
        None | Some(b'#' | b';') => Ok(Some(entry)),
        Some(_) => {
            let mut e = k;
            while e < line.len() && !is_space(line[e]) {
                e += 1;
            }
            Err(err(ErrorKind::Trailing, k, e))
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Ip {
    V4(u32),
    V6(u128),
}

/// Parses an address starting at `i`; returns it and the offset after it.
fn parse_addr(line: &[u8], i: usize) -> Result<(Ip, usize), ParseError> {
    let mut e = i;
    let mut colon = false;
    while e < line.len() {
        match line[e] {
            b'0'..=b'9' | b'.' => {}
            b'a'..=b'f' | b'A'..=b'F' | b':' => colon |= line[e] == b':',
            _ => break,
        }
        e += 1;
    }
    let word = !colon && line[i..e].iter().any(u8::is_ascii_alphabetic);
    if e == i || word {
        let mut end = i;
        while end < line.len() && !is_space(line[end]) {
            end += 1;
        }
        return Err(err(ErrorKind::ExpectedAddress, i, end.max(i + 1)));
    }
    let tok = &line[i..e];
    if colon {
        // The token is ASCII by construction.
        let s = std::str::from_utf8(tok).map_err(|_| err(ErrorKind::BadIpv6, i, e))?;
        let a: Ipv6Addr = s.parse().map_err(|_| err(ErrorKind::BadIpv6, i, e))?;
        return Ok((Ip::V6(u128::from(a)), e));
    }
    parse_v4(tok)
        .map(|a| (Ip::V4(a), e))
        .map_err(|k| err(k, i, e))
}

/// `a.b.c.d`, decimal, no leading zeros.
fn parse_v4(tok: &[u8]) -> Result<u32, ErrorKind> {
    let mut out = 0u32;
    let mut parts = 0;
    for part in tok.split(|&b| b == b'.') {
        parts += 1;
        if parts > 4 || part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return Err(ErrorKind::BadIpv4);
        }
        if part.len() > 1 && part[0] == b'0' {
            return Err(ErrorKind::LeadingZero);
        }
        let v = part
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
        if v > 255 {
            return Err(ErrorKind::BadIpv4);
        }
        out = out << 8 | v;
    }
    if parts == 4 {
        Ok(out)
    } else {
        Err(ErrorKind::BadIpv4)
    }
}

/// A prefix length (or, for IPv4, a contiguous dotted netmask) at `i`.
fn parse_len(line: &[u8], i: usize, addr: &Ip) -> Result<(u8, usize), ParseError> {
    let mut e = i;
    while e < line.len() && (line[e].is_ascii_digit() || line[e] == b'.') {
        e += 1;
    }
    let tok = &line[i..e];
    if tok.is_empty() {
        return Err(err(
            ErrorKind::ExpectedPrefixLen,
            i.saturating_sub(1),
            i + 1,
        ));
    }
    let bits = match addr {
        Ip::V4(_) => 32,
        Ip::V6(_) => 128,
    };
    if tok.contains(&b'.') {
        if bits != 32 {
            return Err(err(ErrorKind::ExpectedPrefixLen, i, e));
        }
        let m = parse_v4(tok).map_err(|k| err(k, i, e))?;
        let ones = m.leading_ones();
        if m.checked_shl(ones).unwrap_or(0) != 0 {
            return Err(err(ErrorKind::NonContiguousMask, i, e));
        }
        return Ok((u8::try_from(ones).unwrap_or(32), e));
    }
    if tok.len() > 1 && tok[0] == b'0' || tok.len() > 3 {
        return Err(err(ErrorKind::ExpectedPrefixLen, i, e));
    }
    let len = tok
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    if len > u32::from(bits) {
        return Err(err(ErrorKind::PrefixTooLong { len, bits }, i, e));
    }
    Ok((u8::try_from(len).unwrap_or(bits), e))
}

/// Reads a list line by line from any buffered reader (a file, stdin, a
/// byte slice), calling `f(line_number, result)` for every line that holds
/// an entry or an error (blank and comment lines are skipped). Stops only
/// on an I/O error; returns the number of lines read.
pub fn read_list<R: BufRead>(
    mut r: R,
    mut f: impl FnMut(u64, Result<Entry, LineError>),
) -> io::Result<u64> {
    let mut buf = Vec::with_capacity(256);
    let mut n = 0u64;
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            return Ok(n);
        }
        n += 1;
        match parse_line(&buf) {
            Ok(Some(e)) => f(n, Ok(e)),
            Ok(None) => {}
            Err(e) => {
                let mut end = buf.len();
                while end > 0 && matches!(buf[end - 1], b'\n' | b'\r') {
                    end -= 1;
                }
                f(n, Err(LineError::new(n, &buf[..end], e)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Entry {
        match parse_line(s.as_bytes()) {
            Ok(Some(e)) => e,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn iv4(lo: [u8; 4], hi: [u8; 4]) -> Entry {
        Entry::V4(Interval::new(u32::from_be_bytes(lo), u32::from_be_bytes(hi)).expect("lo<=hi"))
    }

    fn kind(s: &str) -> (ErrorKind, usize, usize) {
        match parse_line(s.as_bytes()) {
            Err(e) => (e.kind, e.start, e.end),
            other => panic!("{s}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(v4("10.0.0.1"), iv4([10, 0, 0, 1], [10, 0, 0, 1]));
        assert_eq!(
            v4("  10.1.2.3/8 \r\n"),
            iv4([10, 0, 0, 0], [10, 255, 255, 255])
        );
        assert_eq!(
            v4("10.0.0.0/255.255.255.0"),
            iv4([10, 0, 0, 0], [10, 0, 0, 255])
        );
        assert_eq!(v4("10.0.0.1-10.0.0.9"), iv4([10, 0, 0, 1], [10, 0, 0, 9]));
        assert_eq!(
            v4("10.0.0.1 - 10.0.0.9 # c"),
            iv4([10, 0, 0, 1], [10, 0, 0, 9])
        );
        assert_eq!(v4("1.2.3.0/24 ; SBL123"), iv4([1, 2, 3, 0], [1, 2, 3, 255]));
        assert_eq!(v4("0.0.0.0/0"), iv4([0; 4], [255; 4]));
        assert_eq!(v4("\t1.2.3.4\t#x"), iv4([1, 2, 3, 4], [1, 2, 3, 4]));
        assert_eq!(
            v4("2001:db8::/32"),
            Entry::V6(
                Interval::new(
                    0x2001_0db8u128 << 96,
                    (0x2001_0db8u128 << 96) | (u128::MAX >> 32)
                )
                .expect("ok")
            )
        );
        assert_eq!(
            v4("::/0"),
            Entry::V6(Interval::new(0, u128::MAX).expect("ok"))
        );
        assert_eq!(v4("::1-::3"), Entry::V6(Interval::new(1, 3).expect("ok")));
        assert!(matches!(v4("::ffff:1.2.3.4"), Entry::V6(_)));
    }

    #[test]
    fn blank_and_comment_lines() {
        for s in ["", "\n", "  \r\n", "# x", "; y", "   # z"] {
            assert_eq!(parse_line(s.as_bytes()), Ok(None), "{s:?}");
        }
    }

    #[test]
    fn errors_are_located() {
        assert_eq!(kind("10.0.0.256"), (ErrorKind::BadIpv4, 0, 10));
        assert_eq!(kind("  1.2.3"), (ErrorKind::BadIpv4, 2, 7));
        assert_eq!(kind("010.0.0.1"), (ErrorKind::LeadingZero, 0, 9));
        assert_eq!(
            kind("1.2.3.4/33"),
            (ErrorKind::PrefixTooLong { len: 33, bits: 32 }, 8, 10)
        );
        assert_eq!(
            kind("::/129"),
            (
                ErrorKind::PrefixTooLong {
                    len: 129,
                    bits: 128
                },
                3,
                6
            )
        );
        assert_eq!(kind("1.2.3.4/"), (ErrorKind::ExpectedPrefixLen, 7, 9));
        assert_eq!(
            kind("1.2.3.4/255.0.255.0"),
            (ErrorKind::NonContiguousMask, 8, 19)
        );
        assert_eq!(kind("1.2.3.9-1.2.3.4"), (ErrorKind::ReversedRange, 0, 15));
        assert_eq!(kind("1.2.3.4-::1"), (ErrorKind::MixedRange, 0, 11));
        assert_eq!(kind("1.2.3.4 junk"), (ErrorKind::Trailing, 8, 12));
        assert_eq!(kind("hello"), (ErrorKind::ExpectedAddress, 0, 5));
        assert_eq!(kind("1::2::3"), (ErrorKind::BadIpv6, 0, 7));
        assert_eq!(kind("fe80::1%eth0"), (ErrorKind::Trailing, 7, 12));
        assert_eq!(kind("1.2.3.4/-1").0, ErrorKind::ExpectedPrefixLen);
        assert_eq!(kind("1.2.3.4/0032").0, ErrorKind::ExpectedPrefixLen);
        assert_eq!(kind("1.2.3.4/99999999999").0, ErrorKind::ExpectedPrefixLen);
        assert_eq!(kind("\u{2013}1.2.3.4").0, ErrorKind::ExpectedAddress);
    }

    #[test]
    fn read_list_keeps_going_and_locates_errors() {
        let text = "10.0.0.0/8\nbad line\n# c\n\n10.0.0.999\n\u{e9}1.2.3.4\n::1";
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        let n = read_list(text.as_bytes(), |line, r| match r {
            Ok(e) => ok.push((line, e)),
            Err(e) => bad.push(e),
        })
        .expect("in-memory read");
        assert_eq!(n, 7);
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].0, 7);
        let lines: Vec<(u64, u32, u32)> = bad.iter().map(|e| (e.line, e.column, e.width)).collect();
        assert_eq!(lines, [(2, 1, 3), (5, 1, 10), (6, 1, 8)]);
        assert_eq!(bad[0].text, "bad line");
    }

    #[test]
    fn invalid_utf8_never_panics() {
        let mut bad = 0;
        read_list(&b"\xff\xfe1.2.3.4\n1.2.3.4 \xc3\n"[..], |_, r| {
            if let Err(e) = r {
                assert!(e.column >= 1);
                bad += 1;
            }
        })
        .expect("in-memory read");
        assert_eq!(bad, 2);
    }
}
