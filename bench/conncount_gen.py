#!/usr/bin/env python3
"""Writes N conntrack -L lines (fixed seed) for bench/conncount.sh: TCP in
several states (a share in SYN_RECV), UDP and ICMP, IPv4 and IPv6 sources
with a skewed distribution (a few heavy sources, a long tail), and a few
garbage lines that the parser must skip.

    python3 bench/conncount_gen.py N OUT
"""
import random
import sys

n = int(sys.argv[1])
out = sys.argv[2]
rng = random.Random(6)
states = ["ESTABLISHED"] * 6 + ["SYN_RECV", "TIME_WAIT", "FIN_WAIT", "CLOSE_WAIT", "SYN_SENT"]
heavy = ["203.0.113.%d" % i for i in range(1, 40)]
tail4 = ["%d.%d.%d.%d" % (rng.randrange(1, 224), rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
         for _ in range(60000)]
tail6 = ["2001:db8:%x:%x::%x" % (rng.randrange(65536), rng.randrange(65536), rng.randrange(1, 65536))
         for _ in range(10000)]
with open(out, "w") as f:
    for i in range(n):
        r = rng.random()
        if r < 0.2:
            src = rng.choice(heavy)
        elif r < 0.9:
            src = rng.choice(tail4)
        else:
            src = rng.choice(tail6)
        dst = "10.0.0.1" if ":" not in src else "2001:db8::1"
        sport = rng.randrange(1024, 65536)
        kind = rng.random()
        if i % 100000 == 99999:
            f.write("garbage line without fields\n")
        if kind < 0.85:
            st = rng.choice(states)
            dport = rng.choice([22, 80, 443, 443, 443, 25])
            f.write("tcp      6 %d %s src=%s dst=%s sport=%d dport=%d src=%s dst=%s sport=%d dport=%d [ASSURED] mark=0 use=1\n"
                    % (rng.randrange(1, 432000), st, src, dst, sport, dport, dst, src, dport, sport))
        elif kind < 0.97:
            f.write("udp      17 %d src=%s dst=%s sport=%d dport=53 src=%s dst=%s sport=53 dport=%d mark=0 use=1\n"
                    % (rng.randrange(1, 180), src, dst, sport, dst, src, sport))
        else:
            proto = "icmp     1" if ":" not in src else "icmpv6   58"
            f.write("%s 29 src=%s dst=%s type=8 code=0 id=%d src=%s dst=%s type=0 code=0 id=%d mark=0 use=1\n"
                    % (proto, src, dst, sport, dst, src, sport))
