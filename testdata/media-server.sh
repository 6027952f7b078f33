#!/bin/sh
# Plex media server on a home box: LAN only, plus remote access on 32400.
IPT=/sbin/iptables
LAN="192.168.1.0/24"
PLEX_UDP="32410:32414"

$IPT -F
$IPT -X
$IPT -P INPUT DROP
$IPT -P FORWARD DROP
$IPT -P OUTPUT ACCEPT

$IPT -A INPUT -i lo -j ACCEPT
$IPT -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
# Plex: web UI and remote access from anywhere
$IPT -A INPUT -p tcp --dport 32400 -j ACCEPT
# Plex discovery (GDM) and DLNA, LAN only
$IPT -A INPUT -s "$LAN" -p udp --dport ${PLEX_UDP} -j ACCEPT
$IPT -A INPUT -s $LAN -p udp --dport 1900 -j ACCEPT
$IPT -A INPUT -s $LAN -p udp -m multiport --dports 5353,32412 -j ACCEPT
$IPT -A INPUT -s $LAN -p tcp -m multiport --dports 3005,8324,32469 \
     -m comment --comment "plex companion and DLNA" -j ACCEPT
# SSH from the LAN only
sudo $IPT -A INPUT -s $LAN -p tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT
$IPT -A INPUT -p icmp --icmp-type echo-request -j ACCEPT
$IPT -A INPUT -j REJECT --reject-with icmp-host-prohibited
