//! Incremental sync of named sets: send only the elements that differ
//! between the set the kernel holds and the set wanted, as `DELSETELEM` /
//! `NEWSETELEM` messages in a few large batches, each batch one
//! nf_tables transaction.
//!
//! The loaded contents are never read back from the kernel to make a
//! change: the caller passes the set as it was last loaded (rampart keeps
//! it in its state store) and the set wanted, and [`diff_set`] compares the
//! two in the kernel's own representation, computed exactly as the full
//! encoder ([`crate::encode`]) computes it:
//!
//! * a plain set (hash) is a list of keys; a key is added, deleted, or both
//!   when its comment changed;
//! * an interval set is a sorted list of intervals (merged with
//!   `auto-merge`), each a start element and an end element one past its
//!   last value (none at the top of the space, none when the next interval
//!   starts right there), plus a leading end element at 0 when the first
//!   interval starts above 0. Deleting an interval sends its exact start and
//!   end elements; a changed interval (10.0.0.0/24 grown to /23) is the old
//!   one deleted and the new one added in the same batch.
//!
//! So after a sync the kernel holds exactly the elements a full load of the
//! wanted set would have created.
//!
//! **Timeouts.** An element that carries a timeout (its own, or the set's
//! default) may have expired in the kernel, and re-adding an element that
//! exists does not restart its timeout. Such "timed" elements are therefore
//! never compared: every timed element of the old set that the new one
//! lacks is removed with `DESTROYSETELEM` (no error when it is already
//! gone), and every timed element of the new set is destroyed and added
//! again, which (re)starts its timeout — what a full load would do.
//!
//! **Batches.** Changes are sorted by address and cut into batches of
//! about [`SyncOpts::batch_elements`] set elements; changes that touch the
//! same addresses (a delete and the add replacing it) always share a batch,
//! so an address blocked before and after a sync is never let through in
//! between. A change larger than one batch is several transactions: a
//! reader between two of them sees part of the change — every address as
//! it was before or as it will be after, never an element taken out that
//! stays (so a first load of an empty set only ever holds a subset of the
//! wanted one). Plain (hash) sets are cut into batches of at most
//! [`PLAIN_BATCH`] elements (their commits cost the kernel nothing per
//! element held, and the progress bar advances per acknowledged batch);
//! interval sets into batches of [`SyncOpts::batch_elements`], because
//! every commit touching one costs a pass over the whole set.
//!
//! ```
//! use rampart_nft::{Element, Expr, KeyType, Set, TableFamily};
//! use rampart_sys::setsync::{diff_set, SyncOpts};
//! let set = |nets: &[&str]| Set {
//!     name: "bad".into(), key: vec![KeyType::Ipv4Addr], interval: true,
//!     timeout_flag: false, auto_merge: true, timeout: None, dynamic: false, size: None,
//!     elements: nets.iter().map(|n| {
//!         let (a, l) = n.split_once('/').expect("a prefix");
//!         Element { key: vec![Expr::Prefix(a.parse().expect("addr"), l.parse().expect("len"))],
//!                   timeout: None, comment: None }
//!     }).collect(),
//! };
//! let old = set(&["10.0.0.0/24", "192.0.2.0/24"]);
//! let new = set(&["10.0.0.0/23", "192.0.2.0/24"]);
//! let d = diff_set(TableFamily::Inet, "rampart", &old, &new).expect("same declaration");
//! // 10.0.0.0/24 out, 10.0.0.0/23 in; 192.0.2.0/24 untouched.
//! assert_eq!((d.added(), d.deleted()), (1, 1));
//! let batches = rampart_sys::setsync::batches(&[d], &SyncOpts::default(), 1);
//! assert_eq!(batches.len(), 1);
//! ```

use crate::consts::*;
use crate::encode::{
    bytes_int, concat_dt, concat_key, elem, family, int_bytes, interval_list, key_dt, max_of,
    value, Batch, Dt, MsgInfo,
};
use crate::nla::{attrs, messages, Buf, NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST};
use crate::socket::{SendError, Socket};
use rampart_nft::{Element, Ruleset, Set, TableFamily};
use std::cmp::Ordering;

mod concat;

const NFT_MSG_DELSETELEM: u16 = 14;
/// Like `DELSETELEM`, but an element that is not there is no error
/// (Linux 6.3).
const NFT_MSG_DESTROYSETELEM: u16 = 30;
const NFTA_SET_ELEM_EXPIRATION: u16 = 5;

/// Largest batch for a plain (hash) set: see [`batches`].
pub const PLAIN_BATCH: usize = 131_072;

/// How changes are cut into transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOpts {
    /// Set elements (keys or intervals) per batch, about: a batch ends at
    /// the first change boundary past this many.
    pub batch_elements: usize,
}

impl Default for SyncOpts {
    fn default() -> Self {
        // Every transaction that touches an interval set costs a commit
        // proportional to the whole set on the kernel side (Linux 6.18
        // rebuilds the rbtree set's lookup array), so fewer, larger batches
        // load faster: 1M elements per batch (about 60 MB of messages for
        // 1M intervals) makes a million-element load one transaction.
        SyncOpts {
            batch_elements: 1_000_000,
        }
    }
}

/// One change to the kernel's elements: the encoded `NFTA_LIST_ELEM`s of
/// one set element (one key, or the start and end of one interval).
#[derive(Debug, Clone)]
struct Op {
    del: bool,
    /// Must share a batch with the change before it (same addresses).
    join_prev: bool,
    /// The leading end element of an interval set, no set element.
    marker: bool,
    elems: Vec<Vec<u8>>,
}

/// The element changes of one named set.
#[derive(Debug, Clone)]
pub struct SetSync {
    pub family: TableFamily,
    pub table: String,
    pub set: String,
    /// Deletions use `DESTROYSETELEM` (the set has timeouts, so elements
    /// may already be gone).
    destroy: bool,
    /// An interval set (every commit costs the kernel a pass over it).
    interval: bool,
    ops: Vec<Op>,
    added: usize,
    deleted: usize,
}

impl SetSync {
    /// Set elements (keys or intervals) the sync adds; an element
    /// re-added to restart its timeout counts once here and once in
    /// [`SetSync::deleted`].
    pub fn added(&self) -> usize {
        self.added
    }

    pub fn deleted(&self) -> usize {
        self.deleted
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Every encoded element change, `(delete, NFTA_LIST_ELEM bytes)`, in
    /// the order sent: to compare two syncs.
    pub fn encoded(&self) -> Vec<(bool, Vec<u8>)> {
        self.ops
            .iter()
            .flat_map(|o| o.elems.iter().map(move |e| (o.del, e.clone())))
            .collect()
    }
}

/// The data type of a set's keys, as the encoder computes it.
fn set_dt(s: &Set) -> Result<Dt, String> {
    match s.key.as_slice() {
        [k] => Ok(key_dt(*k)),
        keys => {
            let parts: Vec<Dt> = keys.iter().map(|k| key_dt(*k)).collect();
            concat_dt(&parts)
        }
    }
}

fn plain_key(s: &Set, dt: Dt, e: &Element) -> Result<Vec<u8>, String> {
    match e.key.as_slice() {
        [k] if s.key.len() == 1 => value(dt, k),
        _ => {
            let parts: Vec<Dt> = s.key.iter().map(|k| key_dt(*k)).collect();
            concat_key(&parts, e)
        }
    }
}

/// The key bytes of element `e` of set `s` as the kernel holds it (for an
/// interval set, the start of the element): what [`get_element`] takes.
/// An error for elements the encoder cannot encode (interval sets of
/// concatenations).
pub fn element_key(s: &Set, e: &Element) -> Result<Vec<u8>, String> {
    let dt = set_dt(s)?;
    match (s.interval, e.key.as_slice()) {
        (true, _) if s.key.len() > 1 => concat::first_key(s, e),
        (true, [_]) if s.key.len() == 1 => {
            let list = interval_list(dt, false, std::slice::from_ref(e))?;
            let (lo, _, _) = list.first().ok_or("no interval")?;
            int_bytes(*lo, dt.len(), dt.big_endian())
        }
        _ => plain_key(s, dt, e),
    }
    .map_err(|e| e.to_string())
}

/// True when two sets are declared alike (everything but the elements).
pub fn same_declaration(a: &Set, b: &Set) -> bool {
    a.name == b.name
        && a.key == b.key
        && a.interval == b.interval
        && a.timeout_flag == b.timeout_flag
        && a.auto_merge == b.auto_merge
        && a.timeout == b.timeout
        && a.dynamic == b.dynamic
        && a.size == b.size
}

fn timed(s: &Set, e: &Element) -> bool {
    s.timeout.is_some() || e.timeout.is_some()
}

/// The changes that turn the elements of `old` (as loaded) into those of
/// `new` in set `new.name` of table `fam table`. Both must be declared
/// alike ([`same_declaration`]); an element the encoder cannot encode is
/// an error.
pub fn diff_set(fam: TableFamily, table: &str, old: &Set, new: &Set) -> Result<SetSync, String> {
    if !same_declaration(old, new) {
        return Err(format!(
            "set {} is declared differently; it must be created again",
            new.name
        ));
    }
    let dt = set_dt(new)?;
    let mut out = SetSync {
        family: fam,
        table: table.to_string(),
        set: new.name.clone(),
        destroy: new.timeout_flag,
        interval: new.interval,
        ops: Vec::new(),
        added: 0,
        deleted: 0,
    };
    if new.interval && new.key.len() > 1 {
        concat::diff(&mut out, old, new)?;
    } else if new.interval {
        diff_intervals(&mut out, dt, old, new)?;
    } else {
        diff_plain(&mut out, dt, old, new)?;
    }
    out.added = out.ops.iter().filter(|o| !o.del && !o.marker).count();
    out.deleted = out.ops.iter().filter(|o| o.del && !o.marker).count();
    Ok(out)
}

type Keyed<'a> = (Vec<u8>, &'a Element);

fn diff_plain(out: &mut SetSync, dt: Dt, old: &Set, new: &Set) -> Result<(), String> {
    let keyed = |s: &'_ Set| -> Result<Vec<(Vec<u8>, usize)>, String> {
        let mut v = Vec::with_capacity(s.elements.len());
        for (i, e) in s.elements.iter().enumerate() {
            v.push((plain_key(s, dt, e)?, i));
        }
        v.sort();
        // A key listed twice is loaded once (the first one wins).
        v.dedup_by(|b, a| a.0 == b.0);
        Ok(v)
    };
    let a: Vec<Keyed> = keyed(old)?
        .into_iter()
        .map(|(k, i)| (k, &old.elements[i]))
        .collect();
    let b: Vec<Keyed> = keyed(new)?
        .into_iter()
        .map(|(k, i)| (k, &new.elements[i]))
        .collect();
    let enc = |k: &[u8], e: Option<&Element>| -> Result<Vec<u8>, String> {
        match e {
            Some(e) => elem(k, 0, e.timeout, e.comment.as_deref()),
            None => elem(k, 0, None, None),
        }
    };
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let ord = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.0.cmp(&y.0),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                let (k, _) = &a[i];
                out.ops.push(Op {
                    del: true,
                    join_prev: false,
                    marker: false,
                    elems: vec![enc(k, None)?],
                });
                i += 1;
            }
            Ordering::Greater => {
                let (k, e) = &b[j];
                out.ops.push(Op {
                    del: false,
                    join_prev: false,
                    marker: false,
                    elems: vec![enc(k, Some(e))?],
                });
                j += 1;
            }
            Ordering::Equal => {
                let (k, eo) = &a[i];
                let (_, en) = &b[j];
                let resend = timed(new, en) || timed(old, eo) || eo.comment != en.comment;
                if resend {
                    out.ops.push(Op {
                        del: true,
                        join_prev: false,
                        marker: false,
                        elems: vec![enc(k, None)?],
                    });
                    out.ops.push(Op {
                        del: false,
                        join_prev: true,
                        marker: false,
                        elems: vec![enc(k, Some(en))?],
                    });
                }
                i += 1;
                j += 1;
            }
        }
    }
    Ok(())
}

/// One interval as the kernel holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Iv<'a> {
    lo: u128,
    hi: u128,
    /// Has an end element (not at the top, next one not adjacent).
    end: bool,
    e: &'a Element,
}

fn kernel_intervals<'a>(dt: Dt, s: &'a Set) -> Result<Vec<Iv<'a>>, String> {
    let list = interval_list(dt, s.auto_merge, &s.elements)?;
    let max = max_of(dt);
    Ok(list
        .iter()
        .enumerate()
        .map(|(i, (lo, hi, e))| {
            let next_starts_here = list.get(i + 1).is_some_and(|n| n.0 == hi.wrapping_add(1));
            Iv {
                lo: *lo,
                hi: *hi,
                end: *hi != max && !next_starts_here,
                e,
            }
        })
        .collect())
}

fn diff_intervals(out: &mut SetSync, dt: Dt, old: &Set, new: &Set) -> Result<(), String> {
    let a = kernel_intervals(dt, old)?;
    let b = kernel_intervals(dt, new)?;
    let (len, be) = (dt.len(), dt.big_endian());
    let start = |iv: &Iv, with_data: bool| -> Result<Vec<Vec<u8>>, String> {
        let mut v = vec![if with_data {
            elem(
                &int_bytes(iv.lo, len, be)?,
                0,
                iv.e.timeout,
                iv.e.comment.as_deref(),
            )?
        } else {
            elem(&int_bytes(iv.lo, len, be)?, 0, None, None)?
        }];
        if iv.end {
            v.push(elem(
                &int_bytes(iv.hi + 1, len, be)?,
                NFT_SET_ELEM_INTERVAL_END,
                None,
                None,
            )?);
        }
        Ok(v)
    };
    // (address where the change starts, one past where it ends, op)
    let mut ops: Vec<(u128, u128, Op)> = Vec::new();
    let marker = |v: &[Iv]| v.first().is_some_and(|x| x.lo != 0);
    let zero_end = || {
        elem(
            &int_bytes(0, len, be)?,
            NFT_SET_ELEM_INTERVAL_END,
            None,
            None,
        )
    };
    match (marker(&a), marker(&b)) {
        (true, false) => ops.push((
            0,
            0,
            Op {
                del: true,
                join_prev: false,
                marker: true,
                elems: vec![zero_end()?],
            },
        )),
        (false, true) => ops.push((
            0,
            0,
            Op {
                del: false,
                join_prev: false,
                marker: true,
                elems: vec![zero_end()?],
            },
        )),
        _ => {}
    }
    let same = |x: &Iv, y: &Iv| {
        x.lo == y.lo
            && x.hi == y.hi
            && x.end == y.end
            && x.e.timeout == y.e.timeout
            && x.e.comment == y.e.comment
    };
    let reach = |iv: &Iv| iv.hi.saturating_add(1);
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let ord = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => (x.lo, x.hi).cmp(&(y.lo, y.hi)),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Equal if same(&a[i], &b[j]) && !timed(old, a[i].e) && !timed(new, b[j].e) => {
                i += 1;
                j += 1;
            }
            Ordering::Less | Ordering::Equal if i < a.len() => {
                let x = &a[i];
                ops.push((
                    x.lo,
                    reach(x),
                    Op {
                        del: true,
                        join_prev: false,
                        marker: false,
                        elems: start(x, false)?,
                    },
                ));
                i += 1;
            }
            _ => {
                let y = &b[j];
                ops.push((
                    y.lo,
                    reach(y),
                    Op {
                        del: false,
                        join_prev: false,
                        marker: false,
                        elems: start(y, true)?,
                    },
                ));
                j += 1;
            }
        }
    }
    // Deletions before additions at the same address; then chain changes
    // whose addresses touch into groups that share a batch.
    ops.sort_by_key(|(lo, _, op)| (*lo, !op.del));
    let mut reach_so_far: Option<u128> = None;
    for (lo, hi, mut op) in ops {
        op.join_prev = reach_so_far.is_some_and(|r| lo <= r);
        reach_so_far = Some(reach_so_far.map_or(hi, |r| r.max(hi)));
        out.ops.push(op);
    }
    Ok(())
}

/// Chains alike as the kernel holds them: names, hooks, and rules with the
/// same statements and comments (where in the policy a rule came from is
/// not sent to the kernel: an edit that only moves lines is no change).
fn same_chains(a: &[rampart_nft::Chain], b: &[rampart_nft::Chain]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.name == y.name
                && x.base == y.base
                && x.rules.len() == y.rules.len()
                && x.rules
                    .iter()
                    .zip(&y.rules)
                    .all(|(r, q)| r.stmts == q.stmts && r.comment == q.comment)
        })
}

/// The element changes that turn ruleset `old` (as loaded) into `new`,
/// when the two differ in nothing but the elements of named sets (same
/// tables, chains, rules and set declarations, in the same order).
/// `None` when anything else differs: the tables must be replaced.
/// Sets whose elements are equal get no entry.
pub fn diff_ruleset(old: &Ruleset, new: &Ruleset) -> Option<Result<Vec<SetSync>, String>> {
    if old.tables.len() != new.tables.len() {
        return None;
    }
    for (a, b) in old.tables.iter().zip(&new.tables) {
        if a.family != b.family
            || a.name != b.name
            || !same_chains(&a.chains, &b.chains)
            || a.sets.len() != b.sets.len()
            || a.sets
                .iter()
                .zip(&b.sets)
                .any(|(x, y)| !same_declaration(x, y))
        {
            return None;
        }
    }
    let mut out = Vec::new();
    for (a, b) in old.tables.iter().zip(&new.tables) {
        for (x, y) in a.sets.iter().zip(&b.sets) {
            if x.elements == y.elements && !y.elements.iter().any(|e| timed(y, e)) {
                continue;
            }
            match diff_set(b.family, &b.name, x, y) {
                Ok(d) if d.is_empty() => {}
                Ok(d) => out.push(d),
                Err(e) => return Some(Err(e)),
            }
        }
    }
    Some(Ok(out))
}

/// Encodes the changes as batches of about `opts.batch_elements` set
/// elements each: `BATCH_BEGIN`, the deletions, the additions,
/// `BATCH_END`; the last message of each asks for an acknowledgement.
/// Returns each batch with the number of set elements it changes.
pub fn batches(syncs: &[SetSync], opts: &SyncOpts, seq0: u32) -> Vec<(Batch, usize)> {
    let mut out = Vec::new();
    let mut seq = seq0;
    let mut cur: Vec<(&SetSync, Vec<&Op>)> = Vec::new();
    // n: changes in the batch; k: those that are set elements (not the
    // leading end marker of an interval set).
    let (mut n, mut k) = (0, 0);
    for s in syncs {
        // A hash set's commit costs the kernel nothing per element already
        // held: smaller batches cost no time and let the progress bar move.
        let limit = if s.interval {
            opts.batch_elements
        } else {
            opts.batch_elements.min(PLAIN_BATCH)
        };
        for op in &s.ops {
            if n >= limit.max(1) && !op.join_prev {
                out.push((encode_batch(&cur, &mut seq), k));
                cur.clear();
                (n, k) = (0, 0);
            }
            match cur.last_mut() {
                Some((last, v)) if std::ptr::eq(*last, s) => v.push(op),
                _ => cur.push((s, vec![op])),
            }
            n += 1;
            k += usize::from(!op.marker);
        }
    }
    if n > 0 {
        out.push((encode_batch(&cur, &mut seq), k));
    }
    out
}

fn encode_batch(parts: &[(&SetSync, Vec<&Op>)], seq: &mut u32) -> Batch {
    const CHUNK: usize = 48 * 1024;
    let mut b = Buf::default();
    let begin_seq = *seq;
    b.msg(
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        begin_seq,
        0,
        NFNL_SUBSYS_NFTABLES,
        |_| {},
    );
    *seq += 1;
    let mut msgs = Vec::new();
    let mut last_flags_at = 0;
    for del in [true, false] {
        for (s, ops) in parts {
            let elems: Vec<&Vec<u8>> = ops
                .iter()
                .filter(|o| o.del == del)
                .flat_map(|o| o.elems.iter())
                .collect();
            let (ty, flags, verb) = if !del {
                (NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add")
            } else if s.destroy {
                (NFT_MSG_DESTROYSETELEM, 0, "destroy")
            } else {
                (NFT_MSG_DELSETELEM, 0, "delete")
            };
            let mut i = 0;
            while i < elems.len() {
                let mut j = i;
                let mut size = 0;
                while j < elems.len() && (j == i || size + elems[j].len() <= CHUNK) {
                    size += elems[j].len();
                    j += 1;
                }
                let m = *seq;
                *seq += 1;
                last_flags_at = b.b.len() + 6;
                b.msg(
                    (NFNL_SUBSYS_NFTABLES << 8) | ty,
                    NLM_F_REQUEST | flags,
                    m,
                    family(s.family),
                    0,
                    |b| {
                        b.str(NFTA_SET_ELEM_LIST_TABLE, &s.table);
                        b.str(NFTA_SET_ELEM_LIST_SET, &s.set);
                        b.nest(NFTA_SET_ELEM_LIST_ELEMENTS, |b| {
                            for e in &elems[i..j] {
                                b.b.extend_from_slice(e);
                            }
                        });
                    },
                );
                msgs.push(MsgInfo {
                    seq: m,
                    what: format!(
                        "{verb} kernel elements {}..{} of set {} in table {} {}",
                        i + 1,
                        j,
                        s.set,
                        s.family.name(),
                        s.table
                    ),
                    origin: None,
                });
                i = j;
            }
        }
    }
    if !msgs.is_empty() {
        let at = last_flags_at;
        let f = u16::from_ne_bytes([b.b[at], b.b[at + 1]]) | NLM_F_ACK;
        b.b[at..at + 2].copy_from_slice(&f.to_ne_bytes());
    }
    b.msg(
        NFNL_MSG_BATCH_END,
        NLM_F_REQUEST,
        *seq,
        0,
        NFNL_SUBSYS_NFTABLES,
        |_| {},
    );
    *seq += 1;
    Batch {
        bytes: b.b,
        msgs,
        begin_seq,
    }
}

/// What a sync sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    pub added: usize,
    pub deleted: usize,
    /// Transactions sent.
    pub batches: usize,
    pub bytes: usize,
}

/// Sends the changes in the current network namespace, batch after batch;
/// `progress(done, total)` is called after each batch with set elements
/// changed so far. On a kernel error the batches before the failing one
/// are applied, the failing one and the rest are not.
pub fn sync(
    syncs: &[SetSync],
    opts: &SyncOpts,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SyncStats, SendError> {
    let seq0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs() as u32);
    let mut st = SyncStats {
        added: syncs.iter().map(|s| s.added).sum(),
        deleted: syncs.iter().map(|s| s.deleted).sum(),
        ..SyncStats::default()
    };
    let total = st.added + st.deleted;
    if syncs.iter().all(SetSync::is_empty) {
        return Ok(st);
    }
    let sock = Socket::open()?;
    let mut done = 0;
    let all = batches(syncs, opts, seq0);
    for (b, n) in all {
        sock.send_batch(&b)?;
        st.batches += 1;
        st.bytes += b.bytes().len();
        done += n;
        progress(done, total);
    }
    Ok(st)
}

/// Element counts of an encoded batch, read back from its bytes:
/// `(kernel elements added, kernel elements deleted)` (an interval is a
/// start and usually an end element). For tests and statistics.
pub fn batch_element_counts(b: &Batch) -> (usize, usize) {
    let (mut add, mut del) = (0, 0);
    for (ty, _, _, payload) in messages(b.bytes()) {
        let sub = ty & 0xff;
        if ty >> 8 != NFNL_SUBSYS_NFTABLES {
            continue;
        }
        let n: usize = attrs(payload.get(4..).unwrap_or_default())
            .into_iter()
            .filter(|(t, _)| *t == NFTA_SET_ELEM_LIST_ELEMENTS)
            .map(|(_, v)| attrs(v).len())
            .sum();
        match sub {
            NFT_MSG_NEWSETELEM => add += n,
            NFT_MSG_DELSETELEM | NFT_MSG_DESTROYSETELEM => del += n,
            _ => {}
        }
    }
    (add, del)
}

/// One element as the kernel holds it (`GETSETELEM`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveElem {
    /// The key bytes (network order for addresses and ports).
    pub key: Vec<u8>,
    /// An interval end marker (one past the last value of an interval).
    pub end: bool,
    /// The element's timeout, milliseconds.
    pub timeout_ms: Option<u64>,
    /// Milliseconds until it expires.
    pub expires_ms: Option<u64>,
    pub comment: Option<String>,
}

/// A named set read back from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSetElems {
    pub flags: u32,
    pub key_type: u32,
    pub key_len: u32,
    /// In the kernel's order (interval sets: descending, end markers
    /// included).
    pub elems: Vec<LiveElem>,
}

impl LiveSetElems {
    pub fn interval(&self) -> bool {
        self.flags & NFT_SET_INTERVAL != 0
    }
}

fn be32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
}

fn be64(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.get(..8)?.try_into().ok()?))
}

fn str_of(v: &[u8]) -> String {
    let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

fn parse_elem(e: &[u8]) -> LiveElem {
    let mut out = LiveElem {
        key: Vec::new(),
        end: false,
        timeout_ms: None,
        expires_ms: None,
        comment: None,
    };
    for (t, x) in attrs(e) {
        match t {
            NFTA_SET_ELEM_KEY => {
                for (dt, v) in attrs(x) {
                    if dt == NFTA_DATA_VALUE {
                        out.key = v.to_vec();
                    }
                }
            }
            NFTA_SET_ELEM_FLAGS => {
                out.end = be32(x).unwrap_or(0) & NFT_SET_ELEM_INTERVAL_END != 0;
            }
            NFTA_SET_ELEM_TIMEOUT => out.timeout_ms = be64(x),
            NFTA_SET_ELEM_EXPIRATION => out.expires_ms = be64(x),
            NFTA_SET_ELEM_USERDATA => {
                let mut v = x;
                while v.len() >= 2 {
                    let (ty, len) = (v[0], usize::from(v[1]));
                    let Some(body) = v.get(2..2 + len) else { break };
                    if ty == UDATA_SET_ELEM_COMMENT {
                        out.comment = Some(str_of(body));
                    }
                    v = &v[2 + len..];
                }
            }
            _ => {}
        }
    }
    out
}

fn elems_of(answers: &[Vec<u8>]) -> Vec<LiveElem> {
    let mut out = Vec::new();
    for m in answers {
        for (ty, v) in attrs(m.get(4..).unwrap_or_default()) {
            if ty != NFTA_SET_ELEM_LIST_ELEMENTS {
                continue;
            }
            for (_, e) in attrs(v).into_iter().filter(|(t, _)| *t == NFTA_LIST_ELEM) {
                out.push(parse_elem(e));
            }
        }
    }
    out
}

/// The elements of one `NEWSETELEM` answer of the kernel (the payload
/// after `nlmsghdr`: `nfgenmsg` and attributes). Untrusted bytes: anything
/// malformed is skipped, never a panic (fuzzed: `fuzz/fuzz_targets/netlink_setelem.rs`).
pub fn parse_set_elements(payload: &[u8]) -> Vec<LiveElem> {
    elems_of(std::slice::from_ref(&payload.to_vec()))
}

/// Reads set `set` of table `fam table` whole (a `GETSET` and a
/// `GETSETELEM` dump): for `rampart set list` and verification, never to
/// make a change. A missing table or set is an error of kind `NotFound`.
pub fn list_elements(fam: TableFamily, table: &str, set: &str) -> std::io::Result<LiveSetElems> {
    let f = family(fam);
    let answers = crate::dump::dump(NFT_MSG_GETSET, f, |b| b.str(NFTA_SET_TABLE, table))
        .map_err(|e| not_found_if(e, fam, table, set))?;
    let mut found = None;
    for a in &answers {
        let (mut name, mut flags, mut kt, mut kl) = (String::new(), 0, 0, 0);
        for (ty, v) in attrs(a.get(4..).unwrap_or_default()) {
            match ty {
                NFTA_SET_NAME => name = str_of(v),
                NFTA_SET_FLAGS => flags = be32(v).unwrap_or(0),
                NFTA_SET_KEY_TYPE => kt = be32(v).unwrap_or(0),
                NFTA_SET_KEY_LEN => kl = be32(v).unwrap_or(0),
                _ => {}
            }
        }
        if name == set {
            found = Some((flags, kt, kl));
        }
    }
    let Some((flags, key_type, key_len)) = found else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("set {set} is not loaded in table {} {table}", fam.name()),
        ));
    };
    let answers = crate::dump::dump(NFT_MSG_GETSETELEM, f, |b| {
        b.str(NFTA_SET_ELEM_LIST_TABLE, table);
        b.str(NFTA_SET_ELEM_LIST_SET, set);
    })?;
    Ok(LiveSetElems {
        flags,
        key_type,
        key_len,
        elems: elems_of(&answers),
    })
}

fn not_found_if(e: std::io::Error, fam: TableFamily, table: &str, set: &str) -> std::io::Error {
    if e.raw_os_error() == Some(2) {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("table {} {table} (set {set}) is not loaded", fam.name()),
        )
    } else {
        e
    }
}

/// The names of the named sets of table `fam table` (a `GETSET` dump: no
/// elements are read). A missing table is an error.
pub fn set_names(fam: TableFamily, table: &str) -> std::io::Result<Vec<String>> {
    if !crate::dump::list_tables(fam)?.iter().any(|t| t == table) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("table {} {table} is not loaded", fam.name()),
        ));
    }
    let answers = crate::dump::dump(NFT_MSG_GETSET, family(fam), |b| {
        b.str(NFTA_SET_TABLE, table)
    })?;
    let mut out = Vec::new();
    for a in &answers {
        let (mut name, mut flags) = (String::new(), 0);
        for (ty, v) in attrs(a.get(4..).unwrap_or_default()) {
            match ty {
                NFTA_SET_NAME => name = str_of(v),
                NFTA_SET_FLAGS => flags = be32(v).unwrap_or(0),
                _ => {}
            }
        }
        if flags & NFT_SET_ANONYMOUS == 0 && !name.is_empty() {
            out.push(name);
        }
    }
    Ok(out)
}

/// Asks the kernel for the one element of set `set` that holds `key` (a
/// `GETSETELEM` get, not a dump): for an interval set, the start element
/// of the interval holding it. `Ok(None)` when no element does.
pub fn get_element(
    fam: TableFamily,
    table: &str,
    set: &str,
    key: &[u8],
) -> std::io::Result<Option<LiveElem>> {
    use rustix::net::{self, netlink::SocketAddrNetlink, RecvFlags, SendFlags};
    let seq = 1;
    let mut b = Buf::default();
    let mut le = Buf::default();
    le.nest(NFTA_LIST_ELEM, |b| {
        b.nest(NFTA_SET_ELEM_KEY, |b| b.attr(NFTA_DATA_VALUE, key));
    });
    b.msg(
        (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        family(fam),
        0,
        |b| {
            b.str(NFTA_SET_ELEM_LIST_TABLE, table);
            b.str(NFTA_SET_ELEM_LIST_SET, set);
            b.nest(NFTA_SET_ELEM_LIST_ELEMENTS, |b| {
                b.b.extend_from_slice(&le.b)
            });
        },
    );
    let fd = net::socket_with(
        net::AddressFamily::NETLINK,
        net::SocketType::RAW,
        net::SocketFlags::CLOEXEC,
        Some(net::netlink::NETFILTER),
    )?;
    net::bind(&fd, &SocketAddrNetlink::new(0, 0))?;
    net::sockopt::set_socket_timeout(
        &fd,
        net::sockopt::Timeout::Recv,
        Some(std::time::Duration::from_secs(10)),
    )?;
    net::sendto(&fd, &b.b, SendFlags::empty(), &SocketAddrNetlink::new(0, 0))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut found = None;
    loop {
        let (n, _) = match net::recv(&fd, &mut buf[..], RecvFlags::empty()) {
            Ok(r) => r,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        for (ty, _, s, payload) in messages(&buf[..n]) {
            if s != seq {
                continue;
            }
            if ty == crate::nla::NLMSG_ERROR {
                let code = payload
                    .get(..4)
                    .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                return match -code {
                    0 => Ok(found),
                    2 => Ok(None),
                    e => Err(std::io::Error::from_raw_os_error(e)),
                };
            }
            if let Some(e) = elems_of(&[payload.to_vec()]).into_iter().next() {
                found = Some(e);
            }
        }
    }
}

/// The key bytes of an address for a set of addresses (`ipv4_addr` or
/// `ipv6_addr`), or `None` when the family does not fit the key length.
pub fn addr_key(addr: std::net::IpAddr, key_len: u32) -> Option<Vec<u8>> {
    match (addr, key_len) {
        (std::net::IpAddr::V4(a), 4) => Some(a.octets().to_vec()),
        (std::net::IpAddr::V6(a), 16) => Some(a.octets().to_vec()),
        _ => None,
    }
}

/// Big-endian key bytes as an integer (addresses, ports).
pub fn key_int(key: &[u8]) -> u128 {
    bytes_int(key, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_nft::{Expr, KeyType};

    fn set(interval: bool, elems: &[&str]) -> Set {
        Set {
            name: "s".into(),
            key: vec![KeyType::Ipv4Addr],
            interval,
            timeout_flag: false,
            auto_merge: interval,
            timeout: None,
            dynamic: false,
            size: None,
            elements: elems
                .iter()
                .map(|t| Element {
                    key: vec![match t.split_once('/') {
                        Some((a, l)) => {
                            Expr::Prefix(a.parse().expect("addr"), l.parse().expect("len"))
                        }
                        None => Expr::Addr(t.parse().expect("addr")),
                    }],
                    timeout: None,
                    comment: None,
                })
                .collect(),
        }
    }

    fn counts(d: &SetSync) -> (usize, usize) {
        let b = batches(std::slice::from_ref(d), &SyncOpts::default(), 1);
        b.iter()
            .map(|(b, _)| batch_element_counts(b))
            .fold((0, 0), |a, x| (a.0 + x.0, a.1 + x.1))
    }

    #[test]
    fn plain_sets_send_only_the_difference() {
        let old = set(false, &["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        let new = set(false, &["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.2"]);
        let d = diff_set(TableFamily::Inet, "rampart", &old, &new).expect("diff");
        assert_eq!((d.added(), d.deleted()), (1, 1));
        assert_eq!(counts(&d), (1, 1));
        let same = diff_set(TableFamily::Inet, "rampart", &new, &new).expect("diff");
        assert!(same.is_empty());
    }

    #[test]
    fn intervals_delete_their_exact_elements_and_the_marker_follows() {
        let old = set(true, &["10.0.0.0/24", "10.0.2.0/24", "192.0.2.0/24"]);
        // 10.0.1.0/24 joins its neighbours into 10.0.0.0/22 minus .3.
        let new = set(
            true,
            &["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "192.0.2.0/24"],
        );
        let d = diff_set(TableFamily::Inet, "rampart", &old, &new).expect("diff");
        // Two old intervals out, one merged interval in.
        assert_eq!((d.added(), d.deleted()), (1, 2));
        assert_eq!(counts(&d), (2, 4));
        // Starting at 0 removes the leading end marker.
        let z = set(
            true,
            &["0.0.0.0/8", "10.0.0.0/24", "10.0.2.0/24", "192.0.2.0/24"],
        );
        let d = diff_set(TableFamily::Inet, "rampart", &old, &z).expect("diff");
        assert_eq!((d.added(), d.deleted()), (1, 0));
        assert_eq!(counts(&d), (2, 1));
        // All changes touch 0..: one group, one batch even with tiny batches.
        let b = batches(&[d], &SyncOpts { batch_elements: 1 }, 1);
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn batches_are_cut_between_unrelated_changes() {
        let old = set(true, &[]);
        let nets: Vec<String> = (0..100).map(|i| format!("10.{}.0.0/16", 2 * i)).collect();
        let refs: Vec<&str> = nets.iter().map(String::as_str).collect();
        let new = set(true, &refs);
        let d = diff_set(TableFamily::Inet, "rampart", &old, &new).expect("diff");
        let b = batches(&[d], &SyncOpts { batch_elements: 30 }, 1);
        assert_eq!(
            b.iter().map(|x| x.1).collect::<Vec<_>>(),
            vec![29, 30, 30, 11]
        );
        // The leading end marker (at 0) and 29 intervals of two elements.
        assert_eq!(batch_element_counts(&b[0].0), (1 + 29 * 2, 0));
    }

    #[test]
    fn netlink_answers_of_any_bytes_never_panic() {
        // Kernel answers are parsed as untrusted data: random and
        // truncated messages give elements or nothing, never a panic.
        let mut x: u64 = 0x1234_5678;
        let mut next = || {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 33) as u8
        };
        let good = {
            let mut b = Buf::default();
            b.nest(NFTA_SET_ELEM_LIST_ELEMENTS, |b| {
                let e = elem(&[10, 0, 0, 1], 0, Some(60), Some("x")).expect("elem");
                b.b.extend_from_slice(&e);
            });
            let mut m = vec![2, 0, 0, 0];
            m.extend_from_slice(&b.b);
            m
        };
        let parsed = elems_of(std::slice::from_ref(&good));
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].key, [10, 0, 0, 1]);
        assert_eq!(parsed[0].timeout_ms, Some(60_000));
        assert_eq!(parsed[0].comment.as_deref(), Some("x"));
        for round in 0..20_000 {
            let mut m = if round % 2 == 0 {
                good[..(usize::from(next()) % good.len())].to_vec()
            } else {
                (0..usize::from(next())).map(|_| next()).collect()
            };
            if let Some(b) = m.get_mut(usize::from(next()) % good.len().max(1)) {
                *b = next();
            }
            let _ = elems_of(&[m]);
        }
    }

    #[test]
    fn rulesets_differing_in_origins_and_elements_only_sync() {
        use rampart_nft::{Chain, Rule, Stmt, Table, Verdict};
        let rs = |elems: &[&str], line: u32| Ruleset {
            tables: vec![Table {
                family: TableFamily::Inet,
                name: "rampart".into(),
                sets: vec![set(true, elems)],
                chains: vec![Chain {
                    name: "input".into(),
                    base: None,
                    rules: vec![Rule {
                        stmts: vec![Stmt::Verdict(Verdict::Accept)],
                        comment: None,
                        origin: Some(rampart_model::Origin {
                            file: "p.toml".into(),
                            line,
                            column: 1,
                        }),
                        origins: vec![],
                    }],
                }],
            }],
        };
        let d = diff_ruleset(&rs(&["10.0.0.0/24"], 3), &rs(&["10.0.1.0/24"], 4))
            .expect("only elements and origins differ")
            .expect("diff");
        assert_eq!((d[0].added(), d[0].deleted()), (1, 1));
        let mut other = rs(&["10.0.0.0/24"], 3);
        other.tables[0].chains[0].rules[0].comment = Some("x".into());
        assert!(diff_ruleset(&rs(&["10.0.0.0/24"], 3), &other).is_none());
    }

    #[test]
    fn changed_declarations_are_refused() {
        let old = set(true, &["10.0.0.0/24"]);
        let mut new = old.clone();
        new.timeout = Some(60);
        assert!(diff_set(TableFamily::Inet, "rampart", &old, &new).is_err());
    }
}
