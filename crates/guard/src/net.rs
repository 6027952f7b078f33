//! [`Net`]: an address or a CIDR network, the unit the engine bans.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use rampart_cidr::{Interval, Prefix, Prefixes};

/// An IPv4 or IPv6 network `addr/len` with the host bits cleared (so two
/// equal networks compare equal). A host is a `/32` or `/128`.
///
/// Ordered by family, then address, then length: all networks inside a
/// prefix sort between `Net::new(prefix.first(), 0)` and
/// `Net::new(prefix.last(), 128)`, which is how the engine finds the bans a
/// prefix ban folds in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Net {
    addr: IpAddr,
    len: u8,
}

impl Net {
    /// `addr/len` with host bits masked off; `None` when `len` is longer
    /// than the family.
    pub fn new(addr: IpAddr, len: u8) -> Option<Net> {
        match addr {
            IpAddr::V4(a) if len <= 32 => {
                let m = mask4(len);
                Some(Net {
                    addr: IpAddr::V4(Ipv4Addr::from(u32::from(a) & m)),
                    len,
                })
            }
            IpAddr::V6(a) if len <= 128 => {
                let m = mask6(len);
                Some(Net {
                    addr: IpAddr::V6(Ipv6Addr::from(u128::from(a) & m)),
                    len,
                })
            }
            _ => None,
        }
    }

    /// One address (`/32` or `/128`). IPv4-mapped IPv6 addresses
    /// (`::ffff:a.b.c.d`, as some daemons log) become the IPv4 address.
    pub fn host(addr: IpAddr) -> Net {
        let addr = canonical(addr);
        Net {
            addr,
            len: max_len(addr),
        }
    }

    /// The network of `len` bits that holds `addr` (`len` is clamped to
    /// the family's width).
    pub fn containing(addr: IpAddr, len: u8) -> Net {
        let addr = canonical(addr);
        let len = len.min(max_len(addr));
        // len is clamped to the family, so `new` cannot refuse it.
        Net::new(addr, len).unwrap_or(Net::host(addr))
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn is_host(&self) -> bool {
        self.len == max_len(self.addr)
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// Whether `addr` is inside this network.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        addr.is_ipv4() == self.addr.is_ipv4() && Net::containing(addr, self.len) == *self
    }

    /// Whether `other` is inside (or equal to) this network.
    pub fn covers(&self, other: &Net) -> bool {
        other.len >= self.len && self.contains(other.addr)
    }

    /// The last address of the network.
    pub fn last(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) | !mask4(self.len))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) | !mask6(self.len))),
        }
    }

    /// The smallest and the largest `Net` value inside this network in
    /// `Net`'s order (for range queries over ordered maps).
    pub fn range_bounds(&self) -> (Net, Net) {
        (
            Net {
                addr: self.addr,
                len: 0,
            },
            Net {
                addr: self.last(),
                len: u8::MAX,
            },
        )
    }

    /// The address interval, per family, for the CIDR algebra.
    pub(crate) fn interval(&self) -> NetInterval {
        match self.addr {
            IpAddr::V4(a) => NetInterval::V4(
                Interval::prefix(u32::from(a), self.len).unwrap_or(Interval::single(u32::from(a))),
            ),
            IpAddr::V6(a) => NetInterval::V6(
                Interval::prefix(u128::from(a), self.len)
                    .unwrap_or(Interval::single(u128::from(a))),
            ),
        }
    }

    pub(crate) fn from_prefix4(p: Prefix<u32>) -> Net {
        Net::containing(IpAddr::V4(Ipv4Addr::from(p.addr)), p.len)
    }

    pub(crate) fn from_prefix6(p: Prefix<u128>) -> Net {
        Net::containing(IpAddr::V6(Ipv6Addr::from(p.addr)), p.len)
    }
}

/// A [`Net`]'s interval in the CIDR algebra's per-family types.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NetInterval {
    V4(Interval<u32>),
    V6(Interval<u128>),
}

/// The minimal CIDR networks covering an interval.
pub(crate) fn nets_of4(iv: Interval<u32>) -> impl Iterator<Item = Net> {
    Prefixes::new(iv).map(Net::from_prefix4)
}

pub(crate) fn nets_of6(iv: Interval<u128>) -> impl Iterator<Item = Net> {
    Prefixes::new(iv).map(Net::from_prefix6)
}

fn max_len(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

fn mask4(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask6(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

/// IPv4-mapped IPv6 addresses are IPv4 addresses.
pub fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => a,
        },
        v4 => v4,
    }
}

impl fmt::Display for Net {
    /// `a.b.c.d` for a host, `a.b.c.d/len` otherwise (as ipset and
    /// fail2ban print them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.len)
        }
    }
}

impl From<IpAddr> for Net {
    fn from(a: IpAddr) -> Net {
        Net::host(a)
    }
}

/// Why a network did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address or network {text:?}: {reason}")]
pub struct NetParseError {
    pub text: String,
    pub reason: &'static str,
}

impl FromStr for Net {
    type Err = NetParseError;

    /// `ADDR` or `ADDR/LEN`; host bits must be zero (`10.0.0.1/8` is
    /// refused: it is usually a typo for a host or for `10.0.0.0/8`).
    fn from_str(s: &str) -> Result<Net, NetParseError> {
        let err = |reason| NetParseError {
            text: s.to_string(),
            reason,
        };
        let (a, len) = match s.split_once('/') {
            Some((a, l)) => {
                let len: u8 = l
                    .parse()
                    .map_err(|_| err("prefix length is not a number"))?;
                (a, Some(len))
            }
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| err("not an IPv4 or IPv6 address"))?;
        match len {
            None => Ok(Net::host(addr)),
            Some(len) => {
                let n = Net::new(addr, len).ok_or_else(|| err("prefix length too long"))?;
                if n.addr != addr {
                    return Err(err("host bits set after the prefix length"));
                }
                Ok(n)
            }
        }
    }
}

impl serde::Serialize for Net {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Net {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Net, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Net {
        s.parse().expect("a network")
    }

    #[test]
    fn parse_print_contain() {
        assert_eq!(n("192.0.2.7").to_string(), "192.0.2.7");
        assert_eq!(n("192.0.2.0/24").to_string(), "192.0.2.0/24");
        assert_eq!(n("2001:db8::/64").to_string(), "2001:db8::/64");
        assert!("192.0.2.7/24".parse::<Net>().is_err());
        assert!("192.0.2.0/33".parse::<Net>().is_err());
        assert!("nonsense".parse::<Net>().is_err());
        assert!(n("192.0.2.0/24").contains("192.0.2.200".parse().expect("ip")));
        assert!(!n("192.0.2.0/24").contains("192.0.3.1".parse().expect("ip")));
        assert!(!n("0.0.0.0/0").contains("::1".parse().expect("ip")));
        assert!(n("::/0").covers(&n("2001:db8::1")));
        assert_eq!(n("::ffff:192.0.2.1"), n("192.0.2.1"));
        assert_eq!(n("10.1.2.0/24").last().to_string(), "10.1.2.255");
        assert_eq!(
            Net::containing("2001:db8:1:2:3::9".parse().expect("ip"), 64),
            n("2001:db8:1:2::/64")
        );
    }

    #[test]
    fn range_bounds_hold_exactly_the_covered_nets() {
        let p = n("10.0.1.0/24");
        let (lo, hi) = p.range_bounds();
        for inside in ["10.0.1.0/24", "10.0.1.0", "10.0.1.255", "10.0.1.128/25"] {
            let x = n(inside);
            assert!(lo <= x && x <= hi, "{inside}");
        }
        for outside in ["10.0.0.255", "10.0.2.0", "10.0.0.0/16", "::1"] {
            let x = n(outside);
            assert!(!(lo <= x && x <= hi && p.covers(&x)), "{outside}");
        }
    }
}
