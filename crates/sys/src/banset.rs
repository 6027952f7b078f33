//! The kernel side of `rampart guard`: table `inet rampart-guard`, owned by
//! the daemon and never by `rampart apply` (which replaces only
//! [`crate::OWN_TABLES`]). It holds four interval sets with timeouts:
//! `ban4` (`ipv4_addr`) and `ban6` (`ipv6_addr`) for bans of every
//! packet of an address, `port4` and `port6` (`addr . inet_proto .
//! inet_service`, concatenations with ranges: the kernel's pipapo set
//! type, which takes per-element timeouts) for bans of a jail's ports
//! only (fail2ban's `port`/`protocol`); and two base chains, `input` and
//! `forward`, hooked at priority [`PRIORITY`] — before rampart's filter
//! chains (priority 0) — that drop packets that match them:
//!
//! ```text
//! table inet rampart-guard {
//!     set ban4 { type ipv4_addr; flags interval,timeout; }
//!     set ban6 { type ipv6_addr; flags interval,timeout; }
//!     set port4 { type ipv4_addr . inet_proto . inet_service; flags interval,timeout; }
//!     set port6 { type ipv6_addr . inet_proto . inet_service; flags interval,timeout; }
//!     chain input { type filter hook input priority -10; policy accept;
//!         meta nfproto ipv4 ip saddr @ban4 counter drop
//!         meta nfproto ipv6 ip6 saddr @ban6 counter drop
//!         meta nfproto ipv4 ip saddr . meta l4proto . th dport @port4 counter drop
//!         meta nfproto ipv6 ip6 saddr . meta l4proto . th dport @port6 counter drop }
//!     chain forward { ... the same ... }
//! }
//! ```
//!
//! A ban of every port is one interval element of `ban4`/`ban6`: its
//! start, and an end element one past its last address (none when it
//! reaches the top of the space), always written, even when two bans
//! touch, so each can be removed on its own. A port-scoped ban is one
//! `port4`/`port6` element per (protocol, port range), each with its
//! first and last key. Its timeout is the ban's remaining time; a
//! permanent ban has none.
//! [`create_batch`] (re)creates the table with a set of bans in one
//! transaction (the old table and its elements go in the same commit, so
//! no banned address is let through in between); [`change_batch`] removes
//! (`DESTROYSETELEM`: no error when the element already expired) and adds
//! elements — a ban re-added is destroyed and added again, which restarts
//! its timeout.
//!
//! ```
//! use rampart_sys::banset::{change_batch, create_batch, BanElem};
//! let b = BanElem::all("192.0.2.0".parse().unwrap(), 24, Some(60_000));
//! let create = create_batch(std::slice::from_ref(&b), 1).expect("encodes");
//! assert!(create.msgs.iter().any(|m| m.what.contains("ban4")));
//! let change = change_batch(&[], &[b], 100);
//! // destroy + add, each a start and an end element
//! assert_eq!(rampart_sys::setsync::batch_element_counts(&change), (2, 2));
//! // ssh only: one element of port4 (tcp/22)
//! let ssh = BanElem {
//!     ports: Some(vec![(6, 22, 22)].into()),
//!     ..BanElem::all("198.51.100.7".parse().unwrap(), 32, None)
//! };
//! let change = change_batch(&[], &[ssh], 1);
//! assert!(change.msgs.iter().any(|m| m.what.contains("set port4")));
//! ```

use crate::consts::*;
use crate::encode::{Batch, MsgInfo};
use crate::nla::{messages, Buf, NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST};
use crate::socket::{SendError, Socket};
use rampart_nft::{
    BaseChain, Chain, ChainPolicy, ChainType, Expr, Hook, KeyType, MetaKey, Op, Priority, Proto,
    Rule, Ruleset, Set, Stmt, Table, TableFamily, Verdict,
};
use std::net::IpAddr;
use std::sync::Arc;

/// The daemon's table (family inet).
pub const TABLE: &str = "rampart-guard";
/// Priority of its chains: before rampart's filter chains (0).
pub const PRIORITY: i32 = -10;
/// The IPv4 and IPv6 ban sets.
pub const SET4: &str = "ban4";
pub const SET6: &str = "ban6";
/// The port-scoped ban sets (`addr . inet_proto . inet_service`).
pub const PORT4: &str = "port4";
pub const PORT6: &str = "port6";

const NFT_MSG_DESTROYSETELEM: u16 = 30;

/// One ban as a kernel element: a network, the time left and the ports
/// it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanElem {
    /// The network's address (host bits are cleared when encoded).
    pub addr: IpAddr,
    pub len: u8,
    /// Milliseconds left; `None`: permanent.
    pub timeout_ms: Option<u64>,
    /// `None`: every packet of the network (sets `ban4`/`ban6`); else
    /// only packets to these `(protocol, first port, last port)` (sets
    /// `port4`/`port6`, one element per range).
    pub ports: Option<Arc<[(u8, u16, u16)]>>,
}

impl BanElem {
    /// A ban of every packet of `addr/len`.
    pub fn all(addr: IpAddr, len: u8, timeout_ms: Option<u64>) -> BanElem {
        BanElem {
            addr,
            len,
            timeout_ms,
            ports: None,
        }
    }
}

/// The table, its sets (empty) and chains, as a ruleset.
pub fn ruleset() -> Ruleset {
    let set = |name: &str, key: Vec<KeyType>| Set {
        name: name.into(),
        key,
        interval: true,
        timeout_flag: true,
        auto_merge: false,
        timeout: None,
        dynamic: false,
        size: None,
        elements: Vec::new(),
    };
    let rule = |fam: &str, proto, set: &str| Rule {
        stmts: vec![
            Stmt::cmp(Expr::Meta(MetaKey::Nfproto), Op::Eq, Expr::sym(fam)),
            Stmt::cmp(
                Expr::payload(proto, "saddr"),
                Op::Eq,
                Expr::SetRef(set.into()),
            ),
            Stmt::Counter,
            Stmt::Verdict(Verdict::Drop),
        ],
        comment: None,
        origin: None,
        origins: vec![],
    };
    let port_rule = |fam: &str, proto, set: &str| Rule {
        stmts: vec![
            Stmt::cmp(Expr::Meta(MetaKey::Nfproto), Op::Eq, Expr::sym(fam)),
            Stmt::cmp(
                Expr::Concat(vec![
                    Expr::payload(proto, "saddr"),
                    Expr::Meta(MetaKey::L4proto),
                    Expr::payload(Proto::Th, "dport"),
                ]),
                Op::Eq,
                Expr::SetRef(set.into()),
            ),
            Stmt::Counter,
            Stmt::Verdict(Verdict::Drop),
        ],
        comment: None,
        origin: None,
        origins: vec![],
    };
    let chain = |name: &str, hook| Chain {
        name: name.into(),
        base: Some(BaseChain {
            kind: ChainType::Filter,
            hook,
            priority: Priority {
                value: PRIORITY,
                name: None,
            },
            policy: ChainPolicy::Accept,
        }),
        rules: vec![
            rule("ipv4", Proto::Ip, SET4),
            rule("ipv6", Proto::Ip6, SET6),
            port_rule("ipv4", Proto::Ip, PORT4),
            port_rule("ipv6", Proto::Ip6, PORT6),
        ],
    };
    Ruleset {
        tables: vec![Table {
            family: TableFamily::Inet,
            name: TABLE.into(),
            sets: vec![
                set(SET4, vec![KeyType::Ipv4Addr]),
                set(SET6, vec![KeyType::Ipv6Addr]),
                set(
                    PORT4,
                    vec![KeyType::Ipv4Addr, KeyType::InetProto, KeyType::InetService],
                ),
                set(
                    PORT6,
                    vec![KeyType::Ipv6Addr, KeyType::InetProto, KeyType::InetService],
                ),
            ],
            chains: vec![chain("input", Hook::Input), chain("forward", Hook::Forward)],
        }],
    }
}

/// One batch that replaces the table (created if missing) and loads
/// `bans` into its sets: one transaction.
pub fn create_batch(bans: &[BanElem], seq0: u32) -> Result<Batch, String> {
    let mut batch = crate::encode::encode(&ruleset(), seq0).map_err(|e| {
        e.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    // Take BATCH_END off, add the elements, put it back.
    let end_at = {
        let msgs = messages(&batch.bytes);
        let last = msgs.last().ok_or("empty batch")?;
        if last.0 != NFNL_MSG_BATCH_END {
            return Err("the table batch does not end with BATCH_END".into());
        }
        batch.bytes.len() - (crate::nla::NLMSG_HDRLEN + last.3.len())
    };
    batch.bytes.truncate(end_at);
    let mut seq = batch.msgs.iter().map(|m| m.seq).max().unwrap_or(seq0) + 1;
    let mut b = Buf { b: batch.bytes };
    let mut msgs = batch.msgs;
    elem_msgs(
        &mut b,
        &mut msgs,
        &mut seq,
        false,
        bans.iter().map(|e| (e, true)),
    );
    finish(b, msgs, seq, batch.begin_seq)
        .map(|mut out| {
            // The table messages' own acknowledgement flag stays; the last
            // message asks for one too.
            out.begin_seq = batch.begin_seq;
            out
        })
        .ok_or_else(|| "no messages".to_string())
}

/// One batch that removes `del` (their timeouts are ignored) and adds
/// `add` (each element of `add` is destroyed first, so its timeout
/// restarts).
pub fn change_batch(del: &[BanElem], add: &[BanElem], seq0: u32) -> Batch {
    let mut b = Buf::default();
    let begin_seq = seq0;
    b.msg(
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        begin_seq,
        0,
        NFNL_SUBSYS_NFTABLES,
        |_| {},
    );
    let mut seq = seq0 + 1;
    let mut msgs = Vec::new();
    elem_msgs(
        &mut b,
        &mut msgs,
        &mut seq,
        true,
        del.iter().chain(add).map(|e| (e, false)),
    );
    elem_msgs(
        &mut b,
        &mut msgs,
        &mut seq,
        false,
        add.iter().map(|e| (e, true)),
    );
    finish(b, msgs, seq, begin_seq).unwrap_or(Batch {
        bytes: Vec::new(),
        msgs: Vec::new(),
        begin_seq,
    })
}

fn finish(mut b: Buf, msgs: Vec<MsgInfo>, seq: u32, begin_seq: u32) -> Option<Batch> {
    if msgs.is_empty() {
        return None;
    }
    b.msg(
        NFNL_MSG_BATCH_END,
        NLM_F_REQUEST,
        seq,
        0,
        NFNL_SUBSYS_NFTABLES,
        |_| {},
    );
    Some(Batch {
        bytes: b.b,
        msgs,
        begin_seq,
    })
}

/// `(first, last)` address of a network as integers, and its width.
fn bounds(addr: IpAddr, len: u8) -> (u128, u128, usize) {
    match addr {
        IpAddr::V4(a) => {
            let len = u32::from(len.min(32));
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            let lo = u32::from(a) & mask;
            (u128::from(lo), u128::from(lo | !mask), 4)
        }
        IpAddr::V6(a) => {
            let len = u32::from(len.min(128));
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            let lo = u128::from(a) & mask;
            (lo, lo | !mask, 16)
        }
    }
}

fn key(v: u128, width: usize) -> Vec<u8> {
    v.to_be_bytes()[16 - width..].to_vec()
}

fn one_elem(b: &mut Buf, k: &[u8], end: bool, timeout_ms: Option<u64>) {
    b.nest(NFTA_LIST_ELEM, |b| {
        b.nest(NFTA_SET_ELEM_KEY, |b| b.attr(NFTA_DATA_VALUE, k));
        if end {
            b.be32(NFTA_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
        }
        if let Some(t) = timeout_ms {
            // The kernel refuses a zero timeout.
            b.be64(NFTA_SET_ELEM_TIMEOUT, t.max(1));
        }
    });
}

/// A port-scoped element (pipapo): its first key and its last key
/// (`NFTA_SET_ELEM_KEY_END`), each part padded to 4 bytes (address,
/// protocol byte, port in network order), as nft sends them.
fn port_elem(b: &mut Buf, lo: &[u8], hi: &[u8], r: (u8, u16, u16), timeout_ms: Option<u64>) {
    let k = |addr: &[u8], port: u16| {
        let mut k = addr.to_vec();
        k.extend_from_slice(&[r.0, 0, 0, 0]);
        k.extend_from_slice(&port.to_be_bytes());
        k.extend_from_slice(&[0, 0]);
        k
    };
    b.nest(NFTA_LIST_ELEM, |b| {
        b.nest(NFTA_SET_ELEM_KEY, |b| b.attr(NFTA_DATA_VALUE, &k(lo, r.1)));
        b.nest(NFTA_SET_ELEM_KEY_END, |b| {
            b.attr(NFTA_DATA_VALUE, &k(hi, r.2))
        });
        if let Some(t) = timeout_ms {
            b.be64(NFTA_SET_ELEM_TIMEOUT, t.max(1));
        }
    });
}

/// Appends the `NEWSETELEM` (or `DESTROYSETELEM`) messages of `elems`,
/// one message per set and about 48 KiB.
fn elem_msgs<'a>(
    b: &mut Buf,
    msgs: &mut Vec<MsgInfo>,
    seq: &mut u32,
    destroy: bool,
    elems: impl Iterator<Item = (&'a BanElem, bool)>,
) {
    const CHUNK: usize = 48 * 1024;
    let mut per_set: [Vec<Vec<u8>>; 4] = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for (e, with_timeout) in elems {
        let (lo, hi, width) = bounds(e.addr, e.len);
        if let Some(ports) = &e.ports {
            let (lo, hi) = (key(lo, width), key(hi, width));
            for &r in ports.iter() {
                let mut one = Buf::default();
                port_elem(
                    &mut one,
                    &lo,
                    &hi,
                    r,
                    if with_timeout { e.timeout_ms } else { None },
                );
                per_set[2 + usize::from(width == 16)].push(one.b);
            }
            continue;
        }
        let max = if width == 4 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        let mut one = Buf::default();
        one_elem(
            &mut one,
            &key(lo, width),
            false,
            if with_timeout { e.timeout_ms } else { None },
        );
        if hi != max {
            one_elem(&mut one, &key(hi + 1, width), true, None);
        }
        per_set[usize::from(width == 16)].push(one.b);
    }
    let (ty, flags, verb) = if destroy {
        (NFT_MSG_DESTROYSETELEM, 0, "destroy")
    } else {
        (NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add")
    };
    for (i, list) in per_set.iter().enumerate() {
        let set = [SET4, SET6, PORT4, PORT6][i];
        let mut at = 0;
        while at < list.len() {
            let mut end = at;
            let mut size = 0;
            while end < list.len() && (end == at || size + list[end].len() <= CHUNK) {
                size += list[end].len();
                end += 1;
            }
            let m = *seq;
            *seq += 1;
            b.msg(
                (NFNL_SUBSYS_NFTABLES << 8) | ty,
                NLM_F_REQUEST | flags | NLM_F_ACK,
                m,
                NFPROTO_INET,
                0,
                |b| {
                    b.str(NFTA_SET_ELEM_LIST_TABLE, TABLE);
                    b.str(NFTA_SET_ELEM_LIST_SET, set);
                    b.nest(NFTA_SET_ELEM_LIST_ELEMENTS, |b| {
                        for e in &list[at..end] {
                            b.b.extend_from_slice(e);
                        }
                    });
                },
            );
            msgs.push(MsgInfo {
                seq: m,
                what: format!(
                    "{verb} {} ban element(s) of set {set} in table inet {TABLE}",
                    end - at
                ),
                origin: None,
            });
            at = end;
        }
    }
}

/// A netlink socket bound to the ban table of the current network
/// namespace.
#[derive(Debug)]
pub struct BanTable {
    sock: Socket,
    seq: u32,
}

impl BanTable {
    /// Opens the socket (in the network namespace of the calling thread).
    pub fn open() -> std::io::Result<BanTable> {
        let seq = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() as u32);
        Ok(BanTable {
            sock: Socket::open()?,
            seq,
        })
    }

    /// (Re)creates the table holding exactly `bans`, in one transaction.
    pub fn create(&mut self, bans: &[BanElem]) -> Result<(), SendError> {
        let batch = create_batch(bans, self.seq)
            .map_err(|e| SendError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
        self.seq = self.seq.wrapping_add(batch.msgs.len() as u32 + 2);
        self.sock.send_batch(&batch)
    }

    /// Removes `del` and adds (or refreshes) `add`, in one transaction.
    pub fn change(&mut self, del: &[BanElem], add: &[BanElem]) -> Result<(), SendError> {
        let batch = change_batch(del, add, self.seq);
        self.seq = self.seq.wrapping_add(batch.msgs.len() as u32 + 2);
        if batch.msgs.is_empty() {
            return Ok(());
        }
        self.sock.send_batch(&batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_have_their_own_end_and_the_top_has_none() {
        let e = |a: &str, len, t| BanElem::all(a.parse().expect("addr"), len, t);
        // Two touching bans: each has its end element.
        let b = change_batch(
            &[],
            &[e("10.0.0.5", 32, Some(1000)), e("10.0.0.6", 32, None)],
            1,
        );
        assert_eq!(crate::setsync::batch_element_counts(&b), (4, 4));
        // 255.255.255.255 and ffff::/16 reach the top: no end element.
        let b = change_batch(
            &[e("255.255.255.255", 32, None)],
            &[e("ffff::", 16, None)],
            1,
        );
        assert_eq!(crate::setsync::batch_element_counts(&b), (1, 2));
        assert_eq!(bounds("10.1.2.3".parse().expect("a"), 24).0, 0x0a01_0200);
        assert!(change_batch(&[], &[], 1).msgs.is_empty());
        // A port-scoped ban: one pipapo element per range, key and key
        // end: address . protocol (padded) . port (network order, padded).
        let ssh = BanElem {
            ports: Some(vec![(6, 22, 22), (17, 1000, 2000)].into()),
            ..e("10.1.2.3", 32, Some(5))
        };
        let mut one = Buf::default();
        port_elem(
            &mut one,
            &[10, 1, 2, 3],
            &[10, 1, 2, 3],
            (17, 1000, 2000),
            Some(5),
        );
        let b = change_batch(&[], std::slice::from_ref(&ssh), 1);
        assert!(b.bytes.windows(one.b.len()).any(|w| w == one.b.as_slice()));
        let k = [10u8, 1, 2, 3, 17, 0, 0, 0, 0x03, 0xe8, 0, 0];
        assert!(one.b.windows(k.len()).any(|w| w == k), "{:?}", one.b);
        assert_eq!(
            b.msgs.iter().map(|m| m.what.as_str()).collect::<Vec<_>>(),
            [
                "destroy 2 ban element(s) of set port4 in table inet rampart-guard",
                "add 2 ban element(s) of set port4 in table inet rampart-guard"
            ]
        );
        let r = ruleset();
        assert_eq!(r.tables[0].sets.len(), 4);
        assert_eq!(r.tables[0].chains[0].rules.len(), 4);
    }
}
