//! What the evaluation needs to know about the host: its own addresses,
//! where it routes a destination, and the time.

use crate::Error;
use rampart_model::IpNet;
use serde::Serialize;
use std::net::IpAddr;

/// One of the host's own addresses, with its prefix and interface when
/// known (`ip addr`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalAddr {
    pub addr: IpAddr,
    /// Prefix length of the attached network (32/128 when unknown).
    pub prefix: u8,
    pub iface: Option<String>,
}

impl LocalAddr {
    pub fn new(addr: IpAddr) -> LocalAddr {
        LocalAddr {
            addr,
            prefix: if addr.is_ipv4() { 32 } else { 128 },
            iface: None,
        }
    }

    /// Parses `ADDR[/PREFIX][%IFACE]` (`10.0.0.1/24%eth0`).
    pub fn parse(s: &str) -> Result<LocalAddr, Error> {
        let bad = |m: String| Error::BadContext(format!("local address `{s}`: {m}"));
        let (rest, iface) = match s.split_once('%') {
            Some((a, i)) if !i.is_empty() && i.len() <= 15 => (a, Some(i.to_string())),
            Some(_) => return Err(bad("bad interface name after `%`".into())),
            None => (s, None),
        };
        let (a, p) = match rest.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (rest, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| bad("not an IP address".into()))?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= width)
                .ok_or_else(|| bad(format!("prefix must be 0 to {width}")))?,
            None => width,
        };
        Ok(LocalAddr {
            addr,
            prefix,
            iface,
        })
    }

    /// The attached network.
    pub fn net(&self) -> Option<IpNet> {
        IpNet::new(self.addr, self.prefix)
    }
}

/// A route: destinations in `net` leave through `dev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub net: IpNet,
    pub dev: String,
}

/// Nanoseconds since the Unix epoch (UTC). Time is always passed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Time(pub u64);

impl Time {
    pub const SECOND: u64 = 1_000_000_000;

    pub fn from_secs(s: u64) -> Time {
        Time(s.saturating_mul(Self::SECOND))
    }

    pub fn from_millis(ms: u64) -> Time {
        Time(ms.saturating_mul(1_000_000))
    }

    pub fn secs(self) -> u64 {
        self.0 / Self::SECOND
    }

    /// Nanoseconds from `earlier` to `self` (0 when time went backwards).
    pub fn since(self, earlier: Time) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Where the packet is evaluated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Context {
    /// The host's own addresses: a destination among them is delivered
    /// locally (INPUT), any other is forwarded (FORWARD); a packet from one
    /// of them without an input interface is sent by the host (OUTPUT).
    pub local: Vec<LocalAddr>,
    /// Routes for forwarded and outgoing packets (longest prefix wins);
    /// the packet's own `out_iface` takes precedence.
    pub routes: Vec<Route>,
    /// The time the (first) packet is seen.
    pub now: Time,
}

impl Context {
    pub fn new(local: Vec<LocalAddr>) -> Context {
        Context {
            local,
            ..Context::default()
        }
    }

    /// Is `ip` one of the host's addresses (loopback addresses always
    /// are)?
    pub fn is_local(&self, ip: IpAddr) -> bool {
        ip.is_loopback() || self.local.iter().any(|l| l.addr == ip)
    }

    /// The local address entry for `ip`, if any.
    pub fn local_entry(&self, ip: IpAddr) -> Option<&LocalAddr> {
        self.local.iter().find(|l| l.addr == ip)
    }

    /// The interface a packet to `dst` leaves through: `lo` for a local
    /// destination, else the longest prefix among the routes and the
    /// networks of the local addresses.
    pub fn route(&self, dst: IpAddr) -> Option<String> {
        if self.is_local(dst) {
            return Some("lo".to_string());
        }
        // Routes and the networks of local addresses (connected routes):
        // the longest prefix wins, a connected route on a tie.
        let routes = self
            .routes
            .iter()
            .filter(|r| r.net.contains(dst))
            .map(|r| (r.net.prefix_len().unwrap_or(0), 0u8, r.dev.as_str()));
        let connected = self.local.iter().filter_map(|l| {
            let dev = l.iface.as_deref()?;
            l.net()
                .filter(|n| n.contains(dst))
                .map(|_| (l.prefix, 1u8, dev))
        });
        routes
            .chain(connected)
            .max_by_key(|&(len, conn, _)| (len, conn))
            .map(|(_, _, dev)| dev.to_string())
    }

    /// The host's address on `iface` of the family of `like` (what
    /// MASQUERADE and REDIRECT use).
    pub fn addr_on(&self, iface: &str, like: IpAddr) -> Option<IpAddr> {
        if iface == "lo" {
            return Some(match like {
                IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            });
        }
        self.local
            .iter()
            .find(|l| l.iface.as_deref() == Some(iface) && l.addr.is_ipv4() == like.is_ipv4())
            .map(|l| l.addr)
    }

    /// Is `ip` a broadcast address of a local network (or 255.255.255.255)?
    pub fn is_broadcast(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => {
                u32::from(a) == u32::MAX
                    || self.local.iter().any(|l| match l.addr {
                        IpAddr::V4(la) if l.prefix < 31 => {
                            let host = u32::MAX >> l.prefix;
                            (u32::from(la) | host) == u32::from(a)
                        }
                        _ => false,
                    })
            }
            IpAddr::V6(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addr_syntax() {
        let l = LocalAddr::parse("10.0.0.1/24%eth0").unwrap();
        assert_eq!(l.prefix, 24);
        assert_eq!(l.iface.as_deref(), Some("eth0"));
        assert!(LocalAddr::parse("10.0.0.1/33").is_err());
        assert!(LocalAddr::parse("nope").is_err());
        let ctx = Context::new(vec![l]);
        assert_eq!(
            ctx.route("10.0.0.7".parse().unwrap()).as_deref(),
            Some("eth0")
        );
        assert!(ctx.is_broadcast("10.0.0.255".parse().unwrap()));
        assert!(ctx.is_local("127.0.0.1".parse().unwrap()));
    }
}
