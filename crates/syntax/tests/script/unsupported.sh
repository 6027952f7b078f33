#!/bin/bash
IPT=iptables
for port in 22 80 443; do
  $IPT -A INPUT -p tcp --dport $port -j ACCEPT
done
$IPT -A INPUT -p tcp --dport 25 -j ACCEPT
if [ -x /sbin/ipset ]; then
  ipset create x hash:ip
fi
setup() {
  $IPT -F
}
MYIP=$(hostname -I)
$IPT -A INPUT -d $MYIP -j ACCEPT
$IPT -A INPUT -s `cat /etc/admin` -j ACCEPT
$IPT -A INPUT -p tcp --dport $SMTP_PORT -j ACCEPT
iptables-save | grep DROP
iptables-restore < /etc/iptables/rules.v4
ipset restore < /etc/ipset.conf
case "$1" in
  start) $IPT -F ;;
esac
$IPT -A INPUT -p tcp --dportt 22 -j ACCEPT
ipset add nosuch 192.0.2.1
source /etc/default/firewall
while true; do sleep 1; done
cat <<EOT
iptables -A INPUT -j DROP
EOT
$IPT -A INPUT -p tcp --dport 2222 -j ACCEPT
