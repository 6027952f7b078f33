#!/usr/bin/env python3
"""Deterministic IPv4 lists for bench/cidr.sh.

    python3 bench/cidr_gen.py N A.txt B.txt [SEED]

A.txt: N lines, a blocklist-like mix: 50% hosts packed into 10.0.0.0/8 (so
neighbours merge), 20% hosts and 23% /24../30 networks anywhere in
1.0.0.0-223.255.255.255, 2% /16../23 networks (host bits sometimes left
set), 5% ranges a-b.
B.txt: N/10 lines to subtract: half of them hosts and networks taken from
A, half random /20../28 networks.
"""
import sys


def ip(x):
    return f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}"


def main():
    n = int(sys.argv[1])
    a_path, b_path = sys.argv[2], sys.argv[3]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 20260505
    import random
    r = random.Random(seed)
    bits = r.getrandbits
    lo, span = 0x01000000, 0xE0000000 - 0x01000000
    a_lines = []
    for _ in range(n):
        k = bits(7) % 100
        if k < 50:
            a_lines.append(ip(0x0A000000 | bits(24)))
        elif k < 70:
            a_lines.append(ip(lo + bits(32) % span))
        elif k < 93:
            plen = 24 + bits(3) % 7
            x = (lo + bits(32) % span) & ~((1 << (32 - plen)) - 1) & 0xFFFFFFFF
            a_lines.append(f"{ip(x)}/{plen}")
        elif k < 95:
            plen = 16 + bits(3)
            x = lo + bits(32) % span
            if bits(1):
                x &= ~((1 << (32 - plen)) - 1) & 0xFFFFFFFF
            a_lines.append(f"{ip(x)}/{plen}")
        else:
            x = lo + bits(32) % span
            y = min(x + bits(12), 0xFFFFFFFF)
            a_lines.append(f"{ip(x)}-{ip(y)}")
    with open(a_path, "w") as f:
        f.write("\n".join(a_lines))
        f.write("\n")
    b_lines = []
    for i in range(max(n // 10, 1)):
        if i % 2 == 0:
            b_lines.append(a_lines[bits(32) % n])
        else:
            plen = 20 + bits(4) % 9
            x = (lo + bits(32) % span) & ~((1 << (32 - plen)) - 1) & 0xFFFFFFFF
            b_lines.append(f"{ip(x)}/{plen}")
    with open(b_path, "w") as f:
        f.write("\n".join(b_lines))
        f.write("\n")


if __name__ == "__main__":
    main()
