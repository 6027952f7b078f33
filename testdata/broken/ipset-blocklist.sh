#!/bin/sh
# An ipset blocklist script with the usual slips.
ipset create blocklist hash:net family inet
ipset add blocklist 198.51.100.0/33
ipset add blocklist 2001:db8::/32
ipset add blocklst 203.0.113.0/24
ipset create ports bitmap:port range 1024-65535
ipset add ports 80
ipset create pairs hash:ip,port
ipset add pairs 192.0.2.1
iptables -A INPUT -m set --match-set blocklist src -j DROP
iptables -A INPUT -m set --match-set blocklist src,dst,src,dst -j DROP
