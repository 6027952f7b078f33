#!/usr/bin/env python3
"""Deterministic inputs for bench/setload.sh.

    python3 bench/setload_gen.py N DIR [SEED]

DIR/nets.txt       N IPv4 networks (/28../32), pairwise disjoint and never
                   adjacent (each in its own even /28 slot of
                   1.0.0.0-223.255.255.255), so the kernel holds exactly N
                   intervals after aggregation.
DIR/nets-1pct.txt  the same list with every 200th line left out and as many
                   new networks (other slots) added: a 1% change.
DIR/addrs.txt      N distinct IPv4 addresses anywhere in 1.0.0.0-223.255.255.255.
DIR/one.txt        one network / address in no list (for add/delete one).
DIR/nets.ipset, DIR/addrs.ipset   the same elements for `ipset restore`.
DIR/empty.txt      an empty list.
"""
import os
import random
import sys


def ip(x):
    return f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}"


def main():
    n = int(sys.argv[1])
    d = sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 20261122
    r = random.Random(seed)
    os.makedirs(d, exist_ok=True)
    lo = 0x01000000 >> 4
    hi = 0xE0000000 >> 4
    # Even /28 slots: never adjacent to each other.
    slots = r.sample(range(lo // 2, hi // 2), n + n // 100 + 2)
    used, extra, spare = slots[:n], slots[n:n + n // 100], slots[n + n // 100:]

    def net(slot):
        base = (slot * 2) << 4
        plen = r.choice((28, 29, 30, 31, 32))
        return f"{ip(base)}/{plen}" if plen < 32 else ip(base)

    nets = [net(s) for s in used]
    with open(f"{d}/nets.txt", "w") as f:
        f.write("\n".join(nets) + "\n")
    changed = [x for i, x in enumerate(nets) if i % 200 != 0]
    changed += [net(s) for s in extra[: len(nets) - len(changed)]]
    with open(f"{d}/nets-1pct.txt", "w") as f:
        f.write("\n".join(changed) + "\n")
    addrs = set()
    while len(addrs) < n:
        addrs.add(r.randrange(0x01000000, 0xE0000000))
    addrs = [ip(a) for a in addrs]
    with open(f"{d}/addrs.txt", "w") as f:
        f.write("\n".join(addrs) + "\n")
    with open(f"{d}/one.txt", "w") as f:
        f.write(ip((spare[0] * 2) << 4) + "/28\n")
    with open(f"{d}/empty.txt", "w") as f:
        f.write("")
    size = max(1 << 20, 2 * n)
    with open(f"{d}/nets.ipset", "w") as f:
        f.write(f"create blocklist hash:net family inet hashsize {size // 4} maxelem {size}\n")
        for x in nets:
            f.write(f"add blocklist {x}\n")
    with open(f"{d}/addrs.ipset", "w") as f:
        f.write(f"create addrs hash:ip family inet hashsize {size // 4} maxelem {size}\n")
        for x in addrs:
            f.write(f"add addrs {x}\n")


if __name__ == "__main__":
    main()
