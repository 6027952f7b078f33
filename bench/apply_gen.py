#!/usr/bin/env python3
"""Generates the apply benchmark input: an iptables-save file (filter table)
with N rules, fixed seed: per-address drops, port accepts, conntrack and
rate-limited rules, spread over INPUT, FORWARD and two user chains.

    python3 bench/apply_gen.py N OUT.save
"""
import random
import sys


def main():
    n, path = int(sys.argv[1]), sys.argv[2]
    r = random.Random(20261121 + n)
    chains = ["INPUT", "FORWARD", "BLOCK", "SERVICES"]
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]",
             ":OUTPUT ACCEPT [0:0]", ":BLOCK - [0:0]", ":SERVICES - [0:0]",
             "-A INPUT -j BLOCK", "-A INPUT -j SERVICES"]
    for i in range(n - 2):
        chain = chains[i % len(chains)]
        a = f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(0, 255)}"
        kind = i % 10
        if kind < 5:
            # per-address drops (the bulk of real blocklist rulesets)
            body = f"-s {a}/32 -j DROP"
        elif kind == 5:
            body = f"-s {a}/24 -p tcp -m tcp --dport {r.randint(1, 65535)} -j ACCEPT"
        elif kind == 6:
            body = f"-p udp -m udp --dport {r.randint(1, 65535)} -j ACCEPT"
        elif kind == 7:
            body = "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        elif kind == 8:
            body = (f"-p tcp -m tcp --dport {r.randint(1, 65535)} -m conntrack --ctstate NEW "
                    "-m limit --limit 5/min --limit-burst 10 -j ACCEPT")
        else:
            body = f"-d {a}/32 -m conntrack --ctstate INVALID -j DROP"
        lines.append(f"-A {chain} {body}")
    lines.append("COMMIT")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
