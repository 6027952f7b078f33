//! Reading rampart's tables back from the kernel: the rules of a table with
//! their handles and counters (`NFT_MSG_GETRULE` dump) and its named sets
//! with their element counts (`NFT_MSG_GETSET` + `NFT_MSG_GETSETELEM`
//! dumps). Used by `rampart status` to map counters back to policy lines.
//!
//! Rules come back per chain in chain order (the kernel's list order), and
//! rampart writes its tables in one batch in the order of the
//! [`rampart_nft::Ruleset`], so the n-th live rule of a chain is the n-th
//! rule of that chain in the ruleset that was applied — as long as nobody
//! else changed the table, which the caller checks by comparing counts.

use crate::consts::*;
use crate::nla::{attrs, Buf, NLM_F_DUMP, NLM_F_REQUEST};
use crate::socket::Socket;
use rampart_nft::TableFamily;

/// One rule as the kernel holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRule {
    pub chain: String,
    /// The kernel's handle (`nft -a list`).
    pub handle: u64,
    /// 0-based position within its chain.
    pub position: usize,
    /// Packets and bytes of the rule's first `counter` expression; `None`
    /// when the rule has no counter.
    pub packets: Option<u64>,
    pub bytes: Option<u64>,
    /// The rule's comment (`comment "..."`, userdata), when it has one.
    pub comment: Option<String>,
    /// Names of the rule's expressions in order (`meta`, `cmp`, `counter`, ...).
    pub exprs: Vec<String>,
}

/// One named set of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSet {
    pub name: String,
    /// Elements held (interval end markers are not counted).
    pub elements: usize,
}

fn family(f: TableFamily) -> u8 {
    match f {
        TableFamily::Inet => NFPROTO_INET,
        TableFamily::Ip => NFPROTO_IPV4,
        TableFamily::Ip6 => NFPROTO_IPV6,
    }
}

/// Runs one dump, asking again (a few times) when the ruleset changed
/// while it was read. Each answer is its payload after `nlmsghdr`, with
/// the 4-byte `nfgenmsg` still in front.
pub(crate) fn dump(ty: u16, fam: u8, attrs_of: impl Fn(&mut Buf)) -> std::io::Result<Vec<Vec<u8>>> {
    let sock = Socket::open()?;
    for attempt in 0..5u32 {
        let seq = attempt + 1;
        let mut b = Buf::default();
        b.msg(
            (NFNL_SUBSYS_NFTABLES << 8) | ty,
            NLM_F_REQUEST | NLM_F_DUMP,
            seq,
            fam,
            0,
            &attrs_of,
        );
        if let Some(out) = sock.dump(&b.b, seq)? {
            return Ok(out);
        }
    }
    Err(std::io::Error::other(
        "the ruleset kept changing while it was read",
    ))
}

fn str_of(v: &[u8]) -> String {
    let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

fn be64(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.get(..8)?.try_into().ok()?))
}

fn be32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
}

/// The names of the tables of family `fam` (exactly that family: `inet`
/// does not list `ip` tables).
pub fn list_tables(fam: TableFamily) -> std::io::Result<Vec<String>> {
    let f = family(fam);
    let answers = dump(NFT_MSG_GETTABLE, f, |_| {})?;
    Ok(answers
        .iter()
        .filter(|a| a.first() == Some(&f))
        .flat_map(|a| {
            attrs(a.get(4..).unwrap_or_default())
                .into_iter()
                .filter(|(t, _)| *t == NFTA_TABLE_NAME)
                .map(|(_, v)| str_of(v))
        })
        .collect())
}

fn not_found(fam: TableFamily, name: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("table {} {name} is not loaded", fam.name()),
    )
}

/// The rules of table `name` of family `fam`, chain by chain in the
/// kernel's order. A table that does not exist is an error of kind
/// `NotFound` (a dump filtered by a missing table would be empty).
pub fn list_rules(fam: TableFamily, name: &str) -> std::io::Result<Vec<LiveRule>> {
    if !list_tables(fam)?.iter().any(|t| t == name) {
        return Err(not_found(fam, name));
    }
    let answers = dump(NFT_MSG_GETRULE, family(fam), |b| {
        b.str(NFTA_RULE_TABLE, name)
    })?;
    let mut out: Vec<LiveRule> = Vec::new();
    for a in &answers {
        if let Some(r) = parse_rule(a.get(4..).unwrap_or_default()) {
            let position = out.iter().filter(|o| o.chain == r.chain).count();
            out.push(LiveRule { position, ..r });
        }
    }
    // The kernel dumps a table's chains one after another, but keep each
    // chain's rules together regardless.
    let mut order: Vec<String> = Vec::new();
    for r in &out {
        if !order.contains(&r.chain) {
            order.push(r.chain.clone());
        }
    }
    out.sort_by_key(|r| {
        (
            order
                .iter()
                .position(|c| *c == r.chain)
                .unwrap_or(usize::MAX),
            r.position,
        )
    });
    Ok(out)
}

fn parse_rule(data: &[u8]) -> Option<LiveRule> {
    let mut r = LiveRule {
        chain: String::new(),
        handle: 0,
        position: 0,
        packets: None,
        bytes: None,
        comment: None,
        exprs: Vec::new(),
    };
    for (ty, v) in attrs(data) {
        match ty {
            NFTA_RULE_CHAIN => r.chain = str_of(v),
            NFTA_RULE_HANDLE => r.handle = be64(v)?,
            NFTA_RULE_EXPRESSIONS => {
                for (_, e) in attrs(v).into_iter().filter(|(t, _)| *t == NFTA_LIST_ELEM) {
                    let mut name = String::new();
                    let mut data: &[u8] = &[];
                    for (t, x) in attrs(e) {
                        match t {
                            NFTA_EXPR_NAME => name = str_of(x),
                            NFTA_EXPR_DATA => data = x,
                            _ => {}
                        }
                    }
                    if name == "counter" && r.packets.is_none() {
                        for (t, x) in attrs(data) {
                            match t {
                                NFTA_COUNTER_PACKETS => r.packets = be64(x),
                                NFTA_COUNTER_BYTES => r.bytes = be64(x),
                                _ => {}
                            }
                        }
                    }
                    r.exprs.push(name);
                }
            }
            NFTA_RULE_USERDATA => r.comment = udata_comment(v),
            _ => {}
        }
    }
    Some(r)
}

/// The comment TLV of a rule's userdata (type, length byte, NUL-ended text).
fn udata_comment(mut v: &[u8]) -> Option<String> {
    while v.len() >= 2 {
        let (ty, len) = (v[0], usize::from(v[1]));
        let body = v.get(2..2 + len)?;
        if ty == UDATA_RULE_COMMENT {
            return Some(str_of(body));
        }
        v = &v[2 + len..];
    }
    None
}

/// The named sets of table `name` (anonymous sets of rules are left out)
/// with their element counts.
pub fn list_sets(fam: TableFamily, name: &str) -> std::io::Result<Vec<LiveSet>> {
    if !list_tables(fam)?.iter().any(|t| t == name) {
        return Err(not_found(fam, name));
    }
    let f = family(fam);
    let answers = dump(NFT_MSG_GETSET, f, |b| b.str(NFTA_SET_TABLE, name))?;
    let mut out = Vec::new();
    for a in &answers {
        let mut sname = String::new();
        let mut flags = 0;
        for (ty, v) in attrs(a.get(4..).unwrap_or_default()) {
            match ty {
                NFTA_SET_NAME => sname = str_of(v),
                NFTA_SET_FLAGS => flags = be32(v).unwrap_or(0),
                _ => {}
            }
        }
        if flags & NFT_SET_ANONYMOUS != 0 || sname.is_empty() {
            continue;
        }
        let elems = dump(NFT_MSG_GETSETELEM, f, |b| {
            b.str(NFTA_SET_ELEM_LIST_TABLE, name);
            b.str(NFTA_SET_ELEM_LIST_SET, &sname);
        })?;
        let mut n = 0;
        for m in &elems {
            for (ty, v) in attrs(m.get(4..).unwrap_or_default()) {
                if ty != NFTA_SET_ELEM_LIST_ELEMENTS {
                    continue;
                }
                for (_, e) in attrs(v).into_iter().filter(|(t, _)| *t == NFTA_LIST_ELEM) {
                    let end = attrs(e).into_iter().any(|(t, x)| {
                        t == NFTA_SET_ELEM_FLAGS
                            && be32(x).unwrap_or(0) & NFT_SET_ELEM_INTERVAL_END != 0
                    });
                    if !end {
                        n += 1;
                    }
                }
            }
        }
        out.push(LiveSet {
            name: sname,
            elements: n,
        });
    }
    Ok(out)
}
