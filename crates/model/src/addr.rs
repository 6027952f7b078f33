//! Addresses with masks (iptables accepts non-contiguous dotted masks) and MAC
//! addresses.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address with a mask, the address already masked (`10.11.12.13/8` is
/// stored as `10.0.0.0/8`, as the kernel does). Most masks are prefixes; a
/// non-contiguous mask such as `255.0.255.0` is kept as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IpNet {
    addr: IpAddr,
    mask: IpAddr,
}

impl IpNet {
    /// A network from an address and a prefix length (masks the address).
    /// `None` when the prefix is longer than the family allows.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let mask = match addr {
            IpAddr::V4(_) if prefix <= 32 => IpAddr::V4(Ipv4Addr::from(
                u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0),
            )),
            IpAddr::V6(_) if prefix <= 128 => IpAddr::V6(Ipv6Addr::from(
                u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0),
            )),
            _ => return None,
        };
        Self::with_mask(addr, mask)
    }

    /// A host address (`/32` or `/128`).
    pub fn host(addr: IpAddr) -> Self {
        let mask = match addr {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::MAX)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(u128::MAX)),
        };
        IpNet { addr, mask }
    }

    /// A network from an address and an arbitrary mask of the same family.
    pub fn with_mask(addr: IpAddr, mask: IpAddr) -> Option<Self> {
        let addr = match (addr, mask) {
            (IpAddr::V4(a), IpAddr::V4(m)) => {
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & u32::from(m)))
            }
            (IpAddr::V6(a), IpAddr::V6(m)) => {
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & u128::from(m)))
            }
            _ => return None,
        };
        Some(IpNet { addr, mask })
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn mask(&self) -> IpAddr {
        self.mask
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// The prefix length when the mask is contiguous.
    pub fn prefix_len(&self) -> Option<u8> {
        let (bits, width) = match self.mask {
            IpAddr::V4(m) => (u128::from(u32::from(m)) << 96, 32u32),
            IpAddr::V6(m) => (u128::from(m), 128u32),
        };
        let ones = bits.leading_ones();
        // Contiguous when nothing is set after the leading ones.
        let rest = bits.checked_shl(ones).unwrap_or(0);
        (rest == 0).then(|| u8::try_from(ones.min(width)).unwrap_or(128))
    }

    /// Width of the family in bits (32 or 128).
    pub fn width(&self) -> u8 {
        if self.is_ipv4() {
            32
        } else {
            128
        }
    }

    pub fn is_host(&self) -> bool {
        self.prefix_len() == Some(self.width())
    }

    /// Does the network contain the address?
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, self.mask, ip) {
            (IpAddr::V4(a), IpAddr::V4(m), IpAddr::V4(x)) => {
                u32::from(x) & u32::from(m) == u32::from(a)
            }
            (IpAddr::V6(a), IpAddr::V6(m), IpAddr::V6(x)) => {
                u128::from(x) & u128::from(m) == u128::from(a)
            }
            _ => false,
        }
    }
}

/// Prints `addr/prefix`, or `addr/mask` for a non-contiguous mask, as
/// iptables-save does (addresses as glibc's `inet_ntop` writes them).
impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix_len() {
            Some(p) => write!(f, "{}/{}", IpText(self.addr), p),
            None => write!(f, "{}/{}", IpText(self.addr), IpText(self.mask)),
        }
    }
}

/// Displays an address the way glibc's `inet_ntop` (and so every
/// iptables tool) writes it. It differs from Rust's `Display` only for
/// IPv6 addresses whose first 96 bits are zero: glibc writes the last 32
/// bits as dotted IPv4 (`::0.1.0.128`, `::192.0.2.1`), except `::` and
/// `::1`-style addresses whose zero run is longer than 6 words.
#[derive(Debug, Clone, Copy)]
pub struct IpText(pub IpAddr);

impl fmt::Display for IpText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V6(a) => {
                let w = a.segments();
                // IPv4-compatible: a run of exactly six zero words at the start.
                if w[..6].iter().all(|&x| x == 0) && w[6] != 0 {
                    let [.., a1, b1, c1, d1] = a.octets();
                    return write!(f, "::{a1}.{b1}.{c1}.{d1}");
                }
                write!(f, "{a}")
            }
            v4 => write!(f, "{v4}"),
        }
    }
}

/// A MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Parses `aa:bb:cc:dd:ee:ff` (also `-` separated).
    pub fn parse(s: &str) -> Option<Self> {
        let mut out = [0u8; 6];
        let mut n = 0;
        for part in s.split([':', '-']) {
            if n == 6 || part.is_empty() || part.len() > 2 {
                return None;
            }
            out[n] = u8::from_str_radix(part, 16).ok()?;
            n += 1;
        }
        (n == 6).then_some(MacAddr(out))
    }
}

/// Prints upper-case hex as iptables-save does (`00:11:22:AA:BB:CC`).
impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_prints() {
        let n = IpNet::new("10.11.12.13".parse().unwrap(), 8).unwrap();
        assert_eq!(n.to_string(), "10.0.0.0/8");
        let m = IpNet::with_mask(
            "10.11.12.13".parse().unwrap(),
            "255.0.255.0".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(m.to_string(), "10.0.12.0/255.0.255.0");
        assert_eq!(IpNet::host("::".parse().unwrap()).to_string(), "::/128");
        assert_eq!(
            IpNet::new("::".parse().unwrap(), 0).unwrap().to_string(),
            "::/0"
        );
        assert_eq!(
            IpNet::new("1.2.3.4".parse().unwrap(), 0)
                .unwrap()
                .to_string(),
            "0.0.0.0/0"
        );
        assert!(IpNet::new("1.2.3.4".parse().unwrap(), 33).is_none());
    }

    #[test]
    fn ipv6_prints_like_inet_ntop() {
        let t = |s: &str| IpText(s.parse().unwrap()).to_string();
        assert_eq!(t("::1:80"), "::0.1.0.128");
        assert_eq!(t("::c000:201"), "::192.0.2.1");
        assert_eq!(t("::1"), "::1");
        assert_eq!(t("::"), "::");
        assert_eq!(t("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(t("2001:db8::1"), "2001:db8::1");
        assert_eq!(t("10.0.0.1"), "10.0.0.1");
    }

    #[test]
    fn mac() {
        assert_eq!(
            MacAddr::parse("aa:bb:cc:dd:ee:0f").unwrap().to_string(),
            "AA:BB:CC:DD:EE:0F"
        );
        assert!(MacAddr::parse("aa:bb:cc:dd:ee").is_none());
    }
}
