#!/usr/bin/env python3
"""Generates the parse benchmark inputs: a 100k-rule iptables-save file and
the equivalent 100k-line iptables shell script (same rules, same order)."""
import random
import sys

def rules(n, seed=100000):
    r = random.Random(seed)
    out = []
    chains = ["INPUT", "FORWARD", "OUTPUT", "WEB", "SSH", "BLOCK"]
    for i in range(n):
        chain = chains[i % len(chains)]
        a = f"{r.randint(1,223)}.{r.randint(0,255)}.{r.randint(0,255)}.{r.randint(0,255)}/{r.choice([32,32,32,24,16])}"
        kind = i % 10
        if kind == 0:
            body = f"-s {a} -j DROP"
        elif kind == 1:
            body = f"-s {a} -p tcp -m tcp --dport {r.randint(1,65535)} -j ACCEPT"
        elif kind == 2:
            body = f"-p udp -m multiport --dports {r.randint(1,30000)},{r.randint(30001,65535)} -j ACCEPT"
        elif kind == 3:
            body = "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        elif kind == 4:
            body = f"-p tcp -m tcp --dport {r.randint(1,65535)} -m conntrack --ctstate NEW -m limit --limit 5/min --limit-burst 10 -j ACCEPT"
        elif kind == 5:
            body = f"-s {a} -m comment --comment \"rule {i}\" -j REJECT --reject-with icmp-port-unreachable"
        elif kind == 6:
            iface = "-o" if chain == "OUTPUT" else "-i"
            body = f"{iface} eth{r.randint(0,3)} -p icmp -m icmp --icmp-type 8 -j ACCEPT"
        elif kind == 7:
            body = f"-d {a} -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j LOG --log-prefix \"syn {i}: \""
        elif kind == 8:
            body = f"-s {a} -m hashlimit --hashlimit-upto 10/sec --hashlimit-burst 20 --hashlimit-mode srcip --hashlimit-name h{i % 50} -j ACCEPT"
        else:
            body = f"! -s {a} -p tcp -m multiport --dports 80,443,8080 -j RETURN"
        out.append((chain, body))
    return out

def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    save_path, script_path = sys.argv[2], sys.argv[3]
    rs = rules(n)
    with open(save_path, "w") as f:
        f.write("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
        for c in ["WEB", "SSH", "BLOCK"]:
            f.write(f":{c} - [0:0]\n")
        for chain, body in rs:
            f.write(f"-A {chain} {body}\n")
        f.write("COMMIT\n")
    with open(script_path, "w") as f:
        f.write("#!/bin/sh\nIPT=/usr/sbin/iptables\n")
        for c in ["WEB", "SSH", "BLOCK"]:
            f.write(f"$IPT -N {c}\n")
        for chain, body in rs:
            f.write(f"$IPT -A {chain} {body}\n")

if __name__ == "__main__":
    main()
