//! Encodes a [`Ruleset`] into one nfnetlink batch, the same bytecode `nft -f`
//! generates for the printed text of the same ruleset.
//!
//! The batch is `BATCH_BEGIN`, then per table `NEWTABLE` / `DELTABLE` /
//! `NEWTABLE` (create-if-missing, delete, create: rampart's table is replaced
//! whether or not it existed, other tables are never named), the chains,
//! the named sets with their elements, then the rules (each preceded by the
//! anonymous sets it looks up), and `BATCH_END`. The kernel applies a batch
//! as one transaction: all of it or nothing.
//!
//! Every message is recorded with what it creates and the policy line it
//! came from, so that a kernel error can be reported against the rule that
//! caused it; the last one asks for an acknowledgement (`NLM_F_ACK`).

use crate::consts::*;
use crate::nla::*;
use rampart_model::Origin;
use rampart_nft::{
    ChainPolicy, ChainType, CtDir, CtKey, Element, Expr, Hook, KeyType, Log, Match, MetaKey,
    NatKind, Op, Proto, Reject, Rule, Ruleset, Set, SetOp, SetUpdate, Stmt, Table, TableFamily,
    Verdict,
};
use std::collections::HashMap;
use std::net::IpAddr;

/// A construct of the ruleset the netlink encoder does not encode (yet).
/// It is never skipped: the whole apply fails and names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("{}{place}: {what}", .origin.as_ref().map_or_else(String::new, |o| format!("{o}: ")))]
pub struct EncodeError {
    /// `table inet rampart chain input rule 3`.
    pub place: String,
    /// What cannot be encoded and why.
    pub what: String,
    /// The policy line of the rule, when known.
    pub origin: Option<Origin>,
}

/// What one message of a batch does, to explain a kernel error about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgInfo {
    pub seq: u32,
    /// `add rule to table inet rampart chain input: <nft text>`.
    pub what: String,
    pub origin: Option<Origin>,
}

/// One encoded nfnetlink batch, ready to send.
#[derive(Debug, Clone)]
pub struct Batch {
    pub(crate) bytes: Vec<u8>,
    /// The messages between `BATCH_BEGIN` and `BATCH_END`, in order; the
    /// last one is acknowledged.
    pub msgs: Vec<MsgInfo>,
    /// Sequence number of `BATCH_BEGIN` (commit errors are reported on it).
    pub begin_seq: u32,
}

impl Batch {
    /// The wire bytes (one datagram).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Encodes the ruleset as one batch; `seq0` is the first sequence number.
pub fn encode(rs: &Ruleset, seq0: u32) -> Result<Batch, Vec<EncodeError>> {
    encode_replacing(rs, &[], seq0)
}

/// [`encode`], and in the same batch removes each table of `remove` that
/// `rs` does not hold (`NEWTABLE` then `DELTABLE`, so a missing table is
/// no error): rampart's tables become exactly those of `rs`.
pub fn encode_replacing(
    rs: &Ruleset,
    remove: &[(TableFamily, &str)],
    seq0: u32,
) -> Result<Batch, Vec<EncodeError>> {
    let mut e = Enc {
        out: Buf::default(),
        seq: seq0,
        msgs: Vec::new(),
        set_id: 0,
        named: HashMap::new(),
        errors: Vec::new(),
        last_flags_at: 0,
    };
    let begin_seq = e.seq;
    e.out.msg(
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        begin_seq,
        0,
        NFNL_SUBSYS_NFTABLES,
        |_| {},
    );
    e.seq += 1;
    for &(fam, name) in remove {
        if rs.table(fam, name).is_none() {
            e.remove_table(fam, name);
        }
    }
    for t in &rs.tables {
        e.table(t);
    }
    // Ask for an acknowledgement of the last message only: the kernel
    // reports errors of every message, then acknowledges this one, so its
    // acknowledgement closes the answer (one ack per message would not fit
    // the receive buffer for large batches).
    if !e.msgs.is_empty() {
        let at = e.last_flags_at;
        let f = u16::from_ne_bytes([e.out.b[at], e.out.b[at + 1]]) | NLM_F_ACK;
        e.out.b[at..at + 2].copy_from_slice(&f.to_ne_bytes());
    }
    let end = e.seq;
    e.out.msg(
        NFNL_MSG_BATCH_END,
        NLM_F_REQUEST,
        end,
        0,
        NFNL_SUBSYS_NFTABLES,
        |_| {},
    );
    if e.errors.is_empty() {
        Ok(Batch {
            bytes: e.out.b,
            msgs: e.msgs,
            begin_seq,
        })
    } else {
        Err(e.errors)
    }
}

pub(crate) fn family(f: TableFamily) -> u8 {
    match f {
        TableFamily::Inet => NFPROTO_INET,
        TableFamily::Ip => NFPROTO_IPV4,
        TableFamily::Ip6 => NFPROTO_IPV6,
    }
}

/// The set id and key type of a named set, by (table, name).
type NamedSets = HashMap<(TableFamily, String, String), (u32, Dt)>;

struct Enc {
    out: Buf,
    seq: u32,
    msgs: Vec<MsgInfo>,
    set_id: u32,
    named: NamedSets,
    errors: Vec<EncodeError>,
    /// Offset of the flags of the last message written.
    last_flags_at: usize,
}

impl Enc {
    fn message(
        &mut self,
        ty: u16,
        flags: u16,
        fam: u8,
        what: String,
        origin: Option<Origin>,
        f: impl FnOnce(&mut Buf),
    ) {
        let seq = self.seq;
        self.seq += 1;
        // The last message of the batch gets NLM_F_ACK when the batch is
        // closed (see `encode`); errors are reported for every message.
        self.last_flags_at = self.out.b.len() + 6;
        self.out.msg(
            (NFNL_SUBSYS_NFTABLES << 8) | ty,
            NLM_F_REQUEST | flags,
            seq,
            fam,
            0,
            f,
        );
        self.msgs.push(MsgInfo { seq, what, origin });
    }

    fn remove_table(&mut self, f: TableFamily, name: &str) {
        let fam = family(f);
        let tname = format!("table {} {name}", f.name());
        self.message(
            NFT_MSG_NEWTABLE,
            NLM_F_CREATE,
            fam,
            format!("add {tname}"),
            None,
            |b| {
                b.str(NFTA_TABLE_NAME, name);
                b.be32(NFTA_TABLE_FLAGS, 0);
            },
        );
        self.message(
            NFT_MSG_DELTABLE,
            0,
            fam,
            format!("delete {tname}"),
            None,
            |b| b.str(NFTA_TABLE_NAME, name),
        );
    }

    fn table(&mut self, t: &Table) {
        let fam = family(t.family);
        let tname = format!("table {} {}", t.family.name(), t.name);
        let name = t.name.as_str();
        let new = |b: &mut Buf| {
            b.str(NFTA_TABLE_NAME, name);
            b.be32(NFTA_TABLE_FLAGS, 0);
        };
        // `table X; delete table X; table X {...}`, as `nft -f` does.
        self.remove_table(t.family, name);
        self.message(
            NFT_MSG_NEWTABLE,
            NLM_F_CREATE,
            fam,
            format!("add {tname}"),
            None,
            new,
        );
        for c in &t.chains {
            let cname = c.name.as_str();
            let base = c.base;
            self.message(
                NFT_MSG_NEWCHAIN,
                NLM_F_CREATE,
                fam,
                format!("add chain {cname} to {tname}"),
                None,
                |b| {
                    b.str(NFTA_CHAIN_TABLE, name);
                    b.str(NFTA_CHAIN_NAME, cname);
                    if let Some(bc) = base {
                        b.str(
                            NFTA_CHAIN_TYPE,
                            match bc.kind {
                                ChainType::Filter => "filter",
                                ChainType::Nat => "nat",
                                ChainType::Route => "route",
                            },
                        );
                        b.be32(
                            NFTA_CHAIN_POLICY,
                            match bc.policy {
                                ChainPolicy::Accept => NF_ACCEPT as u32,
                                ChainPolicy::Drop => NF_DROP as u32,
                            },
                        );
                        b.nest(NFTA_CHAIN_HOOK, |b| {
                            b.be32(
                                NFTA_HOOK_HOOKNUM,
                                match bc.hook {
                                    Hook::Prerouting => 0,
                                    Hook::Input => 1,
                                    Hook::Forward => 2,
                                    Hook::Output => 3,
                                    Hook::Postrouting => 4,
                                },
                            );
                            b.be32(NFTA_HOOK_PRIORITY, bc.priority.value as u32);
                        });
                    }
                },
            );
        }
        for s in &t.sets {
            if let Err(what) = self.named_set(t, s) {
                self.errors.push(EncodeError {
                    place: format!("{tname} set {}", s.name),
                    what,
                    origin: None,
                });
            }
        }
        for c in &t.chains {
            for (i, r) in c.rules.iter().enumerate() {
                if let Err(what) = self.rule(t, &c.name, r) {
                    self.errors.push(EncodeError {
                        place: format!("{tname} chain {} rule {}", c.name, i + 1),
                        what,
                        origin: r.origin.clone(),
                    });
                }
            }
        }
    }

    fn named_set(&mut self, t: &Table, s: &Set) -> Result<(), String> {
        let (dt, elems) = match s.key.as_slice() {
            [k] => {
                let dt = key_dt(*k);
                (dt, set_elements(dt, s.interval, s.auto_merge, &s.elements)?)
            }
            keys => {
                let parts: Vec<Dt> = keys.iter().map(|k| key_dt(*k)).collect();
                if s.interval {
                    (
                        concat_dt(&parts)?,
                        concat_interval_elements(&parts, &s.elements)?,
                    )
                } else {
                    (concat_dt(&parts)?, concat_elements(&parts, &s.elements)?)
                }
            }
        };
        // A concatenated interval set (pipapo) declares its field lengths.
        let fields: Vec<u32> = if s.interval && s.key.len() > 1 {
            s.key.iter().map(|k| key_dt(*k).len() as u32).collect()
        } else {
            Vec::new()
        };
        self.set_id += 1;
        let id = self.set_id;
        self.named
            .insert((t.family, t.name.clone(), s.name.clone()), (id, dt));
        let mut flags = 0;
        if s.interval {
            flags |= NFT_SET_INTERVAL;
        }
        if s.timeout_flag {
            flags |= NFT_SET_TIMEOUT;
        }
        if !fields.is_empty() {
            flags |= NFT_SET_CONCAT;
        }
        if s.dynamic {
            // Updated from the packet path (`add @set`, meters).
            flags |= NFT_SET_EVAL;
        }
        let mut udata = Vec::new();
        udata_u32(&mut udata, UDATA_SET_KEYBYTEORDER, dt.byteorder());
        if s.auto_merge {
            udata_u32(&mut udata, UDATA_SET_MERGE_ELEMENTS, 1);
        }
        if matches!(dt, Dt::Concat { .. }) {
            // What nft stores for `type A . B`: a key "typeof" of a
            // concatenation expression without parts, which `nft list`
            // reads back to print the key type.
            udata.extend_from_slice(&[UDATA_SET_KEY_TYPEOF, 8]);
            udata_u32(&mut udata, UDATA_TYPEOF_EXPR, EXPR_CONCAT);
            udata.extend_from_slice(&[UDATA_TYPEOF_DATA, 0]);
        }
        let what = format!("add set {} to table {} {}", s.name, t.family.name(), t.name);
        let (tname, sname) = (t.name.as_str(), s.name.as_str());
        self.message(
            NFT_MSG_NEWSET,
            NLM_F_CREATE,
            family(t.family),
            what,
            None,
            |b| {
                b.str(NFTA_SET_TABLE, tname);
                b.str(NFTA_SET_NAME, sname);
                b.be32(NFTA_SET_FLAGS, flags);
                b.be32(NFTA_SET_KEY_TYPE, dt.type_id());
                b.be32(NFTA_SET_KEY_LEN, dt.len() as u32);
                b.be32(NFTA_SET_ID, id);
                if let Some(tm) = s.timeout {
                    b.be64(NFTA_SET_TIMEOUT, u64::from(tm) * 1000);
                }
                if s.size.is_some() || !fields.is_empty() {
                    b.nest(NFTA_SET_DESC, |b| {
                        if let Some(n) = s.size {
                            b.be32(NFTA_SET_DESC_SIZE, n);
                        }
                        if !fields.is_empty() {
                            b.nest(NFTA_SET_DESC_CONCAT, |b| {
                                for f in &fields {
                                    b.nest(NFTA_LIST_ELEM, |b| b.be32(NFTA_SET_FIELD_LEN, *f));
                                }
                            });
                        }
                    });
                }
                b.attr(NFTA_SET_USERDATA, &udata);
            },
        );
        self.set_elems(t, sname, id, &elems);
        Ok(())
    }

    /// `NEWSETELEM` messages, each below the 64 KiB attribute limit.
    fn set_elems(&mut self, t: &Table, set: &str, id: u32, elems: &[Vec<u8>]) {
        const CHUNK: usize = 48 * 1024;
        let mut i = 0;
        while i < elems.len() {
            let mut j = i;
            let mut size = 0;
            while j < elems.len() && (j == i || size + elems[j].len() <= CHUNK) {
                size += elems[j].len();
                j += 1;
            }
            let chunk = &elems[i..j];
            let what = format!(
                "add elements {}..{} to set {set} of table {} {}",
                i + 1,
                j,
                t.family.name(),
                t.name
            );
            let tname = t.name.as_str();
            self.message(
                NFT_MSG_NEWSETELEM,
                NLM_F_CREATE,
                family(t.family),
                what,
                None,
                |b| {
                    b.str(NFTA_SET_ELEM_LIST_TABLE, tname);
                    b.str(NFTA_SET_ELEM_LIST_SET, set);
                    b.be32(NFTA_SET_ELEM_LIST_SET_ID, id);
                    b.nest(NFTA_SET_ELEM_LIST_ELEMENTS, |b| {
                        for e in chunk {
                            b.b.extend_from_slice(e);
                        }
                    });
                },
            );
            i = j;
        }
    }

    fn rule(&mut self, t: &Table, chain: &str, r: &Rule) -> Result<(), String> {
        let mut cx = RuleCx {
            fam: t.family,
            dreg: NFT_REG_1,
            table: (t.family, t.name.clone()),
            named: &self.named,
            ex: Buf::default(),
            anon: Vec::new(),
            next_id: self.set_id,
        };
        for s in &r.stmts {
            cx.stmt(s)
                .map_err(|e| format!("{e} (in `{}`)", rampart_nft::print::stmt(s)))?;
        }
        let RuleCx {
            ex, anon, next_id, ..
        } = cx;
        self.set_id = next_id;
        let fam = family(t.family);
        let tname = t.name.as_str();
        for a in &anon {
            let mut udata = Vec::new();
            udata_u32(&mut udata, UDATA_SET_KEYBYTEORDER, a.dt.byteorder());
            let mut flags = NFT_SET_ANONYMOUS | NFT_SET_CONSTANT;
            if a.interval {
                flags |= NFT_SET_INTERVAL;
            }
            let what = format!("add anonymous set to table {} {tname}", t.family.name());
            let n = a.elems.len() as u32;
            self.message(
                NFT_MSG_NEWSET,
                NLM_F_CREATE,
                fam,
                what,
                r.origin.clone(),
                |b| {
                    b.str(NFTA_SET_TABLE, tname);
                    b.str(NFTA_SET_NAME, "__set%d");
                    b.be32(NFTA_SET_FLAGS, flags);
                    b.be32(NFTA_SET_KEY_TYPE, a.dt.type_id());
                    b.be32(NFTA_SET_KEY_LEN, a.dt.len() as u32);
                    b.be32(NFTA_SET_ID, a.id);
                    b.nest(NFTA_SET_DESC, |b| b.be32(NFTA_SET_DESC_SIZE, n));
                    b.attr(NFTA_SET_USERDATA, &udata);
                },
            );
            self.set_elems(t, "__set%d", a.id, &a.elems);
        }
        let mut udata = Vec::new();
        if let Some(c) = &r.comment {
            udata_str(&mut udata, UDATA_RULE_COMMENT, c)?;
        }
        let what = format!(
            "add rule to table {} {tname} chain {chain}: {}",
            t.family.name(),
            rampart_nft::print::rule(r)
        );
        self.message(
            NFT_MSG_NEWRULE,
            NLM_F_CREATE | NLM_F_APPEND,
            fam,
            what,
            r.origin.clone(),
            |b| {
                b.str(NFTA_RULE_TABLE, tname);
                b.str(NFTA_RULE_CHAIN, chain);
                b.nest(NFTA_RULE_EXPRESSIONS, |b| b.b.extend_from_slice(&ex.b));
                if !udata.is_empty() {
                    b.attr(NFTA_RULE_USERDATA, &udata);
                }
            },
        );
        Ok(())
    }
}

fn udata_u32(out: &mut Vec<u8>, ty: u8, v: u32) {
    out.push(ty);
    out.push(4);
    out.extend_from_slice(&v.to_ne_bytes());
}

pub(crate) fn udata_str(out: &mut Vec<u8>, ty: u8, s: &str) -> Result<(), String> {
    let len = u8::try_from(s.len() + 1)
        .ok()
        .filter(|n| *n <= 128)
        .ok_or_else(|| format!("comment longer than 127 bytes: {s:?}"))?;
    out.push(ty);
    out.push(len);
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    Ok(())
}

/// The data type of a value: its length, byte order, symbols and nft type id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dt {
    Nfproto,
    InetProto,
    IfName,
    Service,
    Ipv4,
    Ipv6,
    IcmpType,
    Icmp6Type,
    CtState,
    CtStatus,
    CtDir,
    Mark,
    TcpFlag,
    FibAddr,
    PktType,
    Mac,
    /// Milliseconds in host order (`ct expiration`).
    Time,
    /// A plain integer.
    Int {
        len: u8,
        big_endian: bool,
    },
    /// A concatenation: its length (each part rounded up to 4 bytes) and
    /// nft's composite type id (the parts' ids, 6 bits each).
    Concat {
        len: u8,
        id: u32,
    },
}

impl Dt {
    pub(crate) fn len(self) -> usize {
        match self {
            Dt::Nfproto | Dt::InetProto | Dt::IcmpType | Dt::Icmp6Type | Dt::CtDir => 1,
            Dt::TcpFlag | Dt::PktType => 1,
            Dt::Service => 2,
            Dt::Ipv4 | Dt::CtState | Dt::CtStatus | Dt::Mark | Dt::FibAddr | Dt::Time => 4,
            Dt::Ipv6 | Dt::IfName => 16,
            Dt::Mac => 6,
            Dt::Int { len, .. } | Dt::Concat { len, .. } => usize::from(len),
        }
    }

    pub(crate) fn big_endian(self) -> bool {
        match self {
            Dt::Service | Dt::Ipv4 | Dt::Ipv6 | Dt::Mac => true,
            Dt::Int { big_endian, .. } => big_endian,
            _ => false,
        }
    }

    fn byteorder(self) -> u32 {
        if matches!(self, Dt::Concat { .. }) {
            // nft's BYTEORDER_INVALID: a concatenation has none.
            0
        } else if self.big_endian() {
            BYTEORDER_BIG
        } else {
            BYTEORDER_HOST
        }
    }

    /// A bit mask type: an implicit `==` tests bits (`ct state new`).
    fn bitmask(self) -> bool {
        matches!(self, Dt::CtState | Dt::CtStatus | Dt::TcpFlag)
    }

    fn syms(self) -> &'static [(&'static str, u64)] {
        match self {
            Dt::Nfproto => NFPROTO_SYMS,
            Dt::InetProto => INET_PROTO_SYMS,
            Dt::IcmpType => ICMP_TYPE_SYMS,
            Dt::Icmp6Type => ICMP6_TYPE_SYMS,
            Dt::CtState => CT_STATE_SYMS,
            Dt::CtStatus => CT_STATUS_SYMS,
            Dt::CtDir => CT_DIR_SYMS,
            Dt::TcpFlag => TCP_FLAG_SYMS,
            Dt::FibAddr => FIB_ADDR_SYMS,
            Dt::PktType => PKTTYPE_SYMS,
            _ => &[],
        }
    }

    fn type_id(self) -> u32 {
        match self {
            Dt::Ipv4 => dtype::IPADDR,
            Dt::Ipv6 => dtype::IP6ADDR,
            Dt::Mac => dtype::ETHERADDR,
            Dt::InetProto => dtype::INET_PROTOCOL,
            Dt::Service => dtype::INET_SERVICE,
            Dt::IcmpType => dtype::ICMP_TYPE,
            Dt::Icmp6Type => dtype::ICMP6_TYPE,
            Dt::CtState => dtype::CT_STATE,
            Dt::Mark => dtype::MARK,
            Dt::IfName => dtype::IFNAME,
            Dt::PktType => dtype::PKTTYPE,
            Dt::Concat { id, .. } => id,
            _ => dtype::INTEGER,
        }
    }
}

/// The type of a concatenation of values of types `parts`.
pub(crate) fn concat_dt(parts: &[Dt]) -> Result<Dt, String> {
    // nft's TYPE_BITS
    const TYPE_BITS: u32 = 6;
    let mut len = 0usize;
    let mut id = 0u32;
    for p in parts {
        len += p.len().div_ceil(4) * 4;
        id = (id << TYPE_BITS) | p.type_id();
    }
    // 16 32-bit registers from register 1 on.
    if len > 64 {
        return Err(format!("concatenation of {len} bytes is longer than 64"));
    }
    Ok(Dt::Concat { len: len as u8, id })
}

/// The register of the 32-bit word `off` (counted from register 1) as nft
/// names it: a 16-byte register when aligned to one, else a 32-bit one.
fn reg32(off: u32) -> u32 {
    if off.is_multiple_of(4) {
        NFT_REG_1 + off / 4
    } else {
        NFT_REG32_00 + off
    }
}

pub(crate) fn key_dt(k: KeyType) -> Dt {
    match k {
        KeyType::Ipv4Addr => Dt::Ipv4,
        KeyType::Ipv6Addr => Dt::Ipv6,
        KeyType::InetProto => Dt::InetProto,
        KeyType::InetService => Dt::Service,
        KeyType::EtherAddr => Dt::Mac,
        KeyType::Ifname => Dt::IfName,
    }
}

/// `(base, offset, length, type)` of a payload field.
fn payload_field(p: Proto, field: &str) -> Result<(u32, u32, u32, Dt), String> {
    const NET: u32 = 1;
    const TH: u32 = 2;
    let int = |len: u8| Dt::Int {
        len,
        big_endian: true,
    };
    let r = match (p, field) {
        (Proto::Ip, "saddr") => (NET, 12, 4, Dt::Ipv4),
        (Proto::Ip, "daddr") => (NET, 16, 4, Dt::Ipv4),
        (Proto::Ip, "protocol") => (NET, 9, 1, Dt::InetProto),
        (Proto::Ip, "ttl") => (NET, 8, 1, int(1)),
        (Proto::Ip, "length") => (NET, 2, 2, int(2)),
        (Proto::Ip, "id") => (NET, 4, 2, int(2)),
        (Proto::Ip, "frag-off") => (NET, 6, 2, int(2)),
        (Proto::Ip6, "saddr") => (NET, 8, 16, Dt::Ipv6),
        (Proto::Ip6, "daddr") => (NET, 24, 16, Dt::Ipv6),
        (Proto::Ip6, "nexthdr") => (NET, 6, 1, Dt::InetProto),
        (Proto::Ip6, "hoplimit") => (NET, 7, 1, int(1)),
        (Proto::Ip6, "length") => (NET, 4, 2, int(2)),
        (
            Proto::Tcp | Proto::Udp | Proto::Udplite | Proto::Sctp | Proto::Dccp | Proto::Th,
            "sport",
        ) => (TH, 0, 2, Dt::Service),
        (
            Proto::Tcp | Proto::Udp | Proto::Udplite | Proto::Sctp | Proto::Dccp | Proto::Th,
            "dport",
        ) => (TH, 2, 2, Dt::Service),
        (Proto::Tcp, "sequence") => (TH, 4, 4, int(4)),
        (Proto::Tcp, "ackseq") => (TH, 8, 4, int(4)),
        (Proto::Tcp, "flags") => (TH, 13, 1, Dt::TcpFlag),
        (Proto::Tcp, "window") => (TH, 14, 2, int(2)),
        (Proto::Udp | Proto::Udplite, "length") => (TH, 4, 2, int(2)),
        (Proto::Icmp, "type") => (TH, 0, 1, Dt::IcmpType),
        (Proto::Icmp, "code") => (TH, 1, 1, int(1)),
        (Proto::Icmpv6, "type") => (TH, 0, 1, Dt::Icmp6Type),
        (Proto::Icmpv6, "code") => (TH, 1, 1, int(1)),
        (p, f) => {
            return Err(format!(
                "payload field `{} {f}` is not encoded over netlink yet",
                p.name()
            ))
        }
    };
    Ok(r)
}

pub(crate) fn int_bytes(v: u128, len: usize, big_endian: bool) -> Result<Vec<u8>, String> {
    if len < 16 && v >> (len * 8) != 0 {
        return Err(format!("value {v} does not fit in {len} byte(s)"));
    }
    let be = v.to_be_bytes();
    let mut out = be[16 - len..].to_vec();
    if !big_endian {
        out.reverse();
    }
    Ok(out)
}

pub(crate) fn bytes_int(b: &[u8], big_endian: bool) -> u128 {
    let mut v = 0u128;
    if big_endian {
        for x in b {
            v = (v << 8) | u128::from(*x);
        }
    } else {
        for x in b.iter().rev() {
            v = (v << 8) | u128::from(*x);
        }
    }
    v
}

fn sym(dt: Dt, s: &str) -> Result<u64, String> {
    if let Some(v) = lookup(dt.syms(), s) {
        return Ok(v);
    }
    if let Some(h) = s.strip_prefix("0x") {
        return u64::from_str_radix(h, 16).map_err(|_| format!("bad number {s}"));
    }
    s.parse::<u64>()
        .map_err(|_| format!("`{s}` is not a known symbol of this type ({dt:?})"))
}

/// A constant of type `dt` as the bytes the kernel compares.
pub(crate) fn value(dt: Dt, e: &Expr) -> Result<Vec<u8>, String> {
    let int = |v: u64| int_bytes(u128::from(v), dt.len(), dt.big_endian());
    match e {
        Expr::Num(n) => int(*n),
        Expr::Hex(n) => int(u64::from(*n)),
        Expr::Millis(ms) => int(*ms),
        Expr::Bool(b) => int(u64::from(*b)),
        Expr::Sym(s) => int(sym(dt, s)?),
        Expr::Bits(v) | Expr::FlagList(v) => {
            let mut m = 0;
            for s in v {
                m |= sym(dt, s)?;
            }
            int(m)
        }
        Expr::Str(s) if dt == Dt::IfName => {
            if let Some(p) = s.strip_suffix('*') {
                Ok(p.as_bytes().to_vec())
            } else if s.len() >= 16 {
                Err(format!("interface name {s:?} is longer than 15 bytes"))
            } else {
                let mut v = s.as_bytes().to_vec();
                v.resize(16, 0);
                Ok(v)
            }
        }
        Expr::Addr(IpAddr::V4(a)) if dt == Dt::Ipv4 => Ok(a.octets().to_vec()),
        Expr::Addr(IpAddr::V6(a)) if dt == Dt::Ipv6 => Ok(a.octets().to_vec()),
        Expr::Mac(m) if dt == Dt::Mac => {
            let s = m.to_string();
            s.split(':')
                .map(|h| u8::from_str_radix(h, 16).map_err(|_| format!("bad MAC {s}")))
                .collect()
        }
        other => Err(format!(
            "value `{}` for type {dt:?} is not encoded over netlink yet",
            rampart_nft::print::expr(other)
        )),
    }
}

/// An element as an inclusive interval of integers (for interval sets).
pub(crate) fn interval(dt: Dt, e: &Expr) -> Result<(u128, u128), String> {
    let be = dt.big_endian();
    match e {
        Expr::Range(a, b) => Ok((bytes_int(&value(dt, a)?, be), bytes_int(&value(dt, b)?, be))),
        Expr::Prefix(a, p) => {
            let bytes = value(dt, &Expr::Addr(*a))?;
            let bits = bytes.len() * 8;
            let p = usize::from(*p);
            if p > bits {
                return Err(format!("prefix length {p} longer than {bits}"));
            }
            let lo = bytes_int(&bytes, true);
            let host = if p == 0 {
                if bits == 128 {
                    u128::MAX
                } else {
                    (1u128 << bits) - 1
                }
            } else if bits - p == 0 {
                0
            } else {
                (1u128 << (bits - p)) - 1
            };
            Ok((lo & !host, lo | host))
        }
        other => {
            let v = bytes_int(&value(dt, other)?, be);
            Ok((v, v))
        }
    }
}

pub(crate) fn max_of(dt: Dt) -> u128 {
    let bits = dt.len() * 8;
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// One encoded `NFTA_LIST_ELEM` of a set element.
pub(crate) fn elem(
    key: &[u8],
    flags: u32,
    timeout: Option<u32>,
    comment: Option<&str>,
) -> Result<Vec<u8>, String> {
    let mut b = Buf::default();
    let mut udata = Vec::new();
    if let Some(c) = comment {
        udata_str(&mut udata, UDATA_SET_ELEM_COMMENT, c)?;
    }
    b.nest(NFTA_LIST_ELEM, |b| {
        b.nest(NFTA_SET_ELEM_KEY, |b| b.attr(NFTA_DATA_VALUE, key));
        if flags != 0 {
            b.be32(NFTA_SET_ELEM_FLAGS, flags);
        }
        if let Some(t) = timeout {
            b.be64(NFTA_SET_ELEM_TIMEOUT, u64::from(t) * 1000);
        }
        if !udata.is_empty() {
            b.attr(NFTA_SET_ELEM_USERDATA, &udata);
        }
    });
    Ok(b.b)
}

/// The encoded elements of a set, as nft sends them: plain keys, or for an
/// interval set sorted (and with auto-merge merged) intervals, each a start
/// element and an end element (flag `INTERVAL_END`) one past its last
/// value, after a leading end element at 0 when the first interval does
/// not start there.
fn set_elements(
    dt: Dt,
    interval_set: bool,
    merge: bool,
    elems: &[Element],
) -> Result<Vec<Vec<u8>>, String> {
    fn one(e: &Element) -> Result<&Expr, String> {
        match e.key.as_slice() {
            [k] => Ok(k),
            _ => Err("concatenated set elements are not encoded over netlink yet".into()),
        }
    }
    let mut out = Vec::new();
    if !interval_set {
        for e in elems {
            let k = value(dt, one(e)?)?;
            out.push(elem(&k, 0, e.timeout, e.comment.as_deref())?);
        }
        return Ok(out);
    }
    let iv = interval_list(dt, merge, elems)?;
    let (len, be) = (dt.len(), dt.big_endian());
    if iv.first().is_some_and(|x| x.0 != 0) {
        out.push(elem(
            &int_bytes(0, len, be)?,
            NFT_SET_ELEM_INTERVAL_END,
            None,
            None,
        )?);
    }
    for (i, (lo, hi, e)) in iv.iter().enumerate() {
        out.push(elem(
            &int_bytes(*lo, len, be)?,
            0,
            e.timeout,
            e.comment.as_deref(),
        )?);
        let next_starts_here = iv.get(i + 1).is_some_and(|n| n.0 == hi.wrapping_add(1));
        if *hi != max_of(dt) && !next_starts_here {
            out.push(elem(
                &int_bytes(hi + 1, len, be)?,
                NFT_SET_ELEM_INTERVAL_END,
                None,
                None,
            )?);
        }
    }
    Ok(out)
}

/// The elements of an interval set as sorted inclusive intervals (merged
/// when `merge`), each with the element it came from: what
/// [`set_elements`] encodes, and what `setsync` diffs.
pub(crate) fn interval_list(
    dt: Dt,
    merge: bool,
    elems: &[Element],
) -> Result<Vec<(u128, u128, &Element)>, String> {
    let mut iv: Vec<(u128, u128, &Element)> = Vec::with_capacity(elems.len());
    for e in elems {
        let k = match e.key.as_slice() {
            [k] => k,
            _ => return Err("concatenated set elements are not encoded over netlink yet".into()),
        };
        let (lo, hi) = interval(dt, k)?;
        if lo > hi {
            return Err(format!("empty range in `{}`", rampart_nft::print::expr(k)));
        }
        iv.push((lo, hi, e));
    }
    iv.sort_by_key(|x| (x.0, x.1));
    if merge {
        let mut merged: Vec<(u128, u128, &Element)> = Vec::new();
        for x in iv {
            match merged.last_mut() {
                Some(last) if x.0 <= last.1.saturating_add(1) => last.1 = last.1.max(x.1),
                _ => merged.push(x),
            }
        }
        iv = merged;
    }
    Ok(iv)
}

/// The encoded elements of a (non-interval) set of concatenations: each
/// part's value padded to 4 bytes, as in the registers.
fn concat_elements(parts: &[Dt], elems: &[Element]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::with_capacity(elems.len());
    for e in elems {
        let key = concat_key(parts, e)?;
        out.push(elem(&key, 0, e.timeout, e.comment.as_deref())?);
    }
    Ok(out)
}

/// The encoded elements of an interval set of concatenations (pipapo):
/// each element carries its first key and its last key
/// (`NFTA_SET_ELEM_KEY_END`), every part padded to 4 bytes, as nft sends
/// them; no interval end elements.
fn concat_interval_elements(parts: &[Dt], elems: &[Element]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::with_capacity(elems.len());
    for e in elems {
        if e.key.len() != parts.len() {
            return Err(format!(
                "element with {} part(s) in a set of {}-part keys",
                e.key.len(),
                parts.len()
            ));
        }
        let (mut lo_key, mut hi_key) = (Vec::new(), Vec::new());
        for (dt, k) in parts.iter().zip(&e.key) {
            let (lo, hi) = interval(*dt, k)?;
            if lo > hi {
                return Err(format!("empty range in `{}`", rampart_nft::print::expr(k)));
            }
            for (v, key) in [(lo, &mut lo_key), (hi, &mut hi_key)] {
                let mut b = int_bytes(v, dt.len(), dt.big_endian())?;
                b.resize(b.len().div_ceil(4) * 4, 0);
                key.extend_from_slice(&b);
            }
        }
        let mut udata = Vec::new();
        if let Some(c) = &e.comment {
            udata_str(&mut udata, UDATA_SET_ELEM_COMMENT, c)?;
        }
        let mut b = Buf::default();
        b.nest(NFTA_LIST_ELEM, |b| {
            b.nest(NFTA_SET_ELEM_KEY, |b| b.attr(NFTA_DATA_VALUE, &lo_key));
            b.nest(NFTA_SET_ELEM_KEY_END, |b| b.attr(NFTA_DATA_VALUE, &hi_key));
            if let Some(t) = e.timeout {
                b.be64(NFTA_SET_ELEM_TIMEOUT, u64::from(t) * 1000);
            }
            if !udata.is_empty() {
                b.attr(NFTA_SET_ELEM_USERDATA, &udata);
            }
        });
        out.push(b.b);
    }
    Ok(out)
}

/// The key of one element of a set of concatenations: each part's value
/// padded to 4 bytes, as in the registers.
pub(crate) fn concat_key(parts: &[Dt], e: &Element) -> Result<Vec<u8>, String> {
    if e.key.len() != parts.len() {
        return Err(format!(
            "element with {} part(s) in a set of {}-part keys",
            e.key.len(),
            parts.len()
        ));
    }
    let mut key = Vec::new();
    for (dt, k) in parts.iter().zip(&e.key) {
        if matches!(k, Expr::Range(..) | Expr::Prefix(..)) {
            return Err(format!(
                "range `{}` in a set of concatenations without `flags interval`",
                rampart_nft::print::expr(k)
            ));
        }
        let mut v = value(*dt, k)?;
        v.resize(v.len().div_ceil(4) * 4, 0);
        key.extend_from_slice(&v);
    }
    Ok(key)
}

/// An anonymous set a rule looks up.
struct Anon {
    id: u32,
    dt: Dt,
    interval: bool,
    elems: Vec<Vec<u8>>,
}

struct RuleCx<'a> {
    fam: TableFamily,
    /// Where [`RuleCx::load`] puts its value (register 1 but inside a
    /// concatenation).
    dreg: u32,
    table: (TableFamily, String),
    named: &'a NamedSets,
    ex: Buf,
    anon: Vec<Anon>,
    next_id: u32,
}

fn expr_elem(ex: &mut Buf, name: &str, f: impl FnOnce(&mut Buf)) {
    ex.nest(NFTA_LIST_ELEM, |b| {
        b.str(NFTA_EXPR_NAME, name);
        b.nest(NFTA_EXPR_DATA, f);
    });
}

fn data_value(b: &mut Buf, ty: u16, v: &[u8]) {
    b.nest(ty, |b| b.attr(NFTA_DATA_VALUE, v));
}

fn cmp_op(op: Op) -> Result<u32, String> {
    Ok(match op {
        Op::Eq => NFT_CMP_EQ,
        Op::Ne => NFT_CMP_NEQ,
        Op::Lt => NFT_CMP_LT,
        Op::Gt => NFT_CMP_GT,
        Op::AnyBit => return Err("a bit test needs a flag list".into()),
    })
}

impl RuleCx<'_> {
    fn e(&mut self, name: &str, f: impl FnOnce(&mut Buf)) {
        expr_elem(&mut self.ex, name, f);
    }

    fn cmp(&mut self, op: u32, v: &[u8]) {
        self.e("cmp", |b| {
            b.be32(1, NFT_REG_1); // NFTA_CMP_SREG
            b.be32(2, op); // NFTA_CMP_OP
            data_value(b, 3, v); // NFTA_CMP_DATA
        });
    }

    fn bitwise(&mut self, mask: &[u8], xor: &[u8]) {
        let len = mask.len() as u32;
        let dreg = self.dreg;
        self.e("bitwise", |b| {
            b.be32(1, dreg); // SREG
            b.be32(2, dreg); // DREG
            b.be32(3, len); // LEN
            data_value(b, 4, mask); // MASK
            data_value(b, 5, xor); // XOR
        });
    }

    fn immediate(&mut self, reg: u32, v: &[u8]) {
        self.e("immediate", |b| {
            b.be32(1, reg);
            data_value(b, 2, v);
        });
    }

    fn payload(&mut self, base: u32, off: u32, len: u32) {
        let dreg = self.dreg;
        self.e("payload", |b| {
            b.be32(1, dreg); // DREG
            b.be32(2, base);
            b.be32(3, off);
            b.be32(4, len);
        });
    }

    /// Loads the value of `e` into register [`RuleCx::dreg`] (register 1
    /// unless a concatenation is being loaded); returns its type.
    fn load(&mut self, e: &Expr) -> Result<Dt, String> {
        match e {
            Expr::Payload { proto, field } => {
                let (base, off, len, dt) = payload_field(*proto, field)?;
                self.payload(base, off, len);
                Ok(dt)
            }
            Expr::Meta(k) => {
                let (key, dt) = match k {
                    MetaKey::Nfproto => (15, Dt::Nfproto),
                    MetaKey::L4proto => (16, Dt::InetProto),
                    MetaKey::Iifname => (6, Dt::IfName),
                    MetaKey::Oifname => (7, Dt::IfName),
                    MetaKey::Mark => (3, Dt::Mark),
                    MetaKey::Length => (
                        0,
                        Dt::Int {
                            len: 4,
                            big_endian: false,
                        },
                    ),
                    MetaKey::Pkttype => (19, Dt::PktType),
                    MetaKey::Skuid => (
                        10,
                        Dt::Int {
                            len: 4,
                            big_endian: false,
                        },
                    ),
                    MetaKey::Skgid => (
                        11,
                        Dt::Int {
                            len: 4,
                            big_endian: false,
                        },
                    ),
                    #[allow(unreachable_patterns)]
                    other => {
                        return Err(format!(
                            "meta key {other:?} is not encoded over netlink yet"
                        ))
                    }
                };
                let dreg = self.dreg;
                self.e("meta", |b| {
                    b.be32(2, key); // KEY
                    b.be32(1, dreg); // DREG
                });
                Ok(dt)
            }
            Expr::Ct { dir, key } => {
                let (k, dt) = match key {
                    CtKey::State => (0, Dt::CtState),
                    CtKey::Direction => (1, Dt::CtDir),
                    CtKey::Status => (2, Dt::CtStatus),
                    CtKey::Mark => (3, Dt::Mark),
                    CtKey::Expiration => (5, Dt::Time),
                    CtKey::Protocol => (10, Dt::InetProto),
                    CtKey::Saddr(Proto::Ip) => (19, Dt::Ipv4),
                    CtKey::Daddr(Proto::Ip) => (20, Dt::Ipv4),
                    CtKey::Saddr(Proto::Ip6) => (21, Dt::Ipv6),
                    CtKey::Daddr(Proto::Ip6) => (22, Dt::Ipv6),
                    CtKey::ProtoSrc => (11, Dt::Service),
                    CtKey::ProtoDst => (12, Dt::Service),
                    other => {
                        return Err(format!("ct key {other:?} is not encoded over netlink yet"))
                    }
                };
                let d = dir.map(|d| match d {
                    CtDir::Original => 0u8,
                    CtDir::Reply => 1u8,
                });
                let dreg = self.dreg;
                self.e("ct", |b| {
                    b.be32(2, k); // KEY
                    if let Some(d) = d {
                        b.u8(3, d); // DIRECTION
                    }
                    b.be32(1, dreg); // DREG
                });
                Ok(dt)
            }
            Expr::Fib { daddr, iif, oif } => {
                let mut flags = if *daddr { 2 } else { 1 };
                if *iif {
                    flags |= 8;
                }
                if *oif {
                    flags |= 16;
                }
                let dreg = self.dreg;
                self.e("fib", |b| {
                    b.be32(1, dreg); // DREG
                    b.be32(2, 3); // RESULT: ADDRTYPE
                    b.be32(3, flags);
                });
                Ok(Dt::FibAddr)
            }
            Expr::And(a, m) => {
                let dt = self.load(a)?;
                let mask = value(dt, m)?;
                let zero = vec![0; mask.len()];
                self.bitwise(&mask, &zero);
                Ok(dt)
            }
            Expr::TcpOptionExists { kind } => {
                // `tcp option K exists|missing`: 1 or 0 in one byte.
                let (dreg, kind) = (self.dreg, *kind);
                self.e("exthdr", |b| {
                    b.be32(1, dreg); // DREG
                    b.u8(2, kind); // TYPE
                    b.be32(3, 0); // OFFSET
                    b.be32(4, 1); // LEN
                    b.be32(6, 1); // OP: NFT_EXTHDR_OP_TCPOPT
                    b.be32(5, 1); // FLAGS: NFT_EXTHDR_F_PRESENT
                });
                Ok(Dt::Int {
                    len: 1,
                    big_endian: false,
                })
            }
            Expr::Concat(parts) => {
                // As nft: each part in the next 32-bit registers, from
                // register 1 on, its length rounded up to 4 bytes.
                let start = self.dreg;
                if start != NFT_REG_1 {
                    return Err("a concatenation inside a concatenation".into());
                }
                let mut off = 0u32;
                let mut dts = Vec::new();
                for p in parts {
                    self.dreg = reg32(off);
                    let dt = self.load(p);
                    self.dreg = start;
                    let dt = dt?;
                    if matches!(dt, Dt::Concat { .. }) {
                        return Err("a concatenation inside a concatenation".into());
                    }
                    off += (dt.len() as u32).div_ceil(4);
                    dts.push(dt);
                }
                concat_dt(&dts)
            }
            other => Err(format!(
                "`{}` as a value source is not encoded over netlink yet",
                rampart_nft::print::expr(other)
            )),
        }
    }

    fn stmt(&mut self, s: &Stmt) -> Result<(), String> {
        match s {
            Stmt::Match(m) => self.matches(m),
            Stmt::Counter => {
                self.e("counter", |_| {});
                Ok(())
            }
            Stmt::Limit(l) => self.limit(l),
            Stmt::Log(l) => self.log(l),
            Stmt::SetUpdate(u) => self.set_update(u),
            Stmt::CtCount { count, over } => {
                self.connlimit(*count, *over);
                Ok(())
            }
            Stmt::Reject(r) => {
                let (ty, code) = match r {
                    Reject::Icmp(n) => (
                        0,
                        Some(
                            lookup(ICMP_CODE_SYMS, n)
                                .ok_or_else(|| format!("icmp code {n} unknown"))?,
                        ),
                    ),
                    Reject::Icmpv6(n) => (
                        0,
                        Some(
                            lookup(ICMP6_CODE_SYMS, n)
                                .ok_or_else(|| format!("icmpv6 code {n} unknown"))?,
                        ),
                    ),
                    Reject::TcpReset => (1, None),
                    #[allow(unreachable_patterns)]
                    other => {
                        return Err(format!("reject {other:?} is not encoded over netlink yet"))
                    }
                };
                self.e("reject", |b| {
                    b.be32(1, ty);
                    if let Some(c) = code {
                        b.u8(2, c as u8);
                    }
                });
                Ok(())
            }
            Stmt::Nat(n) => self.nat(n),
            Stmt::Mangle { target, value } => self.mangle(target, value),
            Stmt::Notrack => {
                self.e("notrack", |_| {});
                Ok(())
            }
            Stmt::Queue(q) => {
                let (num, total) = match &q.num {
                    Expr::Num(n) => (*n, 1),
                    Expr::Range(a, b) => match (&**a, &**b) {
                        (Expr::Num(a), Expr::Num(b)) if b >= a => (*a, b - a + 1),
                        _ => return Err("queue range is not numeric".into()),
                    },
                    _ => return Err("queue number is not numeric".into()),
                };
                let num = u16::try_from(num).map_err(|_| "queue number too large")?;
                let total = u16::try_from(total).map_err(|_| "queue range too large")?;
                let flags = u16::from(q.bypass) | (u16::from(q.fanout) << 1);
                self.e("queue", |b| {
                    b.be16(1, num);
                    b.be16(2, total);
                    if flags != 0 {
                        b.be16(3, flags);
                    }
                });
                Ok(())
            }
            Stmt::Verdict(v) => {
                let (code, chain) = match v {
                    Verdict::Accept => (NF_ACCEPT, None),
                    Verdict::Drop => (NF_DROP, None),
                    Verdict::Return => (NFT_RETURN, None),
                    Verdict::Jump(c) => (NFT_JUMP, Some(c.as_str())),
                    Verdict::Goto(c) => (NFT_GOTO, Some(c.as_str())),
                    #[allow(unreachable_patterns)]
                    other => {
                        return Err(format!("verdict {other:?} is not encoded over netlink yet"))
                    }
                };
                self.e("immediate", |b| {
                    b.be32(1, NFT_REG_VERDICT);
                    b.nest(2, |b| {
                        b.nest(NFTA_DATA_VERDICT, |b| {
                            b.be32(NFTA_VERDICT_CODE, code as u32);
                            if let Some(c) = chain {
                                b.str(NFTA_VERDICT_CHAIN, c);
                            }
                        })
                    });
                });
                Ok(())
            }
            #[allow(unreachable_patterns)]
            other => Err(format!(
                "statement `{}` is not encoded over netlink yet",
                rampart_nft::print::stmt(other)
            )),
        }
    }

    fn matches(&mut self, m: &Match) -> Result<(), String> {
        match (&m.right, m.op) {
            (Expr::Prefix(addr, plen), Op::Eq | Op::Ne) => {
                let Expr::Payload { proto, field } = &m.left else {
                    return Err("a prefix on a non-payload value".into());
                };
                let (base, off, len, dt) = payload_field(*proto, field)?;
                let bytes = value(dt, &Expr::Addr(*addr))?;
                let plen = usize::from(*plen);
                if plen == 0 || plen > bytes.len() * 8 || bytes.len() != len as usize {
                    return Err(format!("prefix length {plen} out of range"));
                }
                // As nft: a byte-aligned prefix compares its leading bytes;
                // any other loads the whole field and masks it.
                if plen % 8 == 0 {
                    let n = plen / 8;
                    self.payload(base, off, n as u32);
                    self.cmp(cmp_op(m.op)?, &bytes[..n]);
                } else {
                    let mut mask = vec![0u8; bytes.len()];
                    for (i, k) in mask.iter_mut().enumerate() {
                        let bits = plen.saturating_sub(i * 8).min(8);
                        *k = if bits == 0 { 0 } else { 0xffu8 << (8 - bits) };
                    }
                    let data: Vec<u8> = bytes.iter().zip(&mask).map(|(d, k)| d & k).collect();
                    self.payload(base, off, len);
                    self.bitwise(&mask, &vec![0; mask.len()]);
                    self.cmp(cmp_op(m.op)?, &data);
                }
                Ok(())
            }
            (Expr::Range(lo, hi), Op::Eq | Op::Ne) => {
                let dt = self.load(&m.left)?;
                let (lo, hi) = (value(dt, lo)?, value(dt, hi)?);
                if m.op == Op::Eq {
                    self.cmp(NFT_CMP_GTE, &lo);
                    self.cmp(NFT_CMP_LTE, &hi);
                } else {
                    self.e("range", |b| {
                        b.be32(1, NFT_REG_1);
                        b.be32(2, NFT_CMP_NEQ);
                        data_value(b, 3, &lo);
                        data_value(b, 4, &hi);
                    });
                }
                Ok(())
            }
            (Expr::AnonSet(v), op) if v.len() == 1 => self.matches(&Match {
                left: m.left.clone(),
                op,
                right: v[0].clone(),
            }),
            (Expr::AnonSet(v), Op::Eq | Op::Ne) => {
                let dt = self.load(&m.left)?;
                let interval = v
                    .iter()
                    .any(|e| matches!(e, Expr::Range(..) | Expr::Prefix(..)));
                let elems: Vec<Element> = v
                    .iter()
                    .map(|e| Element {
                        key: vec![e.clone()],
                        timeout: None,
                        comment: None,
                    })
                    .collect();
                let elems = set_elements(dt, interval, interval, &elems)?;
                self.next_id += 1;
                let id = self.next_id;
                self.anon.push(Anon {
                    id,
                    dt,
                    interval,
                    elems,
                });
                let inv = m.op == Op::Ne;
                self.e("lookup", |b| {
                    b.str(1, "__set%d"); // SET
                    b.be32(2, NFT_REG_1); // SREG
                    b.be32(4, id); // SET_ID
                    if inv {
                        b.be32(5, 1); // FLAGS: NFT_LOOKUP_F_INV
                    }
                });
                Ok(())
            }
            (Expr::SetRef(name), Op::Eq | Op::Ne) => {
                let key = (self.table.0, self.table.1.clone(), name.clone());
                let (id, sdt) = *self
                    .named
                    .get(&key)
                    .ok_or_else(|| format!("set @{name} is not declared in this table"))?;
                let dt = self.load(&m.left)?;
                if dt.len() != sdt.len() {
                    return Err(format!("set @{name} has keys of another length"));
                }
                let inv = m.op == Op::Ne;
                let name = name.clone();
                self.e("lookup", |b| {
                    b.str(1, &name);
                    b.be32(2, NFT_REG_1);
                    b.be32(4, id);
                    if inv {
                        b.be32(5, 1);
                    }
                });
                Ok(())
            }
            (Expr::FlagList(_) | Expr::Bits(_) | Expr::Sym(_), Op::AnyBit) => {
                let dt = self.load(&m.left)?;
                let mask = value(dt, &m.right)?;
                let zero = vec![0; mask.len()];
                self.bitwise(&mask, &zero);
                self.cmp(NFT_CMP_NEQ, &zero);
                Ok(())
            }
            (
                Expr::Num(_)
                | Expr::Hex(_)
                | Expr::Sym(_)
                | Expr::Str(_)
                | Expr::Addr(_)
                | Expr::Mac(_)
                | Expr::Millis(_)
                | Expr::Bits(_)
                | Expr::FlagList(_)
                | Expr::Bool(_),
                op,
            ) => {
                let dt = self.load(&m.left)?;
                let v = value(dt, &m.right)?;
                let implicit = op == Op::Eq && !matches!(m.left, Expr::And(..));
                if implicit && dt.bitmask() {
                    let zero = vec![0; v.len()];
                    self.bitwise(&v, &zero);
                    self.cmp(NFT_CMP_NEQ, &zero);
                } else {
                    self.cmp(cmp_op(op)?, &v);
                }
                Ok(())
            }
            _ => Err(format!(
                "match `{} {} {}` is not encoded over netlink yet",
                rampart_nft::print::expr(&m.left),
                m.op.symbol(),
                rampart_nft::print::expr(&m.right)
            )),
        }
    }

    /// `connlimit`: `ct count [over] N`.
    fn connlimit(&mut self, count: u32, over: bool) {
        self.e("connlimit", |b| {
            b.be32(1, count); // COUNT
            b.be32(2, u32::from(over)); // FLAGS: NFT_CONNLIMIT_F_INV
        });
    }

    /// `add|update|delete @set { KEY [timeout T] [STMT] }`: the key into
    /// register 1 (a concatenation from there on), then one `dynset`
    /// expression with the per-element statements nested inside.
    fn set_update(&mut self, u: &SetUpdate) -> Result<(), String> {
        let key = (self.table.0, self.table.1.clone(), u.set.clone());
        let (id, sdt) = *self
            .named
            .get(&key)
            .ok_or_else(|| format!("set @{} is not declared in this table", u.set))?;
        let dt = self.load(&u.key)?;
        if dt.len() != sdt.len() {
            return Err(format!("set @{} has keys of another length", u.set));
        }
        // The per-element statements as expressions of their own.
        let outer = std::mem::take(&mut self.ex);
        let mut inner = Vec::new();
        let mut res = Ok(());
        for s in &u.stmts {
            match s {
                Stmt::Limit(l) => {
                    if let Err(e) = self.limit(l) {
                        res = Err(e);
                    }
                }
                Stmt::CtCount { count, over } => self.connlimit(*count, *over),
                other => {
                    res = Err(format!(
                        "`{}` inside a set update is not encoded over netlink yet",
                        rampart_nft::print::stmt(other)
                    ))
                }
            }
            inner.push(std::mem::take(&mut self.ex));
        }
        self.ex = outer;
        res?;
        let op = match u.op {
            SetOp::Add => 0,
            SetOp::Update => 1,
            SetOp::Delete => 2,
        };
        let timeout = u.timeout.map(|t| u64::from(t) * 1000);
        let name = u.set.as_str();
        self.e("dynset", |b| {
            b.be32(4, NFT_REG_1); // SREG_KEY
            b.be32(3, op); // OP
            if let Some(t) = timeout {
                b.be64(6, t); // TIMEOUT (ms)
            }
            b.str(1, name); // SET_NAME
            b.be32(2, id); // SET_ID
            match inner.as_slice() {
                [] => {}
                // EXPR: one expression, as nft sends a single statement.
                [one] => b.nest(7, |b| {
                    // The inner buffer holds one NFTA_LIST_ELEM: its content
                    // (name and data) is what EXPR nests.
                    b.b.extend_from_slice(&one.b[4..]);
                }),
                // EXPRESSIONS: a list of expressions.
                many => b.nest(10, |b| {
                    for x in many {
                        b.b.extend_from_slice(&x.b);
                    }
                }),
            }
        });
        Ok(())
    }

    fn limit(&mut self, l: &rampart_nft::Limit) -> Result<(), String> {
        let unit = lookup(LIMIT_UNIT_SYMS, l.unit)
            .ok_or_else(|| format!("limit unit {} unknown", l.unit))?;
        let (rate, burst) = (l.rate, l.burst);
        // NFT_LIMIT_F_INV: `limit rate over`.
        let flags = u32::from(l.over);
        self.e("limit", |b| {
            b.be64(1, rate);
            b.be64(2, unit);
            b.be32(3, burst);
            b.be32(4, 0); // NFT_LIMIT_PKTS
            b.be32(5, flags);
        });
        Ok(())
    }

    fn log(&mut self, l: &Log) -> Result<(), String> {
        let level = match l.level {
            Some(n) => {
                Some(lookup(LOG_LEVEL_SYMS, n).ok_or_else(|| format!("log level {n} unknown"))?)
            }
            None => None,
        };
        let mut flags = 0u32;
        for f in &l.flags {
            flags |= match *f {
                "tcp sequence" => 1,
                "tcp options" => 2,
                "ip options" => 4,
                "skuid" => 8,
                "ether" => 0x20,
                other => return Err(format!("log flag {other} unknown")),
            };
        }
        self.e("log", |b| {
            if let Some(g) = l.group {
                b.be16(1, g);
            }
            if let Some(p) = &l.prefix {
                b.str(2, p);
            }
            if let Some(n) = l.snaplen {
                b.be32(3, n);
            }
            if let Some(n) = l.queue_threshold {
                b.be16(4, n);
            }
            if let Some(lv) = level {
                b.be32(5, lv as u32);
            }
            if flags != 0 {
                b.be32(6, flags);
            }
        });
        Ok(())
    }

    fn nat(&mut self, n: &rampart_nft::Nat) -> Result<(), String> {
        // NF_NAT_RANGE_NETMAP: `prefix`, map the network part only.
        let mut flags = if n.prefix { 0x40 } else { 0u32 };
        for f in &n.flags {
            flags |= match *f {
                "random" => 4,
                "persistent" => 8,
                "fully-random" => 16,
                other => return Err(format!("NAT flag {other} unknown")),
            };
        }
        let mut reg = NFT_REG_1;
        // Addresses: one immediate each (min, max).
        let mut addr_regs = None;
        let mut nfam = match self.fam {
            TableFamily::Ip => NFPROTO_IPV4,
            TableFamily::Ip6 => NFPROTO_IPV6,
            TableFamily::Inet => 0,
        };
        // A prefix is the range of its addresses (`prefix to 10.1.2.0/24`:
        // 10.1.2.0-10.1.2.255), as nft sends it.
        let prefix_range;
        let addr = match &n.addr {
            Some(Expr::Prefix(a, p)) => {
                let dt = if a.is_ipv4() { Dt::Ipv4 } else { Dt::Ipv6 };
                let (lo, hi) = interval(dt, &Expr::Prefix(*a, *p))?;
                let addr = |v: u128| match a {
                    IpAddr::V4(_) => Expr::Addr(IpAddr::V4((v as u32).into())),
                    IpAddr::V6(_) => Expr::Addr(IpAddr::V6(v.into())),
                };
                prefix_range = Expr::range(addr(lo), addr(hi));
                Some(&prefix_range)
            }
            other => other.as_ref(),
        };
        if let Some(a) = addr {
            let (lo, hi) = match a {
                Expr::Range(x, y) => (&**x, Some(&**y)),
                x => (x, None),
            };
            let dt = match lo {
                Expr::Addr(IpAddr::V4(_)) => Dt::Ipv4,
                Expr::Addr(IpAddr::V6(_)) => Dt::Ipv6,
                other => {
                    return Err(format!(
                        "NAT address `{}` is not encoded over netlink yet",
                        rampart_nft::print::expr(other)
                    ))
                }
            };
            if nfam == 0 {
                nfam = if dt == Dt::Ipv4 {
                    NFPROTO_IPV4
                } else {
                    NFPROTO_IPV6
                };
            }
            let min = reg;
            self.immediate(reg, &value(dt, lo)?);
            reg += 1;
            let max = match hi {
                Some(h) => {
                    self.immediate(reg, &value(dt, h)?);
                    reg += 1;
                    Some(reg - 1)
                }
                None => None,
            };
            addr_regs = Some((min, max));
        }
        let mut port_regs = None;
        if let Some(p) = &n.port {
            let (lo, hi) = match p {
                Expr::Range(x, y) => (&**x, Some(&**y)),
                x => (x, None),
            };
            let min = reg;
            self.immediate(reg, &value(Dt::Service, lo)?);
            reg += 1;
            let max = match hi {
                Some(h) => {
                    self.immediate(reg, &value(Dt::Service, h)?);
                    reg += 1;
                    Some(reg - 1)
                }
                None => None,
            };
            port_regs = Some((min, max));
            flags |= 2; // NF_NAT_RANGE_PROTO_SPECIFIED
        }
        match n.kind {
            NatKind::Snat | NatKind::Dnat => {
                let ty = if n.kind == NatKind::Snat { 0 } else { 1 };
                self.e("nat", |b| {
                    b.be32(1, ty);
                    b.be32(2, u32::from(nfam));
                    if let Some((min, max)) = addr_regs {
                        b.be32(3, min);
                        if let Some(m) = max {
                            b.be32(4, m);
                        }
                    }
                    if let Some((min, max)) = port_regs {
                        b.be32(5, min);
                        if let Some(m) = max {
                            b.be32(6, m);
                        }
                    }
                    if flags != 0 {
                        b.be32(7, flags);
                    }
                });
            }
            NatKind::Masquerade | NatKind::Redirect => {
                if addr_regs.is_some() {
                    return Err(format!("{} takes no address", n.kind.name()));
                }
                let masq = n.kind == NatKind::Masquerade;
                self.e(if masq { "masq" } else { "redir" }, |b| {
                    let (fl, pmin, pmax) = if masq { (1, 2, 3) } else { (3, 1, 2) };
                    if flags != 0 {
                        b.be32(fl, flags);
                    }
                    if let Some((min, max)) = port_regs {
                        b.be32(pmin, min);
                        if let Some(m) = max {
                            b.be32(pmax, m);
                        }
                    }
                });
            }
            #[allow(unreachable_patterns)]
            other => return Err(format!("NAT {other:?} is not encoded over netlink yet")),
        }
        Ok(())
    }

    fn mangle(&mut self, target: &Expr, v: &Expr) -> Result<(), String> {
        match target {
            Expr::Meta(MetaKey::Mark)
            | Expr::Ct {
                dir: None,
                key: CtKey::Mark,
            } => {
                match v {
                    Expr::Num(_) | Expr::Hex(_) => {
                        let bytes = value(Dt::Mark, v)?;
                        self.immediate(NFT_REG_1, &bytes);
                    }
                    Expr::AndXor { base, and, xor } => {
                        self.load(base)?;
                        self.bitwise(&and.to_ne_bytes(), &xor.to_ne_bytes());
                    }
                    other => {
                        self.load(other)?;
                    }
                }
                if matches!(target, Expr::Meta(_)) {
                    self.e("meta", |b| {
                        b.be32(2, 3); // KEY mark
                        b.be32(3, NFT_REG_1); // SREG
                    });
                } else {
                    self.e("ct", |b| {
                        b.be32(2, 3); // KEY mark
                        b.be32(4, NFT_REG_1); // SREG
                    });
                }
                Ok(())
            }
            Expr::Ct {
                dir,
                key: CtKey::Zone,
            } => {
                let Expr::Num(n) = v else {
                    return Err(format!(
                        "zone `{}` is not encoded over netlink yet",
                        rampart_nft::print::expr(v)
                    ));
                };
                // A zone is 16 bits in host order.
                let zone = u16::try_from(*n).map_err(|_| format!("zone {n} above 65535"))?;
                self.immediate(NFT_REG_1, &zone.to_ne_bytes());
                let d = dir.map(|d| match d {
                    CtDir::Original => 0u8,
                    CtDir::Reply => 1u8,
                });
                self.e("ct", |b| {
                    b.be32(2, 17); // KEY: NFT_CT_ZONE
                    if let Some(d) = d {
                        b.u8(3, d); // DIRECTION
                    }
                    b.be32(4, NFT_REG_1); // SREG
                });
                Ok(())
            }
            Expr::TcpMaxseg => {
                match v {
                    Expr::RtMtu => {
                        self.e("rt", |b| {
                            b.be32(1, NFT_REG_1);
                            b.be32(2, 3); // NFT_RT_TCPMSS
                        });
                        self.e("byteorder", |b| {
                            b.be32(1, NFT_REG_1);
                            b.be32(2, NFT_REG_1);
                            b.be32(3, 1); // hton
                            b.be32(4, 2);
                            b.be32(5, 2);
                        });
                    }
                    Expr::Num(n) => {
                        let bytes = int_bytes(u128::from(*n), 2, true)?;
                        self.immediate(NFT_REG_1, &bytes);
                    }
                    other => {
                        return Err(format!(
                            "MSS value `{}` is not encoded over netlink yet",
                            rampart_nft::print::expr(other)
                        ))
                    }
                }
                self.e("exthdr", |b| {
                    b.u8(2, 2); // TYPE: maxseg
                    b.be32(3, 2); // OFFSET
                    b.be32(4, 2); // LEN
                    b.be32(6, 1); // OP: tcp option
                    b.be32(7, NFT_REG_1); // SREG
                });
                Ok(())
            }
            other => Err(format!(
                "`{} set ...` is not encoded over netlink yet",
                rampart_nft::print::expr(other)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_elements_follow_nft() {
        let e = |x: Expr| Element {
            key: vec![x],
            timeout: None,
            comment: None,
        };
        let p = |s: &str, l| Expr::Prefix(s.parse().expect("addr"), l);
        let out = set_elements(
            Dt::Ipv4,
            true,
            true,
            &[e(p("192.168.1.0", 24)), e(p("192.168.1.128", 25))],
        )
        .expect("encodes");
        // leading end at 0, start, end
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn unsupported_constructs_are_errors() {
        let rs = Ruleset {
            tables: vec![Table {
                family: TableFamily::Inet,
                name: "t".into(),
                sets: vec![],
                chains: vec![rampart_nft::Chain {
                    name: "c".into(),
                    base: None,
                    rules: vec![Rule {
                        // `rt mtu` is only a value of `maxseg size set`.
                        stmts: vec![Stmt::eq(Expr::RtMtu, Expr::Num(1500))],
                        comment: None,
                        origin: None,
                        origins: Vec::new(),
                    }],
                }],
            }],
        };
        let err = encode(&rs, 1).expect_err("not encoded");
        assert!(err[0].to_string().contains("not encoded"), "{}", err[0]);
    }
}
