#!/bin/sh
# Firewall for a small web server.
set -eu

IPT=/sbin/iptables
IP6T="sudo /usr/sbin/ip6tables -w"
ADMIN_NET=198.51.100.0/24
export SSH_PORT=22
WEB_PORTS="80 443"

modprobe ip_conntrack

# Start clean.
$IPT -F
$IPT -X
$IPT -N LOGDROP 2>/dev/null || $IPT -F LOGDROP
$IPT -A LOGDROP -j DROP

$IPT -P INPUT DROP
$IPT -P FORWARD DROP
$IPT -A INPUT -i lo -j ACCEPT
$IPT -A INPUT -p tcp -s "$ADMIN_NET" \
     --dport ${SSH_PORT} \
     -j ACCEPT
sudo $IPT --append INPUT --protocol tcp --dport 80 --jump ACCEPT
sudo iptables -A INPUT -p tcp --dport 443 -j ACCEPT
iptables-nft -I INPUT 1 -p tcp --dport ${HTTP_ALT_PORT:-8080} -j ACCEPT; iptables -A INPUT -j LOGDROP

$IP6T -P INPUT DROP
$IP6T -A INPUT -p tcp --dport 443 -j ACCEPT
ip6tables-legacy -A INPUT -s 2001:db8::/32 -p tcp --dport "$SSH_PORT" -j ACCEPT
/usr/sbin/iptables -t raw -A PREROUTING -p tcp --dport 22 -j ACCEPT

# Kernel settings.
echo 1 > /proc/sys/net/ipv4/tcp_syncookies
echo "0" >> /proc/sys/net/ipv4/ip_forward
sysctl -w net.ipv4.conf.all.rp_filter=1
sysctl -q net/ipv6/conf/all/forwarding=0
echo "Firewall loaded."
exit 0
iptables -A INPUT -j ACCEPT
