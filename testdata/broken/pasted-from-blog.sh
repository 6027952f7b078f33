#!/bin/sh
# Copied from a blog post: the dashes and quotes were "improved" by the CMS.
iptables -A INPUT -p tcp –dport 22 -j ACCEPT
iptables -A INPUT -m comment —comment “web traffic” -p tcp --dport 80 -j ACCEPT
iptables -A INPUT -p tcp --dport 443 -j ACCEPT
iptables -P INPUT DROP
