#!/bin/sh
# Copied from a blog — comments are fine.
iptables –A INPUT -p tcp ––dport 22 —j ACCEPT
iptables -A INPUT -p tcp --dport “8443” -j ‘ACCEPT’
iptables -A INPUT -p tcp --dport 80 -j ACCEPT​
iptables -A INPUT -p tcp --dport 443 −j ACCEPT
iptables -A INPUT -p tcp --dportt 8080 -j ACCEPT
