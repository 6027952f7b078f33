#!/bin/bash
# Block lists kept in ipsets.
ipset create blocklist hash:net family inet hashsize 4096 maxelem 65536 -exist
ipset -N blocklist6 hash:net family inet6
ipset add blocklist 192.0.2.0/24
ipset add blocklist 203.0.113.7 -exist
ipset add blocklist 198.51.100.10-198.51.100.20
ipset -A blocklist6 2001:db8:bad::/48
ipset create web hash:ip,port timeout 3600 comment
ipset add web 192.0.2.80,tcp:80 timeout 60 comment "front end"
ipset add web 192.0.2.53,udp:53

iptables -A INPUT -m set --match-set blocklist src -j DROP
ip6tables -A INPUT -m set --match-set blocklist6 src -j DROP
