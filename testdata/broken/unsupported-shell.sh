#!/bin/bash
# Loops, functions and command substitution are not imported: each is named.
IPT=iptables
WAN=$(ip route | awk '/default/ {print $5}')
for port in 80 443; do
  $IPT -A INPUT -p tcp --dport $port -j ACCEPT
done
allow() { $IPT -A INPUT -s "$1" -j ACCEPT; }
$IPT -A INPUT -i $LAN_IF -j ACCEPT
$IPT -A INPUT -p tcp --dport 22 -j ACCEPT
$IPT -Z INPUT 7 8
