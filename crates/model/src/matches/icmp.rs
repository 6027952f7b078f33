//! `-m icmp` (IPv4): ICMP type and code range.

use crate::Neg;
use serde::{Deserialize, Serialize};

/// An ICMP (or ICMPv6) type with an inclusive range of codes, as the kernel
/// stores it. A name such as `echo-request` or a bare type number covers
/// codes 0-255; `TYPE/CODE` covers a single code. For IPv4, type 255 is the
/// wildcard `any`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IcmpType {
    #[serde(rename = "type")]
    pub icmp_type: u8,
    pub code_min: u8,
    pub code_max: u8,
}

impl IcmpType {
    /// `--icmp-type any`: type 255, every code.
    pub const ANY: IcmpType = IcmpType {
        icmp_type: 0xff,
        code_min: 0,
        code_max: 0xff,
    };

    /// A type with every code.
    pub fn with_any_code(icmp_type: u8) -> Self {
        IcmpType {
            icmp_type,
            code_min: 0,
            code_max: 0xff,
        }
    }

    /// A type with one code.
    pub fn with_code(icmp_type: u8, code: u8) -> Self {
        IcmpType {
            icmp_type,
            code_min: code,
            code_max: code,
        }
    }

    /// True when every code of the type matches.
    pub fn all_codes(&self) -> bool {
        self.code_min == 0 && self.code_max == 0xff
    }
}

impl Default for IcmpType {
    fn default() -> Self {
        IcmpType::ANY
    }
}

/// `-m icmp [!] --icmp-type TYPE[/CODE]|NAME|any`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Icmp {
    pub icmp_type: Neg<IcmpType>,
}

impl Icmp {
    /// Does an ICMP packet of this type and code match (before `!`)? Type
    /// 255 matches every packet, as in the kernel.
    pub fn type_matches(&self, icmp_type: u8, code: u8) -> bool {
        let t = self.icmp_type.value;
        t.icmp_type == 0xff
            || (t.icmp_type == icmp_type && t.code_min <= code && code <= t.code_max)
    }
}
