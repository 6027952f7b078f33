//! The kernel side of `rampart guard`: table `inet rampart-guard`, owned by
//! the daemon and never by `rampart apply` (which replaces only
//! [`crate::OWN_TABLES`]). It holds two interval sets with timeouts,
//! `ban4` (`ipv4_addr`) and `ban6` (`ipv6_addr`), and two base chains,
//! `input` and `forward`, hooked at priority [`PRIORITY`] — before
//! rampart's filter chains (priority 0) — that drop packets whose source is
//! in them:
//!
//! ```text
//! table inet rampart-guard {
//!     set ban4 { type ipv4_addr; flags interval,timeout; }
//!     set ban6 { type ipv6_addr; flags interval,timeout; }
//!     chain input { type filter hook input priority -10; policy accept;
//!         meta nfproto ipv4 ip saddr @ban4 counter drop
//!         meta nfproto ipv6 ip6 saddr @ban6 counter drop }
//!     chain forward { ... the same ... }
//! }
//! ```
//!
//! A ban is one interval element: its start, and an end element one past
//! its last address (none when it reaches the top of the space), always
//! written, even when two bans touch, so each can be removed on its own.
//! Its timeout is the ban's remaining time; a permanent ban has none.
//! [`create_batch`] (re)creates the table with a set of bans in one
//! transaction (the old table and its elements go in the same commit, so
//! no banned address is let through in between); [`change_batch`] removes
//! (`DESTROYSETELEM`: no error when the element already expired) and adds
//! elements — a ban re-added is destroyed and added again, which restarts
//! its timeout.
//!
//! ```
//! use rampart_sys::banset::{change_batch, create_batch, BanElem};
//! let b = BanElem { addr: "192.0.2.0".parse().unwrap(), len: 24, timeout_ms: Some(60_000) };
//! let create = create_batch(&[b], 1).expect("encodes");
//! assert!(create.msgs.iter().any(|m| m.what.contains("ban4")));
//! let change = change_batch(&[], &[b], 100);
//! // destroy + add, each a start and an end element
//! assert_eq!(rampart_sys::setsync::batch_element_counts(&change), (2, 2));
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

/// The daemon's table (family inet).
pub const TABLE: &str = "rampart-guard";
/// Priority of its chains: before rampart's filter chains (0).
pub const PRIORITY: i32 = -10;
/// The IPv4 and IPv6 ban sets.
pub const SET4: &str = "ban4";
pub const SET6: &str = "ban6";

const NFT_MSG_DESTROYSETELEM: u16 = 30;

/// One ban as a kernel element: a network and the time left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanElem {
    /// The network's address (host bits are cleared when encoded).
    pub addr: IpAddr,
    pub len: u8,
    /// Milliseconds left; `None`: permanent.
    pub timeout_ms: Option<u64>,
}

/// The table, its sets (empty) and chains, as a ruleset.
pub fn ruleset() -> Ruleset {
    let set = |name: &str, key| Set {
        name: name.into(),
        key: vec![key],
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
        ],
    };
    Ruleset {
        tables: vec![Table {
            family: TableFamily::Inet,
            name: TABLE.into(),
            sets: vec![set(SET4, KeyType::Ipv4Addr), set(SET6, KeyType::Ipv6Addr)],
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

/// One batch that removes `del` and adds `add` (each element of `add` is
/// destroyed first, so its timeout restarts).
pub fn change_batch(del: &[(IpAddr, u8)], add: &[BanElem], seq0: u32) -> Batch {
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
    let dels: Vec<BanElem> = del
        .iter()
        .map(|&(addr, len)| BanElem {
            addr,
            len,
            timeout_ms: None,
        })
        .chain(add.iter().copied())
        .collect();
    elem_msgs(
        &mut b,
        &mut msgs,
        &mut seq,
        true,
        dels.iter().map(|e| (e, false)),
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
    let mut per_set: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    for (e, with_timeout) in elems {
        let (lo, hi, width) = bounds(e.addr, e.len);
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
        let set = [SET4, SET6][i];
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
    pub fn change(&mut self, del: &[(IpAddr, u8)], add: &[BanElem]) -> Result<(), SendError> {
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
        let e = |a: &str, len, t| BanElem {
            addr: a.parse().expect("addr"),
            len,
            timeout_ms: t,
        };
        // Two touching bans: each has its end element.
        let b = change_batch(
            &[],
            &[e("10.0.0.5", 32, Some(1000)), e("10.0.0.6", 32, None)],
            1,
        );
        assert_eq!(crate::setsync::batch_element_counts(&b), (4, 4));
        // 255.255.255.255 and ffff::/16 reach the top: no end element.
        let b = change_batch(
            &[("255.255.255.255".parse().expect("addr"), 32)],
            &[e("ffff::", 16, None)],
            1,
        );
        assert_eq!(crate::setsync::batch_element_counts(&b), (1, 2));
        assert_eq!(bounds("10.1.2.3".parse().expect("a"), 24).0, 0x0a01_0200);
        assert!(change_batch(&[], &[], 1).msgs.is_empty());
    }
}
