//! Targets (`-j NAME ...`): the standard verdicts, jumps to user chains, and
//! one module per target extension.

use serde::{Deserialize, Serialize};

pub mod audit;
pub mod checksum;
pub mod classify;
pub mod connmark;
pub mod connsecmark;
pub mod ct;
pub mod dnat;
pub mod dnpt;
pub mod dscp;
pub mod ecn;
pub mod hl;
pub mod hmark;
pub mod idletimer;
pub mod led;
pub mod log;
pub mod mark;
pub mod masquerade;
pub mod netmap;
pub mod nflog;
pub mod nfqueue;
pub mod notrack;
pub mod rateest;
pub mod redirect;
pub mod reject;
pub mod secmark;
pub mod set;
pub mod snat;
pub mod snpt;
pub mod synproxy;
pub mod tcpmss;
pub mod tcpoptstrip;
pub mod tee;
pub mod tos;
pub mod tproxy;
pub mod trace;
pub mod ttl;

/// What a rule does when it matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "lowercase")]
pub enum Target {
    Accept,
    Drop,
    Return,
    /// `-j QUEUE` (legacy userspace queue 0).
    Queue,
    /// `-j CHAIN`: call a user chain; RETURN comes back.
    Jump {
        chain: String,
    },
    /// `-g CHAIN`: continue in a user chain; RETURN goes to the caller's caller.
    Goto {
        chain: String,
    },
    Reject(reject::Reject),
    Log(log::Log),
    Nflog(nflog::Nflog),
    Snat(snat::Snat),
    Dnat(dnat::Dnat),
    Masquerade(masquerade::Masquerade),
    Redirect(redirect::Redirect),
    Netmap(netmap::Netmap),
    Nfqueue(nfqueue::Nfqueue),
    Tproxy(tproxy::Tproxy),
    Tee(tee::Tee),
    Dnpt(dnpt::Dnpt),
    Snpt(snpt::Snpt),
    Synproxy(synproxy::Synproxy),
    Audit(audit::Audit),
    Mark(mark::Mark),
    Connmark(connmark::Connmark),
    Ct(ct::Ct),
    Notrack(notrack::Notrack),
    Tcpmss(tcpmss::Tcpmss),
    SetTarget(set::SetTarget),
    Trace(trace::Trace),
    Tos(tos::Tos),
    Dscp(dscp::Dscp),
    Ttl(ttl::Ttl),
    Hl(hl::Hl),
    Classify(classify::Classify),
    Checksum(checksum::Checksum),
    Secmark(secmark::Secmark),
    Connsecmark(connsecmark::Connsecmark),
    Hmark(hmark::Hmark),
    Idletimer(idletimer::Idletimer),
    Led(led::Led),
    Tcpoptstrip(tcpoptstrip::Tcpoptstrip),
    Ecn(ecn::Ecn),
    Rateest(rateest::Rateest),
}

impl Target {
    /// The name as written after `-j` (the chain name for jumps and gotos).
    pub fn name(&self) -> &str {
        match self {
            Target::Accept => "ACCEPT",
            Target::Drop => "DROP",
            Target::Return => "RETURN",
            Target::Queue => "QUEUE",
            Target::Jump { chain } | Target::Goto { chain } => chain,
            Target::Reject(_) => "REJECT",
            Target::Log(_) => "LOG",
            Target::Nflog(_) => "NFLOG",
            Target::Snat(_) => "SNAT",
            Target::Dnat(_) => "DNAT",
            Target::Masquerade(_) => "MASQUERADE",
            Target::Redirect(_) => "REDIRECT",
            Target::Netmap(_) => "NETMAP",
            Target::Nfqueue(_) => "NFQUEUE",
            Target::Tproxy(_) => "TPROXY",
            Target::Tee(_) => "TEE",
            Target::Dnpt(_) => "DNPT",
            Target::Snpt(_) => "SNPT",
            Target::Synproxy(_) => "SYNPROXY",
            Target::Audit(_) => "AUDIT",
            Target::Mark(_) => "MARK",
            Target::Connmark(_) => "CONNMARK",
            Target::Ct(_) => "CT",
            Target::Notrack(_) => "NOTRACK",
            Target::Tcpmss(_) => "TCPMSS",
            Target::SetTarget(_) => "SET",
            Target::Trace(_) => "TRACE",
            Target::Tos(_) => "TOS",
            Target::Dscp(_) => "DSCP",
            Target::Ttl(_) => "TTL",
            Target::Hl(_) => "HL",
            Target::Classify(_) => "CLASSIFY",
            Target::Checksum(_) => "CHECKSUM",
            Target::Secmark(_) => "SECMARK",
            Target::Connsecmark(_) => "CONNSECMARK",
            Target::Hmark(_) => "HMARK",
            Target::Idletimer(_) => "IDLETIMER",
            Target::Led(_) => "LED",
            Target::Tcpoptstrip(_) => "TCPOPTSTRIP",
            Target::Ecn(_) => "ECN",
            Target::Rateest(_) => "RATEEST",
        }
    }

    /// Does this target end the packet's traversal of the table?
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Target::Accept
                | Target::Drop
                | Target::Queue
                | Target::Reject(_)
                | Target::Snat(_)
                | Target::Dnat(_)
                | Target::Masquerade(_)
                | Target::Redirect(_)
                | Target::Netmap(_)
                | Target::Nfqueue(_)
                | Target::Tproxy(_)
                | Target::Synproxy(_)
        )
    }
}
