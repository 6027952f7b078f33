//! A connection tracker for replayed packets: the conntrack state each
//! packet would have had in the kernel (`ct state` of nftables,
//! `--ctstate` of iptables), following `nf_conntrack`'s rules closely
//! enough for a firewall policy:
//!
//! * **NEW**: the first packet of a flow, and every packet of it in the
//!   original direction until a reply is seen;
//! * **ESTABLISHED**: a reply, and everything after it in either direction;
//! * **RELATED**: an ICMP/ICMPv6 error whose quoted packet belongs to a
//!   tracked flow;
//! * **INVALID**: what conntrack refuses to track: TCP flag combinations
//!   the kernel rejects (SYN+FIN, SYN+RST, no flag...), a TCP packet that
//!   cannot open a flow (SYN+ACK, FIN, RST without a flow; a bare ACK too
//!   when `tcp_loose` is off), an ICMP error quoting nothing tracked, an
//!   ICMP echo reply without its request or another ICMP type that cannot
//!   start a flow;
//! * **UNTRACKED**: IPv6 neighbour discovery and multicast listener
//!   messages (the kernel does not track them).
//!
//! Flows expire after the timeouts of [`Timeouts`] (the kernel's defaults
//! unless the caller passes others), measured in the packets' own time
//! stamps: time is passed in, never read. A TCP RST closes a flow (it then
//! lives for the `close` timeout); after a FIN in both directions it waits
//! `time_wait`; a new SYN on a closing flow starts a new one. Not modelled:
//! TCP window tracking (sequence numbers are not checked, as with
//! `nf_conntrack_tcp_be_liberal=1`), helpers (FTP, SIP: their RELATED data
//! flows), NAT, zones, the table size limit; later IP fragments carry no
//! ports and get the state of nothing ([`CtState::Fragment`]): the kernel
//! reassembles them with the first.

use crate::packet::{is_icmp_error, Fragment, PacketInfo};
use std::collections::HashMap;
use std::net::IpAddr;

/// The conntrack state of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CtState {
    New,
    Established,
    Related,
    Invalid,
    Untracked,
    /// A later fragment: the kernel would reassemble it first.
    Fragment,
}

impl CtState {
    pub fn name(self) -> &'static str {
        match self {
            CtState::New => "new",
            CtState::Established => "established",
            CtState::Related => "related",
            CtState::Invalid => "invalid",
            CtState::Untracked => "untracked",
            CtState::Fragment => "fragment",
        }
    }
}

/// Whether a packet goes the way the flow started or back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Original,
    Reply,
}

/// Timeouts in seconds (`net.netfilter.nf_conntrack_*_timeout_*`); the
/// [`Default`] is the kernel's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp_syn_sent: u64,
    pub tcp_established: u64,
    pub tcp_fin_wait: u64,
    pub tcp_time_wait: u64,
    pub tcp_close: u64,
    pub udp: u64,
    pub udp_stream: u64,
    pub icmp: u64,
    pub generic: u64,
    /// `nf_conntrack_tcp_loose`: a bare ACK may pick up a flow (NEW).
    pub tcp_loose: bool,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp_syn_sent: 120,
            tcp_established: 432_000,
            tcp_fin_wait: 120,
            tcp_time_wait: 120,
            tcp_close: 10,
            udp: 30,
            udp_stream: 120,
            icmp: 30,
            generic: 600,
            tcp_loose: true,
        }
    }
}

/// A flow's key in the direction it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Ports, or (echo id, 0) for ICMP echoes, or (0, 0).
    pub sport: u16,
    pub dport: u16,
}

impl FlowKey {
    fn reversed(self) -> FlowKey {
        FlowKey {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            ..self
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tcp {
    Open,
    /// FIN seen from the original / reply side.
    Fin {
        orig: bool,
        reply: bool,
    },
    Closed,
}

#[derive(Debug, Clone, Copy)]
struct Flow {
    replied: bool,
    expires: u64,
    tcp: Tcp,
    packets: u64,
}

/// What [`Tracker::track`] says about one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    pub state: CtState,
    /// The flow's direction for this packet (none for INVALID/UNTRACKED).
    pub direction: Option<Direction>,
    /// The flow this packet opened, if it opened one: the kernel keeps it
    /// only if the packet is accepted ([`Tracker::unconfirm`] otherwise).
    pub created: Option<FlowKey>,
}

/// The flow table.
#[derive(Debug, Default)]
pub struct Tracker {
    flows: HashMap<FlowKey, Flow>,
    timeouts: Timeouts,
    next_sweep: u64,
}

const NS: u64 = 1_000_000_000;

/// TCP flag combinations conntrack accepts (`tcp_valid_flags`, PSH, ECE
/// and CWR ignored).
fn tcp_flags_valid(f: u8) -> bool {
    const FIN: u8 = 0x01;
    const SYN: u8 = 0x02;
    const RST: u8 = 0x04;
    const ACK: u8 = 0x10;
    const URG: u8 = 0x20;
    let f = f & (FIN | SYN | RST | ACK | URG);
    matches!(
        f,
        x if x == SYN
            || x == SYN | URG
            || x == SYN | ACK
            || x == RST
            || x == RST | ACK
            || x == FIN | ACK
            || x == FIN | ACK | URG
            || x == ACK
            || x == ACK | URG
    )
}

impl Tracker {
    pub fn new(timeouts: Timeouts) -> Tracker {
        Tracker {
            flows: HashMap::new(),
            timeouts,
            next_sweep: 0,
        }
    }

    /// Flows currently held (expired ones go at the next sweep).
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    fn key(p: &PacketInfo) -> FlowKey {
        let (sport, dport) = match (p.ports, p.icmp_id) {
            (Some(ports), _) => ports,
            (None, Some(id)) => (id, 0),
            _ => (0, 0),
        };
        FlowKey {
            proto: p.proto,
            src: p.src,
            dst: p.dst,
            sport,
            dport,
        }
    }

    /// Looks `key` up in both directions, forgetting it when expired.
    fn find(&mut self, key: FlowKey, now: u64) -> Option<(FlowKey, Direction)> {
        for (k, d) in [
            (key, Direction::Original),
            (key.reversed(), Direction::Reply),
        ] {
            if let Some(f) = self.flows.get(&k) {
                if f.expires > now {
                    return Some((k, d));
                }
                self.flows.remove(&k);
            }
        }
        None
    }

    /// The state of packet `p` seen at `now` (nanoseconds, the capture's
    /// clock), updating the table.
    pub fn track(&mut self, p: &PacketInfo, now: u64) -> Tracked {
        if now >= self.next_sweep {
            self.flows.retain(|_, f| f.expires > now);
            self.next_sweep = now.saturating_add(10 * NS);
        }
        let none = |state| Tracked {
            state,
            direction: None,
            created: None,
        };
        if p.fragment == Fragment::Later {
            return none(CtState::Fragment);
        }
        let v6 = p.dst.is_ipv6();
        let t = self.timeouts;
        // ICMP: errors relate to a flow, echoes are flows of their own.
        if let Some((ty, _)) = p.icmp {
            if is_icmp_error(v6, ty) {
                let Some(q) = p.quoted.as_deref() else {
                    return none(CtState::Invalid);
                };
                let (sport, dport) = match (q.ports, q.icmp_id) {
                    (Some(ports), _) => ports,
                    (None, Some(id)) => (id, 0),
                    _ => (0, 0),
                };
                let key = FlowKey {
                    proto: q.proto,
                    src: q.src,
                    dst: q.dst,
                    sport,
                    dport,
                };
                return match self.find(key, now) {
                    Some(_) => Tracked {
                        state: CtState::Related,
                        direction: None,
                        created: None,
                    },
                    None => none(CtState::Invalid),
                };
            }
            if v6 && matches!(ty, 130..=137 | 143) {
                return none(CtState::Untracked);
            }
            let request = if v6 {
                matches!(ty, 128 | 139)
            } else {
                matches!(ty, 8 | 13 | 15 | 17)
            };
            let key = Self::key(p);
            // A reply's key is the request's reversed (the id stays first).
            let found = self.find(key, now).or_else(|| {
                let k = FlowKey {
                    src: p.dst,
                    dst: p.src,
                    ..key
                };
                self.flows
                    .get(&k)
                    .filter(|f| f.expires > now)
                    .map(|_| (k, Direction::Reply))
            });
            return match found {
                Some((k, dir)) => self.update(k, dir, now, t.icmp, None),
                None if request => self.open(key, now, t.icmp, Tcp::Open),
                None => none(CtState::Invalid),
            };
        }
        let key = Self::key(p);
        if p.proto == 6 {
            let Some(flags) = p.tcp_flags else {
                // Cut before the flags: conntrack would see a header too
                // short to track.
                return none(CtState::Invalid);
            };
            if !tcp_flags_valid(flags) {
                return none(CtState::Invalid);
            }
            let syn_only = flags & 0x12 == 0x02;
            return match self.find(key, now) {
                Some((k, _))
                    if syn_only
                        && self.flows.get(&k).is_some_and(|f| {
                            matches!(
                                f.tcp,
                                Tcp::Closed
                                    | Tcp::Fin {
                                        orig: true,
                                        reply: true
                                    }
                            )
                        }) =>
                {
                    // A new connection reusing the ports of a closing one.
                    self.flows.remove(&k);
                    self.open(key, now, t.tcp_syn_sent, Tcp::Open)
                }
                Some((k, dir)) => self.update(k, dir, now, 0, Some(flags)),
                None => {
                    if syn_only {
                        self.open(key, now, t.tcp_syn_sent, Tcp::Open)
                    } else if flags & 0x17 == 0x10 && t.tcp_loose {
                        // Mid-stream pick-up of an ACK (established timeout).
                        self.open(key, now, t.tcp_established, Tcp::Open)
                    } else {
                        none(CtState::Invalid)
                    }
                }
            };
        }
        let (first, replied) = if p.proto == 17 || p.proto == 136 {
            (t.udp, t.udp_stream)
        } else {
            (t.generic, t.generic)
        };
        match self.find(key, now) {
            Some((k, dir)) => {
                let replied_now =
                    dir == Direction::Reply || self.flows.get(&k).is_some_and(|f| f.replied);
                self.update(k, dir, now, if replied_now { replied } else { first }, None)
            }
            None => self.open(key, now, first, Tcp::Open),
        }
    }

    fn open(&mut self, key: FlowKey, now: u64, timeout: u64, tcp: Tcp) -> Tracked {
        self.flows.insert(
            key,
            Flow {
                replied: false,
                expires: now.saturating_add(timeout.saturating_mul(NS)),
                tcp,
                packets: 1,
            },
        );
        Tracked {
            state: CtState::New,
            direction: Some(Direction::Original),
            created: Some(key),
        }
    }

    /// A packet of an existing flow. `timeout` 0 with TCP flags: chosen
    /// from the TCP state.
    fn update(
        &mut self,
        key: FlowKey,
        dir: Direction,
        now: u64,
        timeout: u64,
        tcp_flags: Option<u8>,
    ) -> Tracked {
        let t = self.timeouts;
        let Some(f) = self.flows.get_mut(&key) else {
            return Tracked {
                state: CtState::Invalid,
                direction: None,
                created: None,
            };
        };
        f.packets += 1;
        if dir == Direction::Reply {
            f.replied = true;
        }
        let mut timeout = timeout;
        if let Some(flags) = tcp_flags {
            if flags & 0x04 != 0 {
                f.tcp = Tcp::Closed;
            } else if flags & 0x01 != 0 {
                f.tcp = match (f.tcp, dir) {
                    (Tcp::Open, Direction::Original) => Tcp::Fin {
                        orig: true,
                        reply: false,
                    },
                    (Tcp::Open, Direction::Reply) => Tcp::Fin {
                        orig: false,
                        reply: true,
                    },
                    (Tcp::Fin { reply, .. }, Direction::Original) => Tcp::Fin { orig: true, reply },
                    (Tcp::Fin { orig, .. }, Direction::Reply) => Tcp::Fin { orig, reply: true },
                    (s, _) => s,
                };
            }
            timeout = match f.tcp {
                Tcp::Closed => t.tcp_close,
                Tcp::Fin {
                    orig: true,
                    reply: true,
                } => t.tcp_time_wait,
                Tcp::Fin { .. } => t.tcp_fin_wait,
                Tcp::Open if !f.replied => t.tcp_syn_sent,
                Tcp::Open => t.tcp_established,
            };
        }
        f.expires = now.saturating_add(timeout.saturating_mul(NS));
        Tracked {
            state: if f.replied {
                CtState::Established
            } else {
                CtState::New
            },
            direction: Some(dir),
            created: None,
        }
    }

    /// Forgets the flow a packet opened when the policy did not accept that
    /// packet: conntrack confirms an entry only when its first packet
    /// leaves the hooks, so a dropped SYN leaves nothing behind (and the
    /// SYN-ACK that followed in the capture would be INVALID).
    pub fn unconfirm(&mut self, key: FlowKey) {
        if self.flows.get(&key).is_some_and(|f| f.packets == 1) {
            self.flows.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Quoted;

    fn pkt(src: &str, dst: &str, proto: u8, ports: Option<(u16, u16)>) -> PacketInfo {
        PacketInfo {
            number: 0,
            ts_nanos: 0,
            wire_len: 60,
            ip_len: 40,
            src: src.parse().expect("addr"),
            dst: dst.parse().expect("addr"),
            proto,
            ttl: 64,
            ports,
            tcp_flags: None,
            tcp_seq: None,
            icmp: None,
            icmp_id: None,
            quoted: None,
            fragment: Fragment::No,
            vlan: None,
        }
    }

    fn tcp(src: &str, dst: &str, sp: u16, dp: u16, flags: u8) -> PacketInfo {
        PacketInfo {
            tcp_flags: Some(flags),
            ..pkt(src, dst, 6, Some((sp, dp)))
        }
    }

    const C: &str = "192.0.2.1";
    const S: &str = "198.51.100.2";

    #[test]
    fn tcp_handshake_and_close() {
        let mut t = Tracker::new(Timeouts::default());
        let st = |t: &mut Tracker, p: PacketInfo, now: u64| t.track(&p, now * NS).state;
        assert_eq!(st(&mut t, tcp(C, S, 1000, 22, 0x02), 0), CtState::New);
        // Retransmitted SYN: still NEW.
        assert_eq!(st(&mut t, tcp(C, S, 1000, 22, 0x02), 1), CtState::New);
        assert_eq!(
            st(&mut t, tcp(S, C, 22, 1000, 0x12), 1),
            CtState::Established
        );
        assert_eq!(
            st(&mut t, tcp(C, S, 1000, 22, 0x10), 1),
            CtState::Established
        );
        assert_eq!(
            st(&mut t, tcp(C, S, 1000, 22, 0x11), 2),
            CtState::Established
        );
        assert_eq!(
            st(&mut t, tcp(S, C, 22, 1000, 0x11), 2),
            CtState::Established
        );
        // TIME_WAIT is 120 s; a new SYN reopens at once.
        assert_eq!(st(&mut t, tcp(C, S, 1000, 22, 0x02), 3), CtState::New);
        // Invalid flag combinations and what cannot open a flow.
        assert_eq!(st(&mut t, tcp(C, S, 2, 22, 0x03), 3), CtState::Invalid);
        assert_eq!(st(&mut t, tcp(C, S, 2, 22, 0x00), 3), CtState::Invalid);
        assert_eq!(st(&mut t, tcp(C, S, 3, 22, 0x12), 3), CtState::Invalid);
        assert_eq!(st(&mut t, tcp(C, S, 4, 22, 0x04), 3), CtState::Invalid);
        // A stray ACK is picked up (NEW) with tcp_loose, INVALID without.
        assert_eq!(st(&mut t, tcp(C, S, 5, 22, 0x10), 3), CtState::New);
        // A SYN the policy dropped leaves no flow: its SYN-ACK is INVALID.
        let syn = t.track(&tcp(C, S, 6, 22, 0x02), 4 * NS);
        t.unconfirm(syn.created.expect("a SYN opens a flow"));
        assert_eq!(st(&mut t, tcp(S, C, 22, 6, 0x12), 4), CtState::Invalid);
        let mut strict = Tracker::new(Timeouts {
            tcp_loose: false,
            ..Timeouts::default()
        });
        assert_eq!(st(&mut strict, tcp(C, S, 5, 22, 0x10), 3), CtState::Invalid);
    }

    #[test]
    fn timeouts_use_the_packets_clock() {
        let mut t = Tracker::new(Timeouts::default());
        let udp = |a, b, sp, dp| pkt(a, b, 17, Some((sp, dp)));
        assert_eq!(t.track(&udp(C, S, 5000, 53), 0).state, CtState::New);
        assert_eq!(t.track(&udp(C, S, 5000, 53), 29 * NS).state, CtState::New);
        // 30 s unreplied timeout, counted from the last packet.
        assert_eq!(
            t.track(&udp(S, C, 53, 5000), 58 * NS).state,
            CtState::Established
        );
        assert_eq!(
            t.track(&udp(C, S, 5000, 53), 170 * NS).state,
            CtState::Established
        );
        // 120 s after the last packet the flow is gone: a new one starts,
        // from the other side this time.
        assert_eq!(t.track(&udp(S, C, 53, 5000), 291 * NS).state, CtState::New);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn icmp_related_invalid_untracked() {
        let mut t = Tracker::new(Timeouts::default());
        let q = pkt(C, S, 17, Some((5000, 53)));
        assert_eq!(t.track(&q, 0).state, CtState::New);
        let err = |quoted: Quoted| PacketInfo {
            icmp: Some((3, 3)),
            quoted: Some(Box::new(quoted)),
            ..pkt(S, C, 1, None)
        };
        let about = |src: &str, dst: &str, sp, dp| Quoted {
            src: src.parse().expect("a"),
            dst: dst.parse().expect("a"),
            proto: 17,
            ports: Some((sp, dp)),
            icmp_id: None,
        };
        assert_eq!(
            t.track(&err(about(C, S, 5000, 53)), NS).state,
            CtState::Related
        );
        assert_eq!(
            t.track(&err(about(C, S, 5001, 53)), NS).state,
            CtState::Invalid
        );
        // Echo request, reply; a reply alone is invalid.
        let echo = |src, dst, ty| PacketInfo {
            icmp: Some((ty, 0)),
            icmp_id: Some(7),
            ..pkt(src, dst, 1, None)
        };
        assert_eq!(t.track(&echo(C, S, 8), NS).state, CtState::New);
        assert_eq!(t.track(&echo(S, C, 0), NS).state, CtState::Established);
        assert_eq!(
            t.track(&echo("203.0.113.1", S, 0), NS).state,
            CtState::Invalid
        );
        assert_eq!(t.track(&echo(C, S, 5), NS).state, CtState::Invalid);
        let ns = PacketInfo {
            icmp: Some((135, 0)),
            ..pkt("fe80::1", "ff02::1:ff00:1", 58, None)
        };
        assert_eq!(t.track(&ns, NS).state, CtState::Untracked);
        let later = PacketInfo {
            fragment: Fragment::Later,
            ..pkt(C, S, 17, None)
        };
        assert_eq!(t.track(&later, NS).state, CtState::Fragment);
    }
}
