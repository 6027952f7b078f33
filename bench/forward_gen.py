#!/usr/bin/env python3
"""Generates the forwarding benchmark input: an iptables-save file (filter
table) whose FORWARD chain holds N per-address DROP rules (`-s A/32 -j DROP`,
distinct addresses, fixed seed). No address lies in 10.0.0.0/8, so none of
them matches the benchmark's traffic (10.201.1.0/24 <-> 10.201.2.0/24): every
forwarded packet walks the whole chain and is accepted by the policy.

    python3 bench/forward_gen.py N OUT.save
"""
import random
import sys


def main():
    n, path = int(sys.argv[1]), sys.argv[2]
    r = random.Random(20261203 + n)
    seen = set()
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
             ":OUTPUT ACCEPT [0:0]"]
    while len(seen) < n:
        first = r.randint(1, 223)
        if first in (10, 127):
            continue
        a = f"{first}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        if a in seen:
            continue
        seen.add(a)
        lines.append(f"-A FORWARD -s {a}/32 -j DROP")
    lines.append("COMMIT")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
