#!/usr/bin/env python3
"""Writes a synthetic capture for `rampart replay` and its benchmark.

    python3 bench/replay_gen.py OUT.pcap [--bytes N] [--packets N]
                                [--format pcap|pcapng] [--seed S]

Traffic of a small web/mail server (server 198.51.100.10 and 2001:db8:10::10,
Ethernet frames, a quarter of the flows over IPv6), fixed seed so every run
writes the same file:

* TCP sessions from many clients to 22/25/80/443: handshake, data both
  ways (payloads up to 1400 bytes), FIN/ACK close; a few end with RST;
* DNS over UDP: query to 53 and the answer;
* ICMP/ICMPv6 echo request and reply; port-unreachable errors quoting a
  UDP packet to a closed port;
* scanners: SYNs from random sources to random ports (no answer), and
  stray ACKs with no connection.

Stops after --bytes (default 1 GiB) or --packets, whichever comes first.
Packets are built from templates with struct, so 1 GiB takes about a
minute.
"""
import argparse
import random
import struct
import sys

SERVER4 = bytes([198, 51, 100, 10])
SERVER6 = bytes.fromhex("20010db8001000000000000000000010")
MAC_S = bytes.fromhex("020000000001")
MAC_C = bytes.fromhex("020000000002")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return b"\x08\x00", h + payload


def ip6(src, dst, proto, payload):
    h = struct.pack("!IHBB16s16s", 0x60000000, len(payload), proto, 64, src, dst)
    return b"\x86\xdd", h + payload


def l4sum(src, dst, proto, seg):
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(seg))
    else:
        pseudo = src + dst + struct.pack("!IxxxB", len(seg), proto)
    return csum(pseudo + seg)


def tcp(src, dst, sp, dp, flags, seq, ack, payload=b""):
    seg = struct.pack("!HHIIBBHHH", sp, dp, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 64240, 0, 0) + payload
    c = l4sum(src, dst, 6, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sp, dp, payload):
    seg = struct.pack("!HHHH", sp, dp, 8 + len(payload), 0) + payload
    c = l4sum(src, dst, 17, seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp(src, dst, ty, code, rest, payload):
    v6 = len(src) == 16
    seg = struct.pack("!BBH", ty, code, 0) + rest + payload
    c = l4sum(src, dst, 58, seg) if v6 else csum(seg)
    return seg[:2] + struct.pack("!H", c) + seg[4:]


def frame(src, dst, proto, seg, to_server):
    et, ip = (ip4 if len(src) == 4 else ip6)(src, dst, proto, seg)
    macs = MAC_S + MAC_C if to_server else MAC_C + MAC_S
    return macs + et + ip


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def client(self, v6):
        r = self.r
        if v6:
            return bytes.fromhex("20010db8") + bytes([0, r.randrange(256)]) + r.randbytes(10)
        return bytes([r.choice([192, 203, 100, 45, 81]), r.randrange(256), r.randrange(256), r.randrange(1, 255)])

    def session(self):
        """One conversation: a list of frames."""
        r = self.r
        v6 = r.random() < 0.25
        srv = SERVER6 if v6 else SERVER4
        c = self.client(v6)
        kind = r.random()
        sp = r.randrange(1024, 65535)
        out = []
        if kind < 0.62:
            dp = r.choice([443, 443, 443, 80, 80, 22, 25])
            a, b = r.randrange(1 << 32), r.randrange(1 << 32)
            out.append(frame(c, srv, 6, tcp(c, srv, sp, dp, 0x02, a, 0), True))
            out.append(frame(srv, c, 6, tcp(srv, c, dp, sp, 0x12, b, a + 1), False))
            a += 1
            b += 1
            out.append(frame(c, srv, 6, tcp(c, srv, sp, dp, 0x10, a, b), True))
            for _ in range(r.randrange(2, 14)):
                if r.random() < 0.35:
                    pl = r.randbytes(r.randrange(40, 600))
                    out.append(frame(c, srv, 6, tcp(c, srv, sp, dp, 0x18, a, b, pl), True))
                    a += len(pl)
                else:
                    pl = r.randbytes(r.randrange(600, 1400))
                    out.append(frame(srv, c, 6, tcp(srv, c, dp, sp, 0x18, b, a, pl), False))
                    b += len(pl)
            if r.random() < 0.9:
                out.append(frame(c, srv, 6, tcp(c, srv, sp, dp, 0x11, a, b), True))
                out.append(frame(srv, c, 6, tcp(srv, c, dp, sp, 0x11, b, a + 1), False))
                out.append(frame(c, srv, 6, tcp(c, srv, sp, dp, 0x10, a + 1, b + 1), True))
            else:
                out.append(frame(c, srv, 6, tcp(c, srv, sp, dp, 0x04, a, 0), True))
        elif kind < 0.77:
            q = r.randbytes(r.randrange(30, 60))
            out.append(frame(c, srv, 17, udp(c, srv, sp, 53, q), True))
            out.append(frame(srv, c, 17, udp(srv, c, 53, sp, q + r.randbytes(r.randrange(16, 400))), False))
        elif kind < 0.84:
            ident = r.randrange(65536)
            req, rep = (128, 129) if v6 else (8, 0)
            pl = r.randbytes(56)
            for seq in range(r.randrange(1, 4)):
                rest = struct.pack("!HH", ident, seq)
                out.append(frame(c, srv, 58 if v6 else 1, icmp(c, srv, req, 0, rest, pl), True))
                out.append(frame(srv, c, 58 if v6 else 1, icmp(srv, c, rep, 0, rest, pl), False))
        elif kind < 0.88:
            dp = r.randrange(1024, 65535)
            q = udp(c, srv, sp, dp, r.randbytes(20))
            _, inner = (ip4 if not v6 else ip6)(c, srv, 17, q)
            out.append(frame(c, srv, 17, q, True))
            ty, code = (1, 4) if v6 else (3, 3)
            out.append(frame(srv, c, 58 if v6 else 1, icmp(srv, c, ty, code, b"\0\0\0\0", inner[:548]), False))
        elif kind < 0.97:
            for _ in range(r.randrange(1, 20)):
                out.append(frame(c, srv, 6, tcp(c, srv, sp, r.randrange(1, 65535), 0x02, r.randrange(1 << 32), 0), True))
        else:
            out.append(frame(c, srv, 6, tcp(c, srv, sp, 443, 0x10, r.randrange(1 << 32), r.randrange(1 << 32)), True))
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--bytes", type=int, default=1 << 30)
    ap.add_argument("--packets", type=int, default=0)
    ap.add_argument("--format", choices=["pcap", "pcapng"], default="pcap")
    ap.add_argument("--seed", type=int, default=4)
    a = ap.parse_args()
    g = Gen(a.seed)
    ts = 1_700_000_000 * 1_000_000  # microseconds
    written = 0
    count = 0
    live = []  # interleave a few conversations
    with open(a.out, "wb") as f:
        if a.format == "pcap":
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        else:
            shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
            f.write(struct.pack("<II", 0x0A0D0D0A, 12 + len(shb)) + shb + struct.pack("<I", 12 + len(shb)))
            idb = struct.pack("<HHI", 1, 0, 262144)
            f.write(struct.pack("<II", 1, 12 + len(idb)) + idb + struct.pack("<I", 12 + len(idb)))
        buf = []
        while written < a.bytes and (a.packets == 0 or count < a.packets):
            while len(live) < 8:
                live.append(g.session())
            i = g.r.randrange(len(live))
            pkt = live[i].pop(0)
            if not live[i]:
                live.pop(i)
            ts += g.r.randrange(1, 400)
            if a.format == "pcap":
                rec = struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(pkt), len(pkt)) + pkt
            else:
                pad = (-len(pkt)) % 4
                blen = 32 + len(pkt) + pad
                rec = (struct.pack("<IIIIIII", 6, blen, 0, ts >> 32, ts & 0xFFFFFFFF, len(pkt), len(pkt))
                       + pkt + b"\0" * pad + struct.pack("<I", blen))
            buf.append(rec)
            written += len(rec)
            count += 1
            if len(buf) >= 4096:
                f.write(b"".join(buf))
                buf.clear()
        f.write(b"".join(buf))
    print(f"{a.out}: {count} packets, {written} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
