//! Match extensions (`-m NAME ...`), one module per extension, each a typed
//! model of what iptables-save can print for it.

use serde::{Deserialize, Serialize};

pub mod addrtype;
pub mod ah;
pub mod bpf;
pub mod cgroup;
pub mod cluster;
pub mod comment;
pub mod connbytes;
pub mod connlabel;
pub mod connlimit;
pub mod connmark;
pub mod conntrack;
pub mod cpu;
pub mod dccp;
pub mod devgroup;
pub mod dscp;
pub mod dst;
pub mod ecn;
pub mod esp;
pub mod eui64;
pub mod frag;
pub mod hashlimit;
pub mod hbh;
pub mod helper;
pub mod hl;
pub mod icmp;
pub mod icmp6;
pub mod ipcomp;
pub mod iprange;
pub mod ipv6header;
pub mod ipvs;
pub mod length;
pub mod limit;
pub mod mac;
pub mod mark;
pub mod mh;
pub mod multiport;
pub mod nfacct;
pub mod osf;
pub mod owner;
pub mod physdev;
pub mod pkttype;
pub mod policy;
pub mod quota;
pub mod rateest;
pub mod realm;
pub mod recent;
pub mod rpfilter;
pub mod rt;
pub mod sctp;
pub mod set;
pub mod socket;
pub mod srh;
pub mod state;
pub mod statistic;
pub mod string;
pub mod tcp;
pub mod tcpmss;
pub mod time;
pub mod tos;
pub mod ttl;
pub mod u32;
pub mod udp;

/// One `-m NAME ...` match of a rule, in rule order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "match", rename_all = "lowercase")]
pub enum Match {
    Tcp(tcp::Tcp),
    Udp(udp::Udp),
    Sctp(sctp::Sctp),
    Dccp(dccp::Dccp),
    Multiport(multiport::Multiport),
    Icmp(icmp::Icmp),
    Icmp6(icmp6::Icmp6),
    Esp(esp::Esp),
    Ah(ah::Ah),
    State(state::State),
    Conntrack(conntrack::Conntrack),
    Helper(helper::Helper),
    Ipcomp(ipcomp::Ipcomp),
    Mh(mh::Mh),
    Frag(frag::Frag),
    Hbh(hbh::Hbh),
    Dst(dst::Dst),
    Rt(rt::Rt),
    Ipv6Header(ipv6header::Ipv6Header),
    Srh(srh::Srh),
    Eui64(eui64::Eui64),
    Limit(limit::Limit),
    Hashlimit(hashlimit::Hashlimit),
    Connlimit(connlimit::Connlimit),
    Recent(recent::Recent),
    Comment(comment::Comment),
    SetMatch(set::SetMatch),
    Connbytes(connbytes::Connbytes),
    Quota(quota::Quota),
    Statistic(statistic::Statistic),
    StringMatch(string::StringMatch),
    Time(time::Time),
    Nfacct(nfacct::Nfacct),
    Rateest(rateest::Rateest),
    U32(u32::U32),
    Bpf(bpf::Bpf),
    Cluster(cluster::Cluster),
    Connlabel(connlabel::Connlabel),
    Iprange(iprange::Iprange),
    Addrtype(addrtype::Addrtype),
    Mac(mac::Mac),
    Mark(mark::Mark),
    Connmark(connmark::Connmark),
    Length(length::Length),
    Ttl(ttl::Ttl),
    Hl(hl::Hl),
    Pkttype(pkttype::Pkttype),
    Owner(owner::Owner),
    Physdev(physdev::Physdev),
    Tos(tos::Tos),
    Dscp(dscp::Dscp),
    Ecn(ecn::Ecn),
    Tcpmss(tcpmss::Tcpmss),
    Devgroup(devgroup::Devgroup),
    Cpu(cpu::Cpu),
    Socket(socket::Socket),
    Rpfilter(rpfilter::Rpfilter),
    Cgroup(cgroup::Cgroup),
    Realm(realm::Realm),
    IpsecPolicy(policy::IpsecPolicy),
    Ipvs(ipvs::Ipvs),
    Osf(osf::Osf),
}

impl Match {
    /// The extension name as written after `-m`.
    pub fn name(&self) -> &'static str {
        match self {
            Match::Tcp(_) => "tcp",
            Match::Udp(_) => "udp",
            Match::Sctp(_) => "sctp",
            Match::Dccp(_) => "dccp",
            Match::Multiport(_) => "multiport",
            Match::Icmp(_) => "icmp",
            Match::Icmp6(_) => "icmp6",
            Match::Esp(_) => "esp",
            Match::Ah(_) => "ah",
            Match::State(_) => "state",
            Match::Conntrack(_) => "conntrack",
            Match::Helper(_) => "helper",
            Match::Ipcomp(_) => "ipcomp",
            Match::Mh(_) => "mh",
            Match::Frag(_) => "frag",
            Match::Hbh(_) => "hbh",
            Match::Dst(_) => "dst",
            Match::Rt(_) => "rt",
            Match::Ipv6Header(_) => "ipv6header",
            Match::Srh(_) => "srh",
            Match::Eui64(_) => "eui64",
            Match::Limit(_) => "limit",
            Match::Hashlimit(_) => "hashlimit",
            Match::Connlimit(_) => "connlimit",
            Match::Recent(_) => "recent",
            Match::Comment(_) => "comment",
            Match::SetMatch(_) => "set",
            Match::Connbytes(_) => "connbytes",
            Match::Quota(_) => "quota",
            Match::Statistic(_) => "statistic",
            Match::StringMatch(_) => "string",
            Match::Time(_) => "time",
            Match::Nfacct(_) => "nfacct",
            Match::Rateest(_) => "rateest",
            Match::U32(_) => "u32",
            Match::Bpf(_) => "bpf",
            Match::Cluster(_) => "cluster",
            Match::Connlabel(_) => "connlabel",
            Match::Iprange(_) => "iprange",
            Match::Addrtype(_) => "addrtype",
            Match::Mac(_) => "mac",
            Match::Mark(_) => "mark",
            Match::Connmark(_) => "connmark",
            Match::Length(_) => "length",
            Match::Ttl(_) => "ttl",
            Match::Hl(_) => "hl",
            Match::Pkttype(_) => "pkttype",
            Match::Owner(_) => "owner",
            Match::Physdev(_) => "physdev",
            Match::Tos(_) => "tos",
            Match::Dscp(_) => "dscp",
            Match::Ecn(_) => "ecn",
            Match::Tcpmss(_) => "tcpmss",
            Match::Devgroup(_) => "devgroup",
            Match::Cpu(_) => "cpu",
            Match::Socket(_) => "socket",
            Match::Rpfilter(_) => "rpfilter",
            Match::Cgroup(_) => "cgroup",
            Match::Realm(_) => "realm",
            Match::IpsecPolicy(_) => "policy",
            Match::Ipvs(_) => "ipvs",
            Match::Osf(_) => "osf",
        }
    }
}
