//! `-j REJECT`: drop the packet and answer with an ICMP error or a TCP RST.

use crate::Family;
use serde::{Deserialize, Serialize};

/// `-j REJECT [--reject-with TYPE]`.
///
/// The reply type is always resolved: a rule without `--reject-with` holds
/// the family's default ([`RejectWith::default_for`]), as iptables-save
/// prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reject {
    pub with: RejectWith,
}

impl Reject {
    /// `-j REJECT` without options in the given family.
    pub fn default_for(family: Family) -> Self {
        Reject {
            with: RejectWith::default_for(family),
        }
    }
}

/// The reply REJECT sends (`--reject-with`). The `Icmp*` types are IPv4
/// only, the `Icmp6*` types IPv6 only; `TcpReset` works in both and needs
/// `-p tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RejectWith {
    /// ICMP destination unreachable, code 0 (net unreachable).
    IcmpNetUnreachable,
    /// ICMP destination unreachable, code 1 (host unreachable).
    IcmpHostUnreachable,
    /// ICMP destination unreachable, code 3 (port unreachable). IPv4 default.
    IcmpPortUnreachable,
    /// ICMP destination unreachable, code 2 (protocol unreachable).
    IcmpProtoUnreachable,
    /// ICMP destination unreachable, code 9 (net administratively prohibited).
    IcmpNetProhibited,
    /// ICMP destination unreachable, code 10 (host administratively prohibited).
    IcmpHostProhibited,
    /// ICMP destination unreachable, code 13 (communication administratively
    /// prohibited).
    IcmpAdminProhibited,
    /// ICMPv6 destination unreachable, code 0 (no route).
    Icmp6NoRoute,
    /// ICMPv6 destination unreachable, code 1 (administratively prohibited).
    Icmp6AdmProhibited,
    /// ICMPv6 destination unreachable, code 3 (address unreachable).
    Icmp6AddrUnreachable,
    /// ICMPv6 destination unreachable, code 4 (port unreachable). IPv6 default.
    Icmp6PortUnreachable,
    /// ICMPv6 destination unreachable, code 5 (source address failed policy).
    Icmp6PolicyFail,
    /// ICMPv6 destination unreachable, code 6 (reject route to destination).
    Icmp6RejectRoute,
    /// A TCP RST segment (`tcp-reset`).
    TcpReset,
}

impl RejectWith {
    /// The reply REJECT sends when `--reject-with` is not given.
    pub fn default_for(family: Family) -> Self {
        match family {
            Family::Ipv4 => RejectWith::IcmpPortUnreachable,
            Family::Ipv6 => RejectWith::Icmp6PortUnreachable,
        }
    }

    /// The family the type belongs to; `None` for `tcp-reset` (both).
    pub fn family(self) -> Option<Family> {
        use RejectWith::*;
        match self {
            IcmpNetUnreachable | IcmpHostUnreachable | IcmpPortUnreachable
            | IcmpProtoUnreachable | IcmpNetProhibited | IcmpHostProhibited
            | IcmpAdminProhibited => Some(Family::Ipv4),
            Icmp6NoRoute | Icmp6AdmProhibited | Icmp6AddrUnreachable | Icmp6PortUnreachable
            | Icmp6PolicyFail | Icmp6RejectRoute => Some(Family::Ipv6),
            TcpReset => None,
        }
    }

    /// The name iptables-save prints.
    pub fn name(self) -> &'static str {
        use RejectWith::*;
        match self {
            IcmpNetUnreachable => "icmp-net-unreachable",
            IcmpHostUnreachable => "icmp-host-unreachable",
            IcmpPortUnreachable => "icmp-port-unreachable",
            IcmpProtoUnreachable => "icmp-proto-unreachable",
            IcmpNetProhibited => "icmp-net-prohibited",
            IcmpHostProhibited => "icmp-host-prohibited",
            IcmpAdminProhibited => "icmp-admin-prohibited",
            Icmp6NoRoute => "icmp6-no-route",
            Icmp6AdmProhibited => "icmp6-adm-prohibited",
            Icmp6AddrUnreachable => "icmp6-addr-unreachable",
            Icmp6PortUnreachable => "icmp6-port-unreachable",
            Icmp6PolicyFail => "icmp6-policy-fail",
            Icmp6RejectRoute => "icmp6-reject-route",
            TcpReset => "tcp-reset",
        }
    }

    /// The ICMP (or ICMPv6) destination-unreachable code; `None` for
    /// `tcp-reset`.
    pub fn icmp_code(self) -> Option<u8> {
        use RejectWith::*;
        Some(match self {
            IcmpNetUnreachable => 0,
            IcmpHostUnreachable => 1,
            IcmpProtoUnreachable => 2,
            IcmpPortUnreachable => 3,
            IcmpNetProhibited => 9,
            IcmpHostProhibited => 10,
            IcmpAdminProhibited => 13,
            Icmp6NoRoute => 0,
            Icmp6AdmProhibited => 1,
            Icmp6AddrUnreachable => 3,
            Icmp6PortUnreachable => 4,
            Icmp6PolicyFail => 5,
            Icmp6RejectRoute => 6,
            TcpReset => return None,
        })
    }
}
