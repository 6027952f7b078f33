//! Element changes of interval sets of concatenations (the kernel's
//! `pipapo` sets: network+port, address range+port, port ranges with
//! their protocol): each element is one `NFTA_LIST_ELEM` carrying its
//! first key (`NFTA_SET_ELEM_KEY`) and its last key
//! (`NFTA_SET_ELEM_KEY_END`), every part padded to 4 bytes, as
//! `nft --debug=netlink add element` sends them. There are no interval end
//! elements and the kernel merges nothing: an element is added and
//! deleted by its two keys, and two elements may not overlap, so every
//! deletion is sent before the additions.

use super::{Op, SetSync};
use crate::consts::*;
use crate::encode::{int_bytes, interval, key_dt, udata_str, Dt};
use crate::nla::Buf;
use rampart_nft::{Element, Set};
use std::cmp::Ordering;

/// An element's first key, last key and position in its set.
type Keyed = (Vec<u8>, Vec<u8>, usize);

/// The first and last key of every element of `s`, sorted; an element
/// listed twice counts once (the first one).
fn keyed(parts: &[Dt], s: &Set) -> Result<Vec<Keyed>, String> {
    let mut v = Vec::with_capacity(s.elements.len());
    for (i, e) in s.elements.iter().enumerate() {
        let (lo, hi) = keys(parts, e)?;
        v.push((lo, hi, i));
    }
    v.sort();
    v.dedup_by(|b, a| a.0 == b.0 && a.1 == b.1);
    Ok(v)
}

/// The first and last key of element `e`.
pub(super) fn keys(parts: &[Dt], e: &Element) -> Result<(Vec<u8>, Vec<u8>), String> {
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
    Ok((lo_key, hi_key))
}

/// One `NFTA_LIST_ELEM`: both keys, and with `e` its timeout and comment.
fn encode(lo: &[u8], hi: &[u8], e: Option<&Element>) -> Result<Vec<u8>, String> {
    let mut udata = Vec::new();
    if let Some(c) = e.and_then(|e| e.comment.as_deref()) {
        udata_str(&mut udata, UDATA_SET_ELEM_COMMENT, c)?;
    }
    let mut b = Buf::default();
    b.nest(NFTA_LIST_ELEM, |b| {
        b.nest(NFTA_SET_ELEM_KEY, |b| b.attr(NFTA_DATA_VALUE, lo));
        b.nest(NFTA_SET_ELEM_KEY_END, |b| b.attr(NFTA_DATA_VALUE, hi));
        if let Some(t) = e.and_then(|e| e.timeout) {
            b.be64(NFTA_SET_ELEM_TIMEOUT, u64::from(t) * 1000);
        }
        if !udata.is_empty() {
            b.attr(NFTA_SET_ELEM_USERDATA, &udata);
        }
    });
    Ok(b.b)
}

/// The part types of `s`'s keys.
pub(super) fn part_dts(s: &Set) -> Vec<Dt> {
    s.key.iter().map(|k| key_dt(*k)).collect()
}

/// Adds to `out` the changes turning `old`'s elements into `new`'s:
/// deletions first, then additions; an element in both is sent again
/// (deleted and added in one batch) when its timeout or comment is to be
/// set anew.
pub(super) fn diff(out: &mut SetSync, old: &Set, new: &Set) -> Result<(), String> {
    let parts = part_dts(new);
    let a = keyed(&parts, old)?;
    let b = keyed(&parts, new)?;
    let timed = |s: &Set, e: &Element| s.timeout.is_some() || e.timeout.is_some();
    let (mut dels, mut adds) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let ord = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => (&x.0, &x.1).cmp(&(&y.0, &y.1)),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                dels.push(encode(&a[i].0, &a[i].1, None)?);
                i += 1;
            }
            Ordering::Greater => {
                let (lo, hi, k) = &b[j];
                adds.push(encode(lo, hi, Some(&new.elements[*k]))?);
                j += 1;
            }
            Ordering::Equal => {
                let (eo, en) = (&old.elements[a[i].2], &new.elements[b[j].2]);
                if timed(new, en) || timed(old, eo) || eo.comment != en.comment {
                    dels.push(encode(&a[i].0, &a[i].1, None)?);
                    adds.push(encode(&b[j].0, &b[j].1, Some(en))?);
                }
                i += 1;
                j += 1;
            }
        }
    }
    // One batch for the whole change: an element replacing overlapping
    // ones must find them gone in the same transaction.
    for (n, (del, e)) in dels
        .into_iter()
        .map(|e| (true, e))
        .chain(adds.into_iter().map(|e| (false, e)))
        .enumerate()
    {
        out.ops.push(Op {
            del,
            join_prev: n > 0,
            marker: false,
            elems: vec![e],
        });
    }
    Ok(())
}

/// The first key of `e` (what a lookup of the element's start sends).
pub(super) fn first_key(s: &Set, e: &Element) -> Result<Vec<u8>, String> {
    keys(&part_dts(s), e).map(|(lo, _)| lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_nft::{Expr, KeyType, TableFamily};

    fn set(elems: &[(&str, u16, u16)]) -> Set {
        Set {
            name: "s".into(),
            key: vec![KeyType::Ipv4Addr, KeyType::InetProto, KeyType::InetService],
            interval: true,
            timeout_flag: false,
            auto_merge: false,
            timeout: None,
            size: None,
            elements: elems
                .iter()
                .map(|(net, a, b)| {
                    let (addr, len) = net.split_once('/').expect("net");
                    Element {
                        key: vec![
                            Expr::Prefix(addr.parse().expect("addr"), len.parse().expect("len")),
                            Expr::sym("tcp"),
                            if a == b {
                                Expr::Num(u64::from(*a))
                            } else {
                                Expr::range(Expr::Num(u64::from(*a)), Expr::Num(u64::from(*b)))
                            },
                        ],
                        timeout: None,
                        comment: None,
                    }
                })
                .collect(),
            dynamic: false,
        }
    }

    #[test]
    fn issue5_concatenated_intervals_change_element_by_element() {
        let old = set(&[("10.0.0.0/8", 22, 22), ("192.0.2.0/24", 80, 90)]);
        let new = set(&[("10.0.0.0/8", 22, 22), ("192.0.2.0/24", 80, 443)]);
        let d = crate::setsync::diff_set(TableFamily::Inet, "t", &old, &new).expect("diff");
        assert_eq!((d.added(), d.deleted()), (1, 1));
        let enc = d.encoded();
        // The deletion first, both with a first and a last key.
        assert!(enc[0].0 && !enc[1].0);
        let (lo, hi) = keys(&part_dts(&new), &new.elements[1]).expect("keys");
        // 192.0.2.0 / tcp (padded) / 80 (padded), then .255 / tcp / 443.
        assert_eq!(lo, [192, 0, 2, 0, 6, 0, 0, 0, 0, 80, 0, 0]);
        assert_eq!(hi, [192, 0, 2, 255, 6, 0, 0, 0, 1, 187, 0, 0]);
        let same = crate::setsync::diff_set(TableFamily::Inet, "t", &new, &new).expect("diff");
        assert!(same.is_empty());
    }
}
