//! The packet model and its one-line syntax
//! (`tcp 203.0.113.5:51515 -> 10.0.0.1:22 in=eth0 flags=SYN`).

use crate::Error;
use rampart_model::matches::tcp::flags;
use rampart_model::{Family, MacAddr, Protocol};
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// Conntrack state of a packet (`-m state` / `-m conntrack --ctstate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CtState {
    New,
    Established,
    Related,
    Invalid,
    Untracked,
}

impl CtState {
    pub fn name(self) -> &'static str {
        match self {
            CtState::New => "NEW",
            CtState::Established => "ESTABLISHED",
            CtState::Related => "RELATED",
            CtState::Invalid => "INVALID",
            CtState::Untracked => "UNTRACKED",
        }
    }

    /// Parses `new`, `established`, `related`, `invalid`, `untracked`
    /// (any case).
    pub fn parse(s: &str) -> Option<CtState> {
        Some(match s.to_ascii_lowercase().as_str() {
            "new" => CtState::New,
            "established" | "est" => CtState::Established,
            "related" => CtState::Related,
            "invalid" => CtState::Invalid,
            "untracked" => CtState::Untracked,
            _ => return None,
        })
    }
}

/// A connection tuple: what an ICMP error quotes, and what conntrack keys on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Tuple {
    pub protocol: u8,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
}

impl Tuple {
    /// The tuple of the other direction.
    pub fn reversed(&self) -> Tuple {
        Tuple {
            protocol: self.protocol,
            src: self.dst,
            sport: self.dport,
            dst: self.src,
            dport: self.sport,
        }
    }
}

/// One packet as netfilter sees it at the first hook it reaches.
///
/// Fields the packet model does not carry (payload, TCP options, IPv6
/// extension headers, the owning socket) make the matches that read them
/// evaluate to "unknown", never to a guess.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number (6 tcp, 17 udp, 1 icmp, 58 ipv6-icmp, ...).
    pub protocol: u8,
    /// Ports (0 for protocols without ports).
    pub sport: u16,
    pub dport: u16,
    /// TCP flags byte (`rampart_model::matches::tcp::flags`).
    pub tcp_flags: u8,
    /// ICMP / ICMPv6 type and code.
    pub icmp_type: u8,
    pub icmp_code: u8,
    /// Input interface; `None` for a packet the host itself sends.
    pub in_iface: Option<String>,
    /// Output interface; `None`: found from the context's routes.
    pub out_iface: Option<String>,
    /// A non-first fragment (`-f`).
    pub fragment: bool,
    /// Length of the IP packet in bytes (`-m length`).
    pub length: u16,
    /// Packet mark (`-m mark`).
    pub mark: u32,
    /// Connection mark (`-m connmark`) when no session tracks the flow.
    pub ct_mark: u32,
    /// Conntrack state; `None`: follows from the session (a lone packet
    /// is NEW).
    pub ct_state: Option<CtState>,
    /// IPv4 TTL / IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 TOS / IPv6 traffic class byte (DSCP << 2 | ECN).
    pub tos: u8,
    /// Source MAC address, when known (`-m mac`).
    pub src_mac: Option<MacAddr>,
    /// For an ICMP error: the header it quotes (conntrack RELATED).
    pub inner: Option<Tuple>,
}

impl Packet {
    /// A packet with defaults: TCP SYN from `src:sport` to `dst:dport`.
    pub fn tcp(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> Packet {
        let mut p = Packet::new(Protocol::TCP.0, src, dst);
        p.sport = sport;
        p.dport = dport;
        p
    }

    /// A packet of `protocol` with default fields (TTL 64, a minimal
    /// length, a TCP SYN, an ICMP echo request).
    pub fn new(protocol: u8, src: IpAddr, dst: IpAddr) -> Packet {
        let v4 = src.is_ipv4();
        let l4 = match protocol {
            6 => 20,
            17 | 136 => 8,
            1 | 58 => 8,
            _ => 0,
        };
        let (icmp_type, tcp_flags) = match protocol {
            1 => (8, 0),
            58 => (128, 0),
            6 => (0, flags::SYN),
            _ => (0, 0),
        };
        Packet {
            src,
            dst,
            protocol,
            sport: 0,
            dport: 0,
            tcp_flags,
            icmp_type,
            icmp_code: 0,
            in_iface: None,
            out_iface: None,
            fragment: false,
            length: if v4 { 20 + l4 } else { 40 + l4 },
            mark: 0,
            ct_mark: 0,
            ct_state: None,
            ttl: 64,
            tos: 0,
            src_mac: None,
            inner: None,
        }
    }

    pub fn family(&self) -> Family {
        if self.src.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    }

    /// Does the protocol carry ports?
    pub fn has_ports(&self) -> bool {
        Protocol(self.protocol).has_ports()
    }

    pub fn is_icmp(&self) -> bool {
        match self.family() {
            Family::Ipv4 => self.protocol == 1,
            Family::Ipv6 => self.protocol == 58,
        }
    }

    /// Is this an ICMP error (destination unreachable, time exceeded,
    /// parameter problem; ICMPv6 types 1-4)?
    pub fn is_icmp_error(&self) -> bool {
        self.is_icmp()
            && match self.family() {
                Family::Ipv4 => matches!(self.icmp_type, 3 | 4 | 5 | 11 | 12),
                Family::Ipv6 => (1..=4).contains(&self.icmp_type),
            }
    }

    /// The conntrack tuple of this packet.
    pub fn tuple(&self) -> Tuple {
        let (sport, dport) = if self.has_ports() {
            (self.sport, self.dport)
        } else if self.is_icmp() && !self.is_icmp_error() {
            // conntrack keys ICMP queries on type (and id, which the model
            // does not carry): the type is kept in `sport`.
            (u16::from(self.icmp_type), 0)
        } else {
            (0, 0)
        };
        Tuple {
            protocol: self.protocol,
            src: self.src,
            sport,
            dst: self.dst,
            dport,
        }
    }

    /// Parses the one-line packet syntax of `rampart why` and the corpus:
    ///
    /// `PROTO SRC[:PORT] -> DST[:PORT] [key=value ...]`
    ///
    /// IPv6 addresses with a port are written `[2001:db8::1]:443`. Keys:
    /// `in`, `out`, `state` (new/established/related/invalid/untracked),
    /// `flags` (`SYN,ACK`; `none`), `icmp-type` (`echo-request` or `3/1`),
    /// `len`, `mark`, `ctmark`, `ttl`, `tos`, `mac`, `frag` (no value),
    /// `inner` (the quoted header of an ICMP error, `PROTO:SRC:PORT>DST:PORT`
    /// with IPv6 in brackets).
    pub fn parse(text: &str) -> Result<Packet, Error> {
        let bad = |pos: usize, message: String| Error::BadPacket {
            input: text.to_string(),
            pos,
            message,
        };
        let words = words(text);
        let Some(&(p0, proto_w)) = words.first() else {
            return Err(bad(0, "empty packet: expected `PROTO SRC -> DST`".into()));
        };
        let protocol = Protocol::parse(proto_w)
            .ok_or_else(|| bad(p0, format!("unknown protocol `{proto_w}`")))?
            .0;
        let (ps, src_w) = *words
            .get(1)
            .ok_or_else(|| bad(text.len(), "expected the source address".into()))?;
        let (pa, arrow) = *words
            .get(2)
            .ok_or_else(|| bad(text.len(), "expected `->` after the source".into()))?;
        if arrow == "-" {
            return Err(bad(
                pa,
                "expected `->`: a shell takes an unquoted `>` as a redirection; quote the arrow ('->') or the whole packet".into(),
            ));
        }
        if arrow != "->" {
            return Err(bad(pa, format!("expected `->`, found `{arrow}`")));
        }
        let (pd, dst_w) = *words
            .get(3)
            .ok_or_else(|| bad(text.len(), "expected the destination address".into()))?;
        let (src, sport) = endpoint(src_w).map_err(|m| bad(ps, m))?;
        let (dst, dport) = endpoint(dst_w).map_err(|m| bad(pd, m))?;
        if src.is_ipv4() != dst.is_ipv4() {
            return Err(bad(
                pd,
                "source and destination are of different families".into(),
            ));
        }
        let has_ports = Protocol(protocol).has_ports();
        if !has_ports && (sport.is_some() || dport.is_some()) {
            return Err(bad(
                ps,
                format!("protocol `{proto_w}` has no ports; write `ADDR -> ADDR`"),
            ));
        }
        let protocol = match (protocol, src.is_ipv4()) {
            (1, false) => 58,
            (58, true) => 1,
            (p, _) => p,
        };
        let mut p = Packet::new(protocol, src, dst);
        p.sport = sport.unwrap_or(0);
        p.dport = dport.unwrap_or(0);
        let mut flags_given = false;
        for &(pos, w) in &words[4..] {
            let (k, v) = match w.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (w, None),
            };
            let need = || v.ok_or_else(|| bad(pos, format!("`{k}` needs a value: `{k}=...`")));
            let num =
                |s: &str| parse_u32(s).ok_or_else(|| bad(pos, format!("`{s}` is not a number")));
            match k {
                "in" => p.in_iface = Some(iface(need()?).map_err(|m| bad(pos, m))?),
                "out" => p.out_iface = Some(iface(need()?).map_err(|m| bad(pos, m))?),
                "state" => {
                    let v = need()?;
                    p.ct_state = Some(CtState::parse(v).ok_or_else(|| {
                        bad(pos, format!("unknown state `{v}` (new, established, related, invalid, untracked)"))
                    })?)
                }
                "flags" => {
                    p.tcp_flags = parse_flags(need()?).map_err(|m| bad(pos, m))?;
                    flags_given = true;
                }
                "icmp-type" => {
                    let (t, c) = parse_icmp_type(need()?, p.family()).map_err(|m| bad(pos, m))?;
                    p.icmp_type = t;
                    p.icmp_code = c;
                }
                "len" => {
                    p.length = u16::try_from(num(need()?)?)
                        .map_err(|_| bad(pos, "length above 65535".into()))?
                }
                "mark" => p.mark = num(need()?)?,
                "ctmark" => p.ct_mark = num(need()?)?,
                "ttl" | "hl" => {
                    p.ttl = u8::try_from(num(need()?)?)
                        .map_err(|_| bad(pos, "TTL above 255".into()))?
                }
                "tos" => {
                    p.tos = u8::try_from(num(need()?)?)
                        .map_err(|_| bad(pos, "TOS above 255".into()))?
                }
                "mac" => {
                    let v = need()?;
                    p.src_mac = Some(
                        MacAddr::parse(v).ok_or_else(|| bad(pos, format!("bad MAC address `{v}`")))?,
                    )
                }
                "frag" if v.is_none() => p.fragment = true,
                "inner" => p.inner = Some(parse_inner(need()?).map_err(|m| bad(pos, m))?),
                _ => {
                    return Err(bad(
                        pos,
                        format!("unknown packet field `{k}` (in, out, state, flags, icmp-type, len, mark, ctmark, ttl, tos, mac, frag, inner)"),
                    ))
                }
            }
        }
        if protocol == 6 && !flags_given {
            p.tcp_flags = match p.ct_state {
                None | Some(CtState::New) => flags::SYN,
                _ => flags::ACK,
            };
        }
        if p.fragment && !p.src.is_ipv4() {
            return Err(bad(0, "`frag` (-f) applies to IPv4 only".into()));
        }
        Ok(p)
    }
}

/// Prints the packet in the syntax [`Packet::parse`] reads (defaults left
/// out).
impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = Protocol(self.protocol)
            .name()
            .map_or_else(|| self.protocol.to_string(), str::to_string);
        let ep = |ip: IpAddr, port: u16| match (ip, self.has_ports()) {
            (IpAddr::V6(a), true) => format!("[{a}]:{port}"),
            (ip, true) => format!("{ip}:{port}"),
            (ip, false) => ip.to_string(),
        };
        write!(
            f,
            "{proto} {} -> {}",
            ep(self.src, self.sport),
            ep(self.dst, self.dport)
        )?;
        if let Some(i) = &self.in_iface {
            write!(f, " in={i}")?;
        }
        if let Some(o) = &self.out_iface {
            write!(f, " out={o}")?;
        }
        if let Some(s) = self.ct_state {
            write!(f, " state={}", s.name().to_ascii_lowercase())?;
        }
        if self.protocol == 6 {
            write!(f, " flags={}", flags_text(self.tcp_flags))?;
        }
        if self.is_icmp() {
            write!(f, " icmp-type={}/{}", self.icmp_type, self.icmp_code)?;
        }
        if self.mark != 0 {
            write!(f, " mark={:#x}", self.mark)?;
        }
        if self.ct_mark != 0 {
            write!(f, " ctmark={:#x}", self.ct_mark)?;
        }
        let defaults = Packet::new(self.protocol, self.src, self.dst);
        if self.length != defaults.length {
            write!(f, " len={}", self.length)?;
        }
        if self.ttl != defaults.ttl {
            write!(f, " ttl={}", self.ttl)?;
        }
        if self.tos != 0 {
            write!(f, " tos={:#x}", self.tos)?;
        }
        if let Some(m) = self.src_mac {
            write!(f, " mac={m}")?;
        }
        if let Some(t) = &self.inner {
            let ep = |ip: IpAddr, port: u16| match ip {
                IpAddr::V6(a) => format!("[{a}]:{port}"),
                a => format!("{a}:{port}"),
            };
            let proto = Protocol(t.protocol)
                .name()
                .map_or_else(|| t.protocol.to_string(), str::to_string);
            write!(
                f,
                " inner={proto}:{}>{}",
                ep(t.src, t.sport),
                ep(t.dst, t.dport)
            )?;
        }
        if self.fragment {
            write!(f, " frag")?;
        }
        Ok(())
    }
}

/// `SYN,ACK` for a flags byte (`none` for 0).
pub fn flags_text(v: u8) -> String {
    let names: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(_, b)| v & b != 0)
        .map(|(n, _)| *n)
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(",")
    }
}

fn words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

fn parse_u32(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn iface(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 15 || s.contains(['/', '+']) || s.contains(char::is_whitespace) {
        return Err(format!(
            "bad interface name `{s}` (1 to 15 bytes, no `/` or `+`)"
        ));
    }
    Ok(s.to_string())
}

/// `ADDR`, `ADDR:PORT`, `[V6]:PORT` or a bare IPv6 address.
fn endpoint(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("bad port `{p}` (0 to 65535)"))
    };
    if let Some(rest) = s.strip_prefix('[') {
        let (a, p) = rest
            .split_once(']')
            .ok_or_else(|| format!("missing `]` in `{s}`"))?;
        let ip: IpAddr = a.parse().map_err(|_| format!("bad address `{a}`"))?;
        return match p.strip_prefix(':') {
            Some(p) => Ok((ip, Some(port(p)?))),
            None if p.is_empty() => Ok((ip, None)),
            None => Err(format!("unexpected `{p}` after `]`")),
        };
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    match s.rsplit_once(':') {
        Some((a, p)) if !a.contains(':') => {
            let ip: IpAddr = a.parse().map_err(|_| format!("bad address `{a}`"))?;
            Ok((ip, Some(port(p)?)))
        }
        _ => Err(format!(
            "bad address `{s}` (write ADDR, ADDR:PORT or [IPV6]:PORT)"
        )),
    }
}

/// `SYN,ACK` or `none`.
pub fn parse_flags(s: &str) -> Result<u8, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(0);
    }
    let mut v = 0;
    for n in s.split(',') {
        let b = flags::NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(n))
            .ok_or_else(|| format!("unknown TCP flag `{n}` (FIN SYN RST PSH ACK URG ECE CWR)"))?;
        v |= b.1;
    }
    Ok(v)
}

const ICMP_NAMES: &[(&str, u8, u8)] = &[
    ("echo-reply", 0, 0),
    ("destination-unreachable", 3, 0),
    ("network-unreachable", 3, 0),
    ("host-unreachable", 3, 1),
    ("protocol-unreachable", 3, 2),
    ("port-unreachable", 3, 3),
    ("fragmentation-needed", 3, 4),
    ("source-quench", 4, 0),
    ("redirect", 5, 0),
    ("echo-request", 8, 0),
    ("router-advertisement", 9, 0),
    ("router-solicitation", 10, 0),
    ("time-exceeded", 11, 0),
    ("ttl-zero-during-transit", 11, 0),
    ("parameter-problem", 12, 0),
    ("timestamp-request", 13, 0),
    ("timestamp-reply", 14, 0),
];

const ICMP6_NAMES: &[(&str, u8, u8)] = &[
    ("destination-unreachable", 1, 0),
    ("no-route", 1, 0),
    ("address-unreachable", 1, 3),
    ("port-unreachable", 1, 4),
    ("packet-too-big", 2, 0),
    ("time-exceeded", 3, 0),
    ("parameter-problem", 4, 0),
    ("echo-request", 128, 0),
    ("echo-reply", 129, 0),
    ("router-solicitation", 133, 0),
    ("router-advertisement", 134, 0),
    ("neighbour-solicitation", 135, 0),
    ("neighbor-solicitation", 135, 0),
    ("neighbour-advertisement", 136, 0),
    ("neighbor-advertisement", 136, 0),
];

/// An ICMP type by name (`echo-request`) or number (`8`, `3/1`).
pub fn parse_icmp_type(s: &str, family: Family) -> Result<(u8, u8), String> {
    let names = match family {
        Family::Ipv4 => ICMP_NAMES,
        Family::Ipv6 => ICMP6_NAMES,
    };
    if let Some(&(_, t, c)) = names.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(s)) {
        return Ok((t, c));
    }
    let (t, c) = s.split_once('/').unwrap_or((s, "0"));
    match (t.parse::<u8>(), c.parse::<u8>()) {
        (Ok(t), Ok(c)) => Ok((t, c)),
        _ => Err(format!(
            "unknown ICMP type `{s}` (a name such as echo-request, or TYPE[/CODE])"
        )),
    }
}

fn parse_inner(s: &str) -> Result<Tuple, String> {
    let (proto, rest) = s
        .split_once(':')
        .ok_or_else(|| format!("bad inner header `{s}` (PROTO:SRC:PORT>DST:PORT)"))?;
    let protocol = Protocol::parse(proto)
        .ok_or_else(|| format!("unknown protocol `{proto}`"))?
        .0;
    let (a, b) = rest
        .split_once('>')
        .ok_or_else(|| format!("bad inner header `{s}`: expected `>`"))?;
    let (src, sport) = endpoint(a)?;
    let (dst, dport) = endpoint(b)?;
    Ok(Tuple {
        protocol,
        src,
        sport: sport.unwrap_or(0),
        dst,
        dport: dport.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_and_prints_back() {
        let p = Packet::parse("tcp 203.0.113.5:51515 -> 10.0.0.1:22 in=eth0").unwrap();
        assert_eq!(p.sport, 51515);
        assert_eq!(p.dport, 22);
        assert_eq!(p.tcp_flags, flags::SYN);
        assert_eq!(p.in_iface.as_deref(), Some("eth0"));
        let again = Packet::parse(&p.to_string()).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn parses_ipv6_icmp_and_options() {
        let p = Packet::parse("icmp 2001:db8::1 -> 2001:db8::2 icmp-type=echo-request").unwrap();
        assert_eq!(p.protocol, 58);
        assert_eq!(p.icmp_type, 128);
        let p =
            Packet::parse("udp [2001:db8::1]:53 -> [2001:db8::2]:5353 state=established").unwrap();
        assert_eq!((p.sport, p.dport), (53, 5353));
        let p = Packet::parse(
            "icmp 10.0.0.1 -> 192.0.2.1 icmp-type=3/3 inner=udp:192.0.2.1:5000>10.0.0.9:53",
        )
        .unwrap();
        assert!(p.is_icmp_error());
        assert_eq!(p.inner.unwrap().dport, 53);
    }

    #[test]
    fn rejects_bad_input_with_position() {
        for (s, pos) in [
            ("", 0),
            ("tcp 1.2.3.4:1 => 5.6.7.8:2", 14),
            ("tcp 1.2.3.4:99999 -> 5.6.7.8:2", 4),
            ("icmp 1.2.3.4:5 -> 5.6.7.8", 5),
            ("tcp 1.2.3.4:1 -> ::1", 17),
            ("tcp 1.2.3.4:1 -> 5.6.7.8:2 colour=red", 27),
            ("bogus 1.2.3.4 -> 5.6.7.8", 0),
        ] {
            match Packet::parse(s) {
                Err(Error::BadPacket { pos: p, .. }) => assert_eq!(p, pos, "{s}"),
                other => panic!("{s}: {other:?}"),
            }
        }
    }
}
