//! `-m ipvs`: match properties of IPVS (Linux virtual server) connections.

pub use crate::matches::policy::HostMask;
use crate::{Neg, Protocol};
use serde::{Deserialize, Serialize};

/// `--vdir ORIGINAL|REPLY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IpvsDir {
    Original,
    Reply,
}

/// `--vmethod GATE|IPIP|MASQ`: the IPVS forwarding method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IpvsMethod {
    /// Direct routing.
    Gate,
    /// IP-in-IP tunnelling.
    Ipip,
    /// NAT.
    Masq,
}

impl IpvsMethod {
    pub fn name(self) -> &'static str {
        match self {
            IpvsMethod::Gate => "GATE",
            IpvsMethod::Ipip => "IPIP",
            IpvsMethod::Masq => "MASQ",
        }
    }
}

/// `-m ipvs`. At least one option is present; any option other than
/// `--ipvs` implies `--ipvs`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Ipvs {
    /// `--ipvs` (`Some(true)`) / `! --ipvs` (`Some(false)`): the packet
    /// belongs to an IPVS connection. `! --ipvs` stands alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipvs: Option<bool>,
    /// `[!] --vproto PROTO`: protocol of the virtual service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vproto: Option<Neg<Protocol>>,
    /// `[!] --vaddr ADDR[/MASK]`: address of the virtual service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vaddr: Option<Neg<HostMask>>,
    /// `[!] --vport PORT`: port of the virtual service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vport: Option<Neg<u16>>,
    /// `--vdir ORIGINAL|REPLY`: flow direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdir: Option<IpvsDir>,
    /// `[!] --vmethod GATE|IPIP|MASQ`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vmethod: Option<Neg<IpvsMethod>>,
    /// `[!] --vportctl PORT`: virtual port of the controlling connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vportctl: Option<Neg<u16>>,
}
