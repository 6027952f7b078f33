#!/bin/bash
# Country and abuse blocklists kept in ipset, referenced from iptables.
set -e

ipset -exist create blocklist_v4 hash:net family inet hashsize 4096 maxelem 200000
ipset -exist create blocklist_v6 hash:net family inet6 hashsize 1024 maxelem 65536
ipset -exist create banned hash:ip family inet timeout 3600
ipset -exist create allow_ssh hash:ip,port family inet

ipset add blocklist_v4 198.51.100.0/24 -exist
ipset add blocklist_v4 203.0.113.0/25 -exist
ipset add blocklist_v4 192.0.2.77 -exist
ipset add blocklist_v6 2001:db8:bad::/48 -exist
ipset add banned 192.0.2.200 timeout 600 -exist
ipset add allow_ssh 10.1.2.3,tcp:22 -exist

iptables -I INPUT 1 -m set --match-set blocklist_v4 src -j DROP
iptables -I INPUT 2 -m set --match-set banned src -j DROP
ip6tables -I INPUT 1 -m set --match-set blocklist_v6 src -j DROP
iptables -A INPUT -p tcp --dport 22 -m set --match-set allow_ssh src,dst -j ACCEPT
iptables -A INPUT -p tcp --dport 22 -j SET --add-set banned src --exist --timeout 3600
iptables -A INPUT -p tcp --dport 22 -j DROP

echo 1 > /proc/sys/net/ipv4/tcp_syncookies
sysctl -w net.ipv4.conf.all.rp_filter=1
