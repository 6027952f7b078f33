//! Shell scripts of iptables/ip6tables/ipset commands. PLACEHOLDER (S1).
