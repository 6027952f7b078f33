//! A parser for conntrack's text dumps: `conntrack -L` lines and
//! `/proc/net/nf_conntrack` lines (the same fields behind a family
//! prefix). The daemon reads conntrack over netlink; this parser is for
//! tests, benchmarks and `conntrack -L` output an admin pastes. It never
//! panics: a line it cannot read is an error naming what is wrong, and the
//! caller goes on with the next line.
//!
//! ```text
//! tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=51234 dport=22 src=10.0.0.2 dst=10.0.0.1 sport=22 dport=51234 [ASSURED] mark=0 use=1
//! ipv4     2 tcp      6 59 SYN_RECV src=192.0.2.9 dst=10.0.0.2 sport=4000 dport=80 src=10.0.0.2 dst=192.0.2.9 sport=80 dport=4000 mark=0 zone=0 use=2
//! ```
//!
//! Only the original direction (the first `src=`, `dst=`, `dport=`)
//! counts: that is the peer that opened the connection.
//!
//! [`ConnEntry`] is also what the daemon's netlink source
//! (`rampart_daemon::conntrack`) makes of each ctnetlink entry: a `Copy`
//! value without strings, the state taken with [`TcpState::from_kernel`].

use std::net::IpAddr;

/// One connection as the limits see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnEntry {
    /// Layer-4 protocol number (6 tcp, 17 udp, 1 icmp...).
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Destination port of the original direction, for protocols with
    /// ports.
    pub dport: Option<u16>,
    /// TCP state, for TCP.
    pub state: Option<TcpState>,
}

/// conntrack's TCP states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TcpState {
    SynSent,
    SynRecv,
    Established,
    FinWait,
    CloseWait,
    LastAck,
    TimeWait,
    Close,
    Listen,
    SynSent2,
    Other,
}

impl TcpState {
    /// The state from its number in the kernel's `enum tcp_conntrack`
    /// (what ctnetlink's `CTA_PROTOINFO_TCP_STATE` carries). 9 is
    /// `SYN_SENT2`, the slot `conntrack -L` prints as `LISTEN`.
    pub fn from_kernel(n: u8) -> TcpState {
        match n {
            1 => TcpState::SynSent,
            2 => TcpState::SynRecv,
            3 => TcpState::Established,
            4 => TcpState::FinWait,
            5 => TcpState::CloseWait,
            6 => TcpState::LastAck,
            7 => TcpState::TimeWait,
            8 => TcpState::Close,
            9 => TcpState::SynSent2,
            _ => TcpState::Other,
        }
    }

    fn parse(s: &str) -> TcpState {
        match s {
            "SYN_SENT" => TcpState::SynSent,
            "SYN_RECV" => TcpState::SynRecv,
            "ESTABLISHED" => TcpState::Established,
            "FIN_WAIT" => TcpState::FinWait,
            "CLOSE_WAIT" => TcpState::CloseWait,
            "LAST_ACK" => TcpState::LastAck,
            "TIME_WAIT" => TcpState::TimeWait,
            "CLOSE" => TcpState::Close,
            "LISTEN" => TcpState::Listen,
            "SYN_SENT2" => TcpState::SynSent2,
            _ => TcpState::Other,
        }
    }
}

/// Why a line is not a connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnParseError {
    #[error("not UTF-8")]
    NotText,
    #[error("empty line")]
    Empty,
    #[error("expected a protocol name and number at the start")]
    NoProtocol,
    #[error("no {0}= field")]
    Missing(&'static str),
    #[error("bad {field}= value {value:?}")]
    BadValue { field: &'static str, value: String },
}

/// Parses one line (without its newline).
pub fn parse_line(line: &[u8]) -> Result<ConnEntry, ConnParseError> {
    let text = std::str::from_utf8(line).map_err(|_| ConnParseError::NotText)?;
    let mut words = text.split_ascii_whitespace().peekable();
    let first = words.next().ok_or(ConnParseError::Empty)?;
    // /proc/net/nf_conntrack: "ipv4 2 tcp 6 ..."; conntrack -L: "tcp 6 ...".
    let proto_name = if first == "ipv4" || first == "ipv6" {
        words.next().ok_or(ConnParseError::NoProtocol)?;
        words.next().ok_or(ConnParseError::NoProtocol)?
    } else {
        first
    };
    if proto_name.contains('=') {
        return Err(ConnParseError::NoProtocol);
    }
    let proto: u8 = words
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or(ConnParseError::NoProtocol)?;
    let (mut src, mut dst, mut dport, mut state) = (None, None, None, None);
    for w in words {
        match w.split_once('=') {
            Some(("src", v)) if src.is_none() => {
                src = Some(parse_addr("src", v)?);
            }
            Some(("dst", v)) if dst.is_none() => {
                dst = Some(parse_addr("dst", v)?);
            }
            Some(("dport", v)) if dport.is_none() => {
                dport = Some(v.parse::<u16>().map_err(|_| ConnParseError::BadValue {
                    field: "dport",
                    value: v.to_string(),
                })?);
            }
            Some(_) => {}
            None => {
                if src.is_none()
                    && proto == 6
                    && w.bytes()
                        .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit())
                    && w.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
                {
                    state = Some(TcpState::parse(w));
                }
            }
        }
        if src.is_some() && dst.is_some() && dport.is_some() {
            break;
        }
    }
    Ok(ConnEntry {
        proto,
        src: src.ok_or(ConnParseError::Missing("src"))?,
        dst: dst.ok_or(ConnParseError::Missing("dst"))?,
        dport,
        state,
    })
}

fn parse_addr(field: &'static str, v: &str) -> Result<IpAddr, ConnParseError> {
    if let Some(a) = parse_v4(v.as_bytes()) {
        return Ok(IpAddr::V4(a));
    }
    v.parse::<IpAddr>()
        .map(crate::net::canonical)
        .map_err(|_| ConnParseError::BadValue {
            field,
            value: v.to_string(),
        })
}

/// Dotted-quad IPv4 without the general parser (the hot path of a dump);
/// `None` sends anything else to `IpAddr::from_str`, which decides.
fn parse_v4(b: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    let mut val: u16 = 0;
    let mut digits = 0;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                // No leading zeros (as std refuses them) and at most 3 digits.
                if digits == 3 || (digits == 1 && val == 0) {
                    return None;
                }
                val = val * 10 + u16::from(c - b'0');
                digits += 1;
            }
            b'.' => {
                if digits == 0 || i == 3 {
                    return None;
                }
                octets[i] = u8::try_from(val).ok()?;
                i += 1;
                val = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if i != 3 || digits == 0 {
        return None;
    }
    octets[3] = u8::try_from(val).ok()?;
    Some(std::net::Ipv4Addr::from(octets))
}

/// Parses a whole dump, line by line: the connections, and the bad lines
/// as (line number from 1, error). Blank lines and conntrack's summary
/// line ("conntrack v1.4.7 (conntrack-tools): 12 flow entries have been
/// shown.") are skipped.
pub fn parse_dump(text: &[u8]) -> (Vec<ConnEntry>, Vec<(usize, ConnParseError)>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) || line.starts_with(b"conntrack v") {
            continue;
        }
        match parse_line(line) {
            Ok(e) => out.push(e),
            Err(e) => errors.push((i + 1, e)),
        }
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conntrack_l_and_proc_lines() {
        let e = parse_line(b"tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=51234 dport=22 src=10.0.0.2 dst=10.0.0.1 sport=22 dport=51234 [ASSURED] mark=0 use=1").expect("parses");
        assert_eq!(e.proto, 6);
        assert_eq!(e.src.to_string(), "10.0.0.1");
        assert_eq!(e.dst.to_string(), "10.0.0.2");
        assert_eq!(e.dport, Some(22));
        assert_eq!(e.state, Some(TcpState::Established));
        let e = parse_line(b"ipv6     10 tcp      6 59 SYN_RECV src=2001:db8::9 dst=2001:db8::1 sport=4000 dport=80 src=2001:db8::1 dst=2001:db8::9 sport=80 dport=4000 mark=0 zone=0 use=2").expect("parses");
        assert_eq!(e.state, Some(TcpState::SynRecv));
        assert_eq!(e.src.to_string(), "2001:db8::9");
        let e = parse_line(b"udp      17 29 src=192.0.2.1 dst=192.0.2.2 sport=5353 dport=53 [UNREPLIED] src=192.0.2.2 dst=192.0.2.1 sport=53 dport=5353 mark=0 use=1").expect("parses");
        assert_eq!((e.proto, e.dport, e.state), (17, Some(53), None));
        let e = parse_line(b"icmp     1 29 src=192.0.2.1 dst=192.0.2.2 type=8 code=0 id=7 src=192.0.2.2 dst=192.0.2.1 type=0 code=0 id=7 mark=0 use=1").expect("parses");
        assert_eq!((e.proto, e.dport), (1, None));
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        for (line, want) in [
            (&b""[..], ConnParseError::Empty),
            (b"hello", ConnParseError::NoProtocol),
            (b"tcp x 1 src=1.2.3.4", ConnParseError::NoProtocol),
            (
                b"tcp 6 1 ESTABLISHED dst=1.2.3.4",
                ConnParseError::Missing("src"),
            ),
            (b"\xff\xfe", ConnParseError::NotText),
        ] {
            assert_eq!(
                parse_line(line),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        assert!(matches!(
            parse_line(b"tcp 6 1 SYN_SENT src=1.2.3.999 dst=1.2.3.4 dport=1"),
            Err(ConnParseError::BadValue { field: "src", .. })
        ));
        let (ok, bad) = parse_dump(b"tcp 6 1 CLOSE src=1.2.3.4 dst=5.6.7.8 sport=1 dport=2\nnonsense\n\nconntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.\n");
        assert_eq!(ok.len(), 1);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 2);
    }

    #[test]
    fn the_fast_ipv4_path_agrees_with_std() {
        for t in [
            "0.0.0.0",
            "1.2.3.4",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "1..3.4",
            "1.2.3.",
            "",
            "1.2.3.1000",
        ] {
            assert_eq!(parse_v4(t.as_bytes()), t.parse().ok(), "{t}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_ipv4_agrees_with_std_on_random_text(t in "[0-9.]{0,16}") {
            proptest::prop_assert_eq!(parse_v4(t.as_bytes()), t.parse().ok());
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = parse_line(&bytes);
            let _ = parse_dump(&bytes);
        }

        #[test]
        fn mutated_lines_never_panic(cut in 0usize..160, byte in proptest::prelude::any::<u8>()) {
            let mut line = b"ipv4 2 tcp 6 59 SYN_RECV src=192.0.2.9 dst=10.0.0.2 sport=4000 dport=80 src=10.0.0.2 dst=192.0.2.9 sport=80 dport=4000".to_vec();
            let at = cut.min(line.len() - 1);
            line[at] = byte;
            let _ = parse_line(&line);
            line.truncate(at);
            let _ = parse_line(&line);
        }
    }
}
