//! Netlink wire format: message headers (`nlmsghdr` + `nfgenmsg`) and
//! attributes (TLVs, 4-byte aligned, nested ones flagged `NLA_F_NESTED`).
//! nf_tables integers inside attributes are big-endian; `nlmsghdr` fields
//! are in host order.

pub(crate) const NLA_F_NESTED: u16 = 0x8000;
pub(crate) const NLMSG_HDRLEN: usize = 16;

pub(crate) const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_ACK: u16 = 0x4;
/// `NLM_F_ROOT | NLM_F_MATCH`: a dump request.
pub(crate) const NLM_F_DUMP: u16 = 0x300;
/// A dump was interrupted by a change of the ruleset: ask again.
pub(crate) const NLM_F_DUMP_INTR: u16 = 0x10;
pub(crate) const NLM_F_CREATE: u16 = 0x400;
pub(crate) const NLM_F_APPEND: u16 = 0x800;

pub(crate) const NLMSG_ERROR: u16 = 0x2;
pub(crate) const NLMSG_DONE: u16 = 0x3;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A growing byte buffer with attribute writers.
#[derive(Debug, Default, Clone)]
pub(crate) struct Buf {
    pub b: Vec<u8>,
}

impl Buf {
    fn pad(&mut self) {
        let n = align4(self.b.len());
        self.b.resize(n, 0);
    }

    /// One attribute with raw payload.
    pub fn attr(&mut self, ty: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.b.extend_from_slice(&(len as u16).to_ne_bytes());
        self.b.extend_from_slice(&ty.to_ne_bytes());
        self.b.extend_from_slice(data);
        self.pad();
    }

    pub fn u8(&mut self, ty: u16, v: u8) {
        self.attr(ty, &[v]);
    }
    pub fn be16(&mut self, ty: u16, v: u16) {
        self.attr(ty, &v.to_be_bytes());
    }
    pub fn be32(&mut self, ty: u16, v: u32) {
        self.attr(ty, &v.to_be_bytes());
    }
    pub fn be64(&mut self, ty: u16, v: u64) {
        self.attr(ty, &v.to_be_bytes());
    }
    /// A NUL-terminated string.
    pub fn str(&mut self, ty: u16, s: &str) {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(ty, &v);
    }

    /// A nested attribute whose content `f` writes.
    pub fn nest(&mut self, ty: u16, f: impl FnOnce(&mut Buf)) {
        let start = self.b.len();
        self.b.extend_from_slice(&[0, 0]);
        self.b.extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        f(self);
        let len = self.b.len() - start;
        // Attribute lengths are 16 bits; callers keep nests below 64 KiB
        // (set elements are split into several messages).
        let len16 = u16::try_from(len).unwrap_or(u16::MAX);
        self.b[start..start + 2].copy_from_slice(&len16.to_ne_bytes());
        self.pad();
    }

    /// One netlink message: `nlmsghdr`, `nfgenmsg` (family, version 0,
    /// resource id big-endian), then the attributes `f` writes.
    pub fn msg(
        &mut self,
        ty: u16,
        flags: u16,
        seq: u32,
        family: u8,
        res_id: u16,
        f: impl FnOnce(&mut Buf),
    ) {
        let start = self.b.len();
        self.b.extend_from_slice(&[0; 4]);
        self.b.extend_from_slice(&ty.to_ne_bytes());
        self.b.extend_from_slice(&flags.to_ne_bytes());
        self.b.extend_from_slice(&seq.to_ne_bytes());
        self.b.extend_from_slice(&0u32.to_ne_bytes());
        self.b.push(family);
        self.b.push(0);
        self.b.extend_from_slice(&res_id.to_be_bytes());
        f(self);
        self.pad();
        let len = (self.b.len() - start) as u32;
        self.b[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }
}

/// Walks the messages of a received datagram: `(type, flags, seq, payload)`.
pub(crate) fn messages(mut data: &[u8]) -> Vec<(u16, u16, u32, &[u8])> {
    let mut out = Vec::new();
    while data.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if len < NLMSG_HDRLEN || len > data.len() {
            break;
        }
        let ty = u16::from_ne_bytes([data[4], data[5]]);
        let flags = u16::from_ne_bytes([data[6], data[7]]);
        let seq = u32::from_ne_bytes([data[8], data[9], data[10], data[11]]);
        out.push((ty, flags, seq, &data[NLMSG_HDRLEN..len]));
        data = &data[align4(len).min(data.len())..];
    }
    out
}

/// Attributes of a flat TLV area: `(type without flags, payload)`.
pub(crate) fn attrs(mut data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while data.len() >= 4 {
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let ty = u16::from_ne_bytes([data[2], data[3]]) & 0x3fff;
        if len < 4 || len > data.len() {
            break;
        }
        out.push((ty, &data[4..len]));
        data = &data[align4(len).min(data.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nested() {
        let mut b = Buf::default();
        b.nest(1, |b| b.str(2, "lo"));
        // nest header 4 + inner (4 + 3 -> 8)
        assert_eq!(b.b.len(), 12);
        assert_eq!(&b.b[0..4], &[12, 0, 1, 0x80]);
        assert_eq!(&b.b[4..8], &[7, 0, 2, 0]);
        let a = attrs(&b.b);
        assert_eq!(a.len(), 1);
        assert_eq!(attrs(a[0].1), vec![(2u16, &b"lo\0"[..])]);
    }
}
